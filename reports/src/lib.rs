//! The report model and its renderers (JSON, Markdown, HTML, `JUnit`),
//! thresholds and comparison of runs.
//!
//! Not built yet: this crate is the home of issue 9. It depends on nothing
//! but the report model, so it stays usable on saved reports.
