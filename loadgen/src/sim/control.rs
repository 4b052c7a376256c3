//! What a watcher shares with a running simulation: progress, stop, pause
//! and the live sink. Apart from `mod.rs`, so the engine reads it without
//! importing its parent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::live::Live;

/// What a watcher shares with a running simulation: how far it got, a
/// request to stop (Ctrl-C, the dashboard's `q`), a pause (the dashboard's
/// `p`) and, optionally, a [`Live`] sink for one frame per virtual second.
#[derive(Debug, Default)]
pub struct SimControl {
    /// Virtual µs simulated so far; the engine adds to it as it goes.
    pub(super) progress: AtomicU64,
    stop: AtomicBool,
    pause: AtomicBool,
    live: Option<Arc<Live>>,
}

impl SimControl {
    /// A control whose simulation publishes a frame per virtual second of
    /// each architecture (not of sweep points) into `live`.
    pub fn with_live(live: Arc<Live>) -> Self {
        SimControl {
            live: Some(live),
            ..SimControl::default()
        }
    }

    /// The live sink, if one is attached.
    pub fn live(&self) -> Option<&Arc<Live>> {
        self.live.as_ref()
    }

    /// Pauses the simulation (it waits at its next check, every 4,096
    /// events) or resumes it.
    pub fn set_paused(&self, paused: bool) {
        self.pause.store(paused, Ordering::Relaxed);
    }

    /// Whether the simulation is asked to wait.
    pub fn paused(&self) -> bool {
        self.pause.load(Ordering::Relaxed)
    }

    /// Virtual microseconds simulated so far, over every architecture and
    /// sweep point (see [`work`](super::work) for the total).
    pub fn progress_us(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Asks the simulation to stop soon; its report holds what ran.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was asked for.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
