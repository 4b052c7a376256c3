//! The shared sink a run pushes its seconds into, and its watcher and
//! metrics read them from.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::frame::Frame;
use super::openmetrics::LiveMetrics;

/// The shared sink between a run and its watcher. Cheap to push into (a
/// mutex taken once per second per architecture), drained by the watcher.
#[derive(Debug)]
pub struct Live {
    frames: Mutex<Vec<Frame>>,
    /// Whether frames are kept for [`Live::take`]: not when no watcher
    /// drains them (only the metrics read them), or they would pile up.
    keep: bool,
    /// The OpenMetrics export, fed each frame as it is pushed.
    metrics: Option<Arc<LiveMetrics>>,
    /// Index + 1 of the architecture running now (0: none yet).
    current: AtomicUsize,
    finished: AtomicBool,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            frames: Mutex::default(),
            keep: true,
            metrics: None,
            current: AtomicUsize::default(),
            finished: AtomicBool::default(),
        }
    }
}

impl Live {
    /// A sink with nothing in it, for a watcher that drains it.
    pub fn new() -> Self {
        Live::default()
    }

    /// The sink also feeds `metrics`; with `watched` false, nothing drains
    /// it, so frames go to the metrics only.
    #[must_use]
    pub fn with_metrics(self, metrics: Arc<LiveMetrics>, watched: bool) -> Self {
        Live {
            keep: watched,
            metrics: Some(metrics),
            ..self
        }
    }

    /// Publishes one second.
    pub fn push(&self, frame: Frame) {
        if let Some(m) = &self.metrics {
            m.observe(&frame);
        }
        if self.keep {
            self.frames.lock().expect("live frames").push(frame);
        }
    }

    /// Takes every frame published since the last call, oldest first.
    pub fn take(&self) -> Vec<Frame> {
        std::mem::take(&mut *self.frames.lock().expect("live frames"))
    }

    /// Architecture `arch` (its index in the run's list) starts.
    pub fn start_arch(&self, arch: usize) {
        self.current.store(arch + 1, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.start_arch(arch);
        }
    }

    /// The architecture running now, if one started.
    pub fn current_arch(&self) -> Option<usize> {
        self.current.load(Ordering::Relaxed).checked_sub(1)
    }

    /// The run is over (finished or stopped): no more frames will come.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.finish();
        }
    }

    /// Whether [`Live::finish`] was called.
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::openmetrics;

    #[test]
    fn frames_are_taken_once_in_order() {
        let live = Live::new();
        assert_eq!(live.current_arch(), None);
        live.start_arch(1);
        live.push(Frame::empty(1, 0));
        live.push(Frame::empty(1, 1));
        let got: Vec<u32> = live.take().iter().map(|f| f.second).collect();
        assert_eq!(got, [0, 1]);
        assert!(live.take().is_empty());
        assert_eq!(live.current_arch(), Some(1));
        assert!(!live.finished());
        live.finish();
        assert!(live.finished());
    }

    #[test]
    fn an_unwatched_sink_feeds_the_metrics_and_keeps_nothing() {
        let metrics = Arc::new(LiveMetrics::new(&openmetrics::RunFacts {
            scenario: "s".into(),
            seed: 1,
            warmup_s: 0,
            archs: vec!["ssr-nocache".into()],
        }));
        let live = Live::new().with_metrics(metrics.clone(), false);
        let mut f = Frame::empty(0, 0);
        f.classes[0] = 4;
        live.push(f);
        assert!(live.take().is_empty());
        assert!(
            metrics
                .encode()
                .contains("ttlab_responses_total{arch=\"ssr-nocache\",class=\"fresh\"} 4")
        );
    }
}
