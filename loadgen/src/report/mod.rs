//! Report assembly, the one place that turns what a run recorded and
//! counted into the report: real runs ([`crate::run`]), runs against an
//! external origin and the simulator ([`crate::sim`]) all build their
//! reports here, so a measure is derived the same way whichever produced it.
//!
//! - [`run_report`]: the whole run (mode, scenario, markers, architectures);
//! - [`arch_report`]: one architecture, from its [`Recorder`](crate::record::Recorder);
//! - a caching layer's part: [`ttlab_reports::LayerReport::new`] from its
//!   counts, and the store-outage warning ([`layer`]);
//! - [`series`]: the per-second series (bounded for long runs).

mod arch;
mod layer;
mod series;
mod whole;

pub(crate) use arch::{Cpu, arch_report};
pub(crate) use whole::{RunHeader, run_report};
