//! What a real run tells its caller as it goes.

use std::sync::Arc;
use std::time::Duration;

use ttlab_reports::ArchReport;
use ttlab_scenarios::model::Architecture;

use crate::live::Live;

/// Progress of a run, for the command line.
pub trait Progress: Send + Sync {
    /// An architecture starts.
    fn start(&self, arch: Architecture, duration: Duration);
    /// An architecture is done.
    fn done(&self, report: &ArchReport);
    /// A run against an external origin starts.
    fn start_target(&self, _target: &str, _duration: Duration) {}
    /// Something the user should know before the numbers come (it is also
    /// in the report's warnings).
    fn warn(&self, _message: &str) {}
    /// Where to publish a frame per second of each architecture (the
    /// dashboard, a plain progress line); `None` publishes nothing.
    fn live(&self) -> Option<Arc<Live>> {
        None
    }
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: Architecture, _: Duration) {}
    fn done(&self, _: &ArchReport) {}
}
