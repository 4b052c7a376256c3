//! The arrival rate over time: requests per second in fixed buckets.

use std::time::Duration;

/// Requests (or session starts) per second, bucket by bucket from the
/// bucket of the first one; empty buckets in between are zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct RateCurve {
    /// Width of a bucket.
    pub bucket: Duration,
    /// Where the first bucket starts, µs on the trace's scale.
    pub start_us: i64,
    /// Per second, one value per bucket.
    pub rates: Vec<f64>,
}

impl RateCurve {
    /// The curve of arrivals at `times` (any order), `bucket` wide.
    pub fn of(times: &[i64], bucket: Duration) -> Self {
        let width = bucket.as_micros().max(1) as i64;
        let Some(first) = times.iter().min() else {
            return RateCurve {
                bucket,
                start_us: 0,
                rates: Vec::new(),
            };
        };
        let start_us = first.div_euclid(width) * width;
        let mut counts: Vec<u64> = Vec::new();
        for t in times {
            let i = ((t - start_us) / width) as usize;
            if counts.len() <= i {
                counts.resize(i + 1, 0);
            }
            counts[i] += 1;
        }
        let secs = bucket.as_secs_f64();
        RateCurve {
            bucket,
            start_us,
            rates: counts.into_iter().map(|c| c as f64 / secs).collect(),
        }
    }

    /// The mean rate over the whole curve, per second.
    pub fn mean(&self) -> f64 {
        if self.rates.is_empty() {
            0.0
        } else {
            self.rates.iter().sum::<f64>() / self.rates.len() as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_from_the_first_with_empty_ones_kept() {
        let s = 1_000_000;
        let c = RateCurve::of(&[5 * s, 5 * s + 1, 7 * s, 31 * s], Duration::from_secs(10));
        assert_eq!(c.start_us, 0);
        assert_eq!(c.rates, [0.3, 0.0, 0.0, 0.1]);
        assert!((c.mean() - 0.1).abs() < 1e-12);
        assert!(RateCurve::of(&[], Duration::from_secs(1)).rates.is_empty());
    }
}
