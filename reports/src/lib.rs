//! The report model — one for real and simulated runs — and what is made
//! of it: the CI gate (thresholds), timeline markers, renderers (Markdown,
//! self-contained HTML with charts, `JUnit` XML), comparison of two reports
//! and TTL advice from a sweep; the exact merge of several load
//! machines' reports.
//!
//! `SCHEMA_VERSION` goes up with every change a reader must know about;
//! `docs/report-format.md` describes the JSON.

pub mod advise;
pub mod compare;
pub mod gate;
pub mod hdr;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod markers;
pub mod merge;
pub mod model;
pub mod series;
pub mod verdict;

pub use model::*;
