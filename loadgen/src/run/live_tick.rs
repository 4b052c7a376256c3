//! A real run's seconds for the live view, from its once-a-second sampler.

use std::sync::{Arc, Mutex};

use ttlab_reports::OriginLoad;
use ttlab_ssr_origin::stack::StackView;

use super::context::RunContext;
use crate::live::{LayerCounts, Live, load_since};

/// Publishes a real run's seconds to the live view, from the sampler's
/// tick: the recorder's tap, and the origin load and the caching layer's
/// answers since the previous tick.
pub(super) struct LiveTick {
    pub live: Option<(Arc<Live>, usize)>,
    pub ctx: Arc<RunContext>,
    pub view: StackView,
    /// The layer's counters at the previous tick.
    pub before: Mutex<Option<LayerCounts>>,
}

impl LiveTick {
    /// The caching layer's counters now (none for `ssr-nocache`).
    fn layer(&self) -> Option<LayerCounts> {
        Some(self.view.cache_counters()?.snapshot())
    }

    /// Remembers where the counters start.
    pub(super) fn start(&self) {
        if self.live.is_some() {
            *self.before.lock().expect("layer counts") = self.layer();
        }
    }

    /// One second ended: `samples` are the cumulative loads so far, `load`
    /// the one just taken.
    pub(super) fn tick(&self, samples: &[OriginLoad], load: &OriginLoad) {
        let (Some((live, arch)), Some(prev)) = (&self.live, samples.last()) else {
            return;
        };
        let tap = self.ctx.recorder.lock().expect("recorder").take_tap();
        let layer = self.layer();
        let mut before = self.before.lock().expect("layer counts");
        live.push(tap.unwrap_or_default().into_frame(
            *arch,
            (samples.len() - 1) as u32,
            load_since(load, prev),
            layer.zip(*before).map(|(now, was)| now.since(&was)),
        ));
        *before = layer;
    }
}
