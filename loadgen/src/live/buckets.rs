//! A Prometheus histogram fed from HDR histograms: the live view's frames
//! carry each second's latencies as small HDR histograms, never single
//! responses, so the exported histogram adds whole seconds at a time.
//!
//! Why not `prometheus_client`'s own histogram: it takes one observation
//! per call, and a frame holds thousands of responses folded into HDR
//! counts. Adding an HDR histogram's recorded values (value, count) to
//! fixed buckets costs one step per distinct value, and the counts stay
//! exact; only where a value falls is HDR's precision (2 significant
//! digits in a frame, so within 1%).

use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds of the latency buckets, seconds: from a cache hit on
/// loopback (half a millisecond) to a page that timed out.
pub const LATENCY_BOUNDS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the staleness buckets, seconds: from a second behind the
/// truth to an hour.
pub const STALENESS_BOUNDS_S: [f64; 10] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// A cumulative histogram of seconds over fixed buckets. Clones share the
/// counts (as `prometheus_client`'s metrics do), so the registry holds one
/// and the run adds to another.
#[derive(Clone, Debug)]
pub struct Buckets {
    bounds: &'static [f64],
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Per bucket (not cumulative), one more than the bounds: the last is
    /// past every bound (`+Inf`).
    counts: Vec<u64>,
    sum_s: f64,
    count: u64,
}

impl Buckets {
    /// An empty histogram over `bounds` (ascending, seconds).
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(bounds.is_sorted(), "bucket bounds ascend");
        Buckets {
            bounds,
            state: Arc::new(Mutex::new(State {
                counts: vec![0; bounds.len() + 1],
                ..State::default()
            })),
        }
    }

    /// A latency histogram ([`LATENCY_BOUNDS_S`]).
    pub fn latency() -> Self {
        Buckets::new(&LATENCY_BOUNDS_S)
    }

    /// A staleness histogram ([`STALENESS_BOUNDS_S`]).
    pub fn staleness() -> Self {
        Buckets::new(&STALENESS_BOUNDS_S)
    }

    /// Adds every value of `micros` (an HDR histogram of microseconds).
    pub fn add_micros(&self, micros: &Histogram<u64>) {
        if micros.is_empty() {
            return;
        }
        let mut s = self.state.lock().expect("buckets");
        for v in micros.iter_recorded() {
            let n = v.count_at_value();
            let at = v.value_iterated_to();
            // A value on a bound counts in its bucket (`le`); the sum takes
            // the middle of the HDR bucket the value was recorded in.
            let lowest = micros.lowest_equivalent(at) as f64 / 1e6;
            let secs = micros.median_equivalent(at) as f64 / 1e6;
            // The first bucket whose bound holds the value (`le`).
            let i = self.bounds.partition_point(|b| *b < lowest);
            s.counts[i] += n;
            s.sum_s += secs * n as f64;
            s.count += n;
        }
    }

    /// Values added so far.
    pub fn count(&self) -> u64 {
        self.state.lock().expect("buckets").count
    }
}

impl TypedMetric for Buckets {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Buckets {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let s = self.state.lock().expect("buckets");
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(s.counts.iter().copied())
            .collect();
        encoder.encode_histogram::<NoLabelSet>(s.sum_s, s.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::frame::second_histogram;

    fn encoded(b: &Buckets) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_with_unit(
            "latency",
            "test",
            prometheus_client::registry::Unit::Seconds,
            b.clone(),
        );
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn values_land_in_the_first_bucket_that_holds_them() {
        let b = Buckets::latency();
        let mut h = second_histogram();
        h.record_n(300, 5).unwrap(); // 0.3 ms: le 0.0005
        h.record_n(1_000, 2).unwrap(); // 1 ms exactly: le 0.001
        h.record_n(40_000, 1).unwrap(); // 40 ms: le 0.05
        h.record_n(20_000_000, 1).unwrap(); // 20 s: +Inf only
        b.add_micros(&h);
        b.add_micros(&h);
        assert_eq!(b.count(), 18);
        let text = encoded(&b);
        for line in [
            "latency_seconds_bucket{le=\"0.0005\"} 10",
            "latency_seconds_bucket{le=\"0.001\"} 14",
            "latency_seconds_bucket{le=\"0.025\"} 14",
            "latency_seconds_bucket{le=\"0.05\"} 16",
            "latency_seconds_bucket{le=\"10.0\"} 16",
            "latency_seconds_bucket{le=\"+Inf\"} 18",
            "latency_seconds_count 18",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("latency_seconds_sum "))
            .unwrap()
            .parse()
            .unwrap();
        let exact = 2.0 * (5.0 * 0.0003 + 2.0 * 0.001 + 0.04 + 20.0);
        assert!(
            (sum - exact).abs() / exact < 0.01,
            "sum {sum}, exact {exact}"
        );
    }

    #[test]
    fn an_empty_second_adds_nothing() {
        let b = Buckets::staleness();
        b.add_micros(&second_histogram());
        assert_eq!(b.count(), 0);
        assert!(encoded(&b).contains("latency_seconds_bucket{le=\"+Inf\"} 0"));
    }
}
