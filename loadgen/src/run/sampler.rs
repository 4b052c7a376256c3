//! What a local run reads once a second while it runs: the origin's load
//! (cumulative, for the per-second series and the live view), and the
//! caching layer's counters when warm-up ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ttlab_mock_apis::MockState;
use ttlab_mock_apis::metrics::{Api, Endpoint};
use ttlab_reports::{LayerCounts, OriginLoad};
use ttlab_scenarios::GateClock;
use ttlab_ssr_origin::stack::StackView;

use super::live_tick::LiveTick;

/// The once-a-second reader of a run and what it has read.
pub(super) struct Sampler {
    /// The reading task.
    pub task: tokio::task::JoinHandle<()>,
    /// Cumulative origin load at each second of the run clock, from 0.
    pub samples: Arc<Mutex<Vec<OriginLoad>>>,
    /// The layer's counters at the end of warm-up (none without one).
    pub warm_layer: Arc<Mutex<Option<LayerCounts>>>,
}

impl Sampler {
    /// Starts reading once the run clock `gate` starts (seconds count
    /// from it), ticking the live view on each read; the load counts from
    /// `baseline` (what the servers had done before the visitors came).
    pub fn spawn(
        view: StackView,
        mocks: Arc<MockState>,
        tick_live: Arc<LiveTick>,
        gate: Arc<GateClock>,
        warmup_s: usize,
        baseline: OriginLoad,
    ) -> Sampler {
        let samples: Arc<Mutex<Vec<OriginLoad>>> = Arc::default();
        let warm_layer: Arc<Mutex<Option<LayerCounts>>> = Arc::default();
        let (s, w) = (samples.clone(), warm_layer.clone());
        let task = tokio::spawn(async move {
            while !gate.started() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let load = origin_load(&view, &mocks).combine(&baseline, u64::saturating_sub);
                let mut samples = s.lock().expect("samples");
                if warmup_s > 0 && samples.len() == warmup_s {
                    *w.lock().expect("warm layer") = Some(
                        view.cache_counters()
                            .map(|c| c.snapshot())
                            .unwrap_or_default(),
                    );
                }
                tick_live.tick(&samples, &load);
                samples.push(load);
            }
        });
        Sampler {
            task,
            samples,
            warm_layer,
        }
    }
}

impl Sampler {
    /// The samples of a run that lasted `elapsed` on its clock: the
    /// seconds the sampler read while goose idled past the end are none of
    /// it; the last sample (read after the run) closes the last second.
    pub fn of_run(&self, elapsed: Duration) -> Vec<OriginLoad> {
        let mut samples = self.samples.lock().expect("samples").clone();
        let seconds = elapsed.as_secs_f64().ceil() as usize;
        let last = samples.pop();
        samples.truncate(seconds);
        samples.extend(last);
        samples
    }
}

/// The headline origin load: from the end of warm-up (the sample read
/// then) when there is one.
pub(super) fn after_warmup(
    origin: OriginLoad,
    samples: &[OriginLoad],
    warmup_s: usize,
) -> OriginLoad {
    match samples.get(warmup_s).filter(|_| warmup_s > 0) {
        Some(warm) => origin.combine(warm, u64::saturating_sub),
        None => origin,
    }
}

/// Origin load so far: the origin's counters and the mocks' answers.
pub(super) fn origin_load(stack: &StackView, mocks: &MockState) -> OriginLoad {
    let m = &mocks.metrics;
    OriginLoad {
        requests: stack.origin_requests(),
        renders: stack.origin_renders(),
        personalize_calls: m.requests(Api::Personalize, Endpoint::Manifest),
        delivery_calls: Endpoint::DELIVERY_CALLS
            .iter()
            .map(|e| m.requests(Api::Delivery, *e))
            .sum(),
    }
}
