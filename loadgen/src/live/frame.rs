//! One second of one architecture's run, as the live view and the
//! metrics see it, and what a recorder gathers for it.

use hdrhistogram::Histogram;
use ttlab_reports::OriginLoad;

/// A caching layer's counts: the one type from the layer to the report; a
/// frame holds one second's worth ([`LayerCounts::since`] of two readings).
pub use ttlab_scenarios::LayerCounts;

/// A histogram of microseconds for one second of a live view: 2 significant
/// digits (a dashboard wants shape, not precision), 1 µs .. 1 h.
pub fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds")
}

/// One second of one architecture's run.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Index of the architecture in the run's list.
    pub arch: usize,
    /// Which second of the (real or virtual) run, from 0.
    pub second: u32,
    /// Responses per class, in `Class::ALL` order.
    pub classes: [u64; 7],
    /// Responses served from the cache.
    pub from_cache: u64,
    /// Origin load in this second (not cumulative).
    pub origin: OriginLoad,
    /// The caching layer's answers in this second; `None` without a cache.
    pub layer: Option<LayerCounts>,
    /// Latency of responses from the cache, µs.
    pub latency_hit: Histogram<u64>,
    /// Latency of responses that went upstream, µs.
    pub latency_miss: Histogram<u64>,
    /// Staleness of stale responses, µs.
    pub staleness: Histogram<u64>,
}

impl Frame {
    /// An empty second of architecture `arch`.
    pub fn empty(arch: usize, second: u32) -> Self {
        Frame {
            arch,
            second,
            classes: [0; 7],
            from_cache: 0,
            origin: OriginLoad::default(),
            layer: None,
            latency_hit: second_histogram(),
            latency_miss: second_histogram(),
            staleness: second_histogram(),
        }
    }

    /// Responses in this second.
    pub fn requests(&self) -> u64 {
        self.classes.iter().sum()
    }
}

/// What a recorder gathers for the live view between two frames: the
/// current second's counts and histograms. Only present while a watcher is
/// attached, so runs without one pay a single branch per response.
#[derive(Debug)]
pub struct Tap {
    /// Responses per class.
    pub classes: [u64; 7],
    /// Responses from the cache.
    pub from_cache: u64,
    /// Latency of cache answers, µs.
    pub latency_hit: Histogram<u64>,
    /// Latency of upstream answers, µs.
    pub latency_miss: Histogram<u64>,
    /// Staleness, µs.
    pub staleness: Histogram<u64>,
}

impl Default for Tap {
    fn default() -> Self {
        Tap {
            classes: [0; 7],
            from_cache: 0,
            latency_hit: second_histogram(),
            latency_miss: second_histogram(),
            staleness: second_histogram(),
        }
    }
}

impl Tap {
    /// The frame of second `second` of architecture `arch` from what was
    /// tapped, with the origin load and layer answers counted apart.
    pub fn into_frame(
        self,
        arch: usize,
        second: u32,
        origin: OriginLoad,
        layer: Option<LayerCounts>,
    ) -> Frame {
        Frame {
            arch,
            second,
            classes: self.classes,
            from_cache: self.from_cache,
            origin,
            layer,
            latency_hit: self.latency_hit,
            latency_miss: self.latency_miss,
            staleness: self.staleness,
        }
    }
}

/// Origin load counted between two cumulative samples.
pub fn load_since(now: &OriginLoad, earlier: &OriginLoad) -> OriginLoad {
    now.combine(earlier, u64::saturating_sub)
}
