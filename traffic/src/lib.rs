//! Traffic from the outside world. A team's access logs and traces are
//! read into plain [`trace::Request`]s (common and combined log format,
//! CSV/TSV with named columns, JSON lines; plain, gzip or zstd), and
//! [`fit`] finds in them what a scenario's `[traffic]` says: the arrival
//! rate per time bucket, page popularity (a Zipf exponent by maximum
//! likelihood, with how well it fits), and sessions.
//!
//! Apart from the scenario model on purpose: reading files of unknown
//! shape and fitting distributions is work the simulator and the real runs
//! never do per request.

pub mod fit;
pub mod trace;
