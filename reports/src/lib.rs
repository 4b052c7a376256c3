//! The report model — one for real and simulated runs — and, later, its
//! renderers (Markdown, HTML, `JUnit`), thresholds and comparison (issue 9).
//!
//! A report is plain data: it depends on nothing but serde, so saved reports
//! stay readable by any later ttlab. `SCHEMA_VERSION` goes up with every
//! change a reader must know about; `docs/report-format.md` describes it.

pub mod model;

pub use model::*;
