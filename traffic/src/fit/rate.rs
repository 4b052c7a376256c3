//! The arrival rate over time: events per second in fixed buckets from the
//! log's first request, and whether the rate is flat (one number says it)
//! or a curve.

use std::time::Duration;

/// Where a log starts and ends: its first and last request, µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The first request.
    pub first_us: i64,
    /// The last request.
    pub last_us: i64,
}

/// Events (requests or session starts) per second, bucket by bucket from
/// the log's first request, as a scenario's curve starts at its run's start;
/// empty buckets in between are zeros.
///
/// Each bucket's rate is its count over the time the log covers of it: the
/// whole width, except the last bucket, which covers up to the last request.
/// A last bucket covered for less than half its width is left out (too
/// little of it to say a rate; a scenario's `every` curve holds its last rate
/// to the end anyway). A log shorter than one bucket is one bucket of its own
/// length (at least a second, an access log's resolution).
#[derive(Clone, Debug, PartialEq)]
pub struct RateCurve {
    /// Width of a bucket.
    pub bucket: Duration,
    /// Where the first bucket starts (the log's first request), µs.
    pub start_us: i64,
    /// Per second, one value per bucket.
    pub rates: Vec<f64>,
    /// Events in each bucket.
    pub counts: Vec<u64>,
    /// Seconds of each bucket the log covers.
    pub exposure: Vec<f64>,
}

/// Whether a curve's buckets differ by more than Poisson noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flatness {
    /// The dispersion statistic: Σ (count − mean·exposure)² / (mean·exposure),
    /// chi-square with buckets − 1 degrees of freedom for a constant rate.
    pub chi2: f64,
    /// Its 99th percentile for this many buckets: a constant-rate log
    /// stays below it 99 times in 100.
    pub bound: f64,
    /// Buckets compared.
    pub buckets: usize,
}

impl Flatness {
    /// Whether the buckets are within Poisson noise of one rate.
    pub fn flat(&self) -> bool {
        self.chi2 <= self.bound
    }
}

impl RateCurve {
    /// The curve of events at `times` (any order) over the log's `span`,
    /// `bucket` wide.
    pub fn of(times: &[i64], span: Span, bucket: Duration) -> Self {
        let width = bucket.as_micros().clamp(1, i64::MAX as u128) as i64;
        let length = span.last_us.saturating_sub(span.first_us).max(0);
        let buckets = usize::try_from(length / width).unwrap_or(usize::MAX - 1) + 1;
        let secs = bucket.as_secs_f64();
        let mut exposure = vec![secs; buckets];
        let covered = (length - (buckets as i64 - 1) * width) as f64 / 1e6;
        let mut kept = buckets;
        if buckets == 1 {
            exposure[0] = covered.clamp(1.0_f64.min(secs), secs);
        } else if covered < secs / 2.0 {
            kept -= 1;
            exposure.truncate(kept);
        } else {
            exposure[buckets - 1] = covered;
        }
        let mut counts = vec![0_u64; kept];
        for &t in times {
            if t < span.first_us {
                continue;
            }
            let i = usize::try_from((t - span.first_us) / width).unwrap_or(usize::MAX);
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        RateCurve {
            bucket,
            start_us: span.first_us,
            rates: counts
                .iter()
                .zip(&exposure)
                .map(|(&c, &e)| c as f64 / e)
                .collect(),
            counts,
            exposure,
        }
    }

    /// The mean rate over the whole curve, per second (events over the
    /// time covered).
    pub fn mean(&self) -> f64 {
        let time: f64 = self.exposure.iter().sum();
        if time > 0.0 {
            self.counts.iter().sum::<u64>() as f64 / time
        } else {
            0.0
        }
    }

    /// How far the buckets are from one constant rate: the dispersion test
    /// of a Poisson process, against the chi-square distribution's 99th
    /// percentile (Wilson and Hilferty's approximation, within a few
    /// hundredths for any number of buckets).
    pub fn flatness(&self) -> Flatness {
        let mean = self.mean();
        let chi2 = self
            .counts
            .iter()
            .zip(&self.exposure)
            .map(|(&c, &e)| {
                let want = mean * e;
                if want > 0.0 {
                    (c as f64 - want).powi(2) / want
                } else {
                    0.0
                }
            })
            .sum();
        let df = self.counts.len().saturating_sub(1);
        Flatness {
            chi2,
            bound: chi2_99(df),
            buckets: self.counts.len(),
        }
    }
}

/// The 99th percentile of chi-square with `df` degrees of freedom (0 for
/// none: one bucket is always flat).
fn chi2_99(df: usize) -> f64 {
    /// The standard normal's 99th percentile.
    const Z99: f64 = 2.326_347_874_040_841;
    if df == 0 {
        return 0.0;
    }
    let k = df as f64;
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + Z99 * a.sqrt()).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn buckets_from_the_first_with_empty_ones_kept() {
        let span = Span {
            first_us: 5 * S,
            last_us: 40 * S,
        };
        let c = RateCurve::of(&[5 * S, 5 * S + 1, 7 * S, 36 * S, 40 * S], span, secs(10));
        assert_eq!(c.start_us, 5 * S);
        // [5, 15) [15, 25) [25, 35) [35, 40]: the last covers 5 s of 10.
        assert_eq!(c.counts, [3, 0, 0, 2]);
        assert_eq!(c.exposure, [10.0, 10.0, 10.0, 5.0]);
        assert_eq!(c.rates, [0.3, 0.0, 0.0, 0.4]);
        assert!((c.mean() - 5.0 / 35.0).abs() < 1e-12);
        // Covered for under half its width: left out.
        let c = RateCurve::of(
            &[0, 10 * S, 14 * S],
            Span {
                first_us: 0,
                last_us: 14 * S,
            },
            secs(10),
        );
        assert_eq!(
            (c.counts.as_slice(), c.exposure.as_slice()),
            ([1].as_slice(), [10.0].as_slice())
        );
        // Shorter than a bucket: its own length, at least a second.
        let c = RateCurve::of(
            &[0, 4 * S],
            Span {
                first_us: 0,
                last_us: 4 * S,
            },
            secs(60),
        );
        assert_eq!(c.rates, [0.5]);
        let c = RateCurve::of(
            &[7, 7],
            Span {
                first_us: 7,
                last_us: 7,
            },
            secs(60),
        );
        assert_eq!(c.rates, [2.0]);
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_99th_percentile_is_the_tables() {
        // From chi-square tables: 6.635 (1), 9.210 (2), 23.209 (10), 135.807 (100).
        for (df, want) in [(1, 6.635), (2, 9.210), (10, 23.209), (100, 135.807)] {
            let got = chi2_99(df);
            assert!((got - want).abs() < 0.01 * want, "{df}: {got}");
        }
    }

    #[test]
    fn noise_is_flat_and_a_step_is_not() {
        let flat = RateCurve {
            bucket: secs(60),
            start_us: 0,
            rates: vec![],
            counts: vec![600, 640, 575, 610, 590],
            exposure: vec![60.0; 5],
        };
        let f = flat.flatness();
        assert!(f.flat(), "{f:?}");
        let step = RateCurve {
            counts: vec![600, 600, 700, 700, 700],
            ..flat
        };
        let f = step.flatness();
        assert!(
            !f.flat(),
            "100 more a minute is 4 standard deviations: {f:?}"
        );
        assert!(
            RateCurve::of(
                &[1],
                Span {
                    first_us: 1,
                    last_us: 1
                },
                secs(1)
            )
            .flatness()
            .flat()
        );
    }
}
