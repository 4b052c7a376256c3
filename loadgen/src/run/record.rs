//! What a run records per response: classes, latency and staleness in HDR
//! histograms (never a list of samples), attribute updates sent.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use ttlab_reports::Percentiles;

use crate::check::Class;

/// The recorder of one architecture's run.
pub struct Recorder {
    /// Responses per class.
    pub classes: BTreeMap<Class, u64>,
    /// Latency of every response, µs.
    pub latency: Histogram<u64>,
    /// Latency of responses from the cache, µs.
    pub latency_hit: Histogram<u64>,
    /// Latency of responses that went upstream, µs.
    pub latency_miss: Histogram<u64>,
    /// Staleness of stale responses, µs.
    pub staleness: Histogram<u64>,
    /// Attribute updates sent to Personalize.
    pub attribute_updates: u64,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            classes: Class::ALL.iter().map(|c| (*c, 0)).collect(),
            latency: histogram(),
            latency_hit: histogram(),
            latency_miss: histogram(),
            staleness: histogram(),
            attribute_updates: 0,
        }
    }
}

impl Recorder {
    /// Records one judged response.
    pub fn record(
        &mut self,
        class: Class,
        latency_us: u64,
        from_cache: bool,
        staleness_us: Option<u64>,
    ) {
        *self.classes.entry(class).or_insert(0) += 1;
        let l = latency_us.clamp(1, 3_600_000_000);
        self.latency.record(l).expect("clamped");
        if from_cache {
            self.latency_hit.record(l).expect("clamped");
        } else {
            self.latency_miss.record(l).expect("clamped");
        }
        if let Some(s) = staleness_us {
            self.staleness
                .record(s.clamp(1, 3_600_000_000))
                .expect("clamped");
        }
    }

    /// Responses recorded.
    pub fn requests(&self) -> u64 {
        self.classes.values().sum()
    }
}

/// Percentiles of a histogram of microseconds, in milliseconds.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |v: u64| v as f64 / 1000.0;
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    }
}
