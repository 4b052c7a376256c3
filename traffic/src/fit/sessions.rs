//! Visitors' sessions: a visitor's requests split where it paused longer
//! than the session gap. Gives how often sessions start (a rate curve),
//! pages per session, the think time between a session's pages; and how
//! large a population the visitors seem drawn from ([`population`]).

use std::collections::HashMap;
use std::time::Duration;

use super::rate::{RateCurve, Span};
use crate::trace::Request;

/// Sessions found in a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionFit {
    /// Distinct visitors.
    pub visitors: u64,
    /// Sessions in all.
    pub sessions: u64,
    /// Session starts per second, bucket by bucket.
    pub starts: RateCurve,
    /// Mean pages per session.
    pub pages_mean: f64,
    /// Think time between two pages of one session, when any session has two.
    pub think: Option<ThinkTime>,
}

/// The think time's distribution, as a scenario can write it.
#[derive(Clone, Debug, PartialEq)]
pub struct ThinkTime {
    /// Gaps measured.
    pub samples: u64,
    /// Mean.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Coefficient of variation (standard deviation / mean): 1 for an
    /// exponential distribution, which `{ mean = … }` writes; far from 1,
    /// the log-normal `{ p50 = …, p99 = … }` fits better.
    pub cv: f64,
}

impl ThinkTime {
    /// Whether an exponential distribution with this mean describes it
    /// (coefficient of variation within 0.8..1.25).
    pub fn exponential(&self) -> bool {
        (0.8..=1.25).contains(&self.cv)
    }
}

/// The sessions of `requests` over the log's `span`, or `None` when the
/// trace names no visitors.
pub fn fit(
    requests: &[Request],
    gap: Duration,
    span: Span,
    bucket: Duration,
) -> Option<SessionFit> {
    let mut per_visitor: HashMap<&str, Vec<i64>> = HashMap::new();
    for r in requests {
        per_visitor
            .entry(r.visitor.as_deref()?)
            .or_default()
            .push(r.at_us);
    }
    let gap_us = gap.as_micros() as i64;
    let mut starts = Vec::new();
    let mut pages = 0_u64;
    let mut gaps: Vec<i64> = Vec::new();
    for times in per_visitor.values_mut() {
        times.sort_unstable();
        starts.push(times[0]);
        pages += times.len() as u64;
        for w in times.windows(2) {
            let pause = w[1] - w[0];
            if pause > gap_us {
                starts.push(w[1]);
            } else {
                gaps.push(pause);
            }
        }
    }
    let sessions = starts.len() as u64;
    let visitors = per_visitor.len() as u64;
    Some(SessionFit {
        visitors,
        sessions,
        starts: RateCurve::of(&starts, span, bucket),
        pages_mean: pages as f64 / sessions.max(1) as f64,
        think: think_time(&mut gaps),
    })
}

/// How many visitors a scenario should have so that `draws` visits
/// (sessions, or single requests), each from a visitor drawn at random
/// among them as `session_rate` and `arrival_rate` draw, show `distinct`
/// different visitors, as the log did: the `V` with
/// `V·(1 − e^(−draws/V)) = distinct`, the expected number of distinct
/// draws. Fewer distinct visitors than draws means some came back, and the
/// fewer, the smaller the population; a log where nobody came back gives
/// `draws·(draws − 1)/2`, a population in which that many draws expect
/// about one return. At least `distinct`, at most `max`.
pub fn population(draws: u64, distinct: u64, max: u64) -> u64 {
    let (n, d) = (draws as f64, distinct as f64);
    let max = max.max(distinct);
    if distinct >= draws {
        let v = draws.saturating_mul(draws.saturating_sub(1)) / 2;
        return v.clamp(distinct, max);
    }
    let seen = |v: f64| v * -(-n / v).exp_m1();
    if seen(max as f64) <= d {
        return max;
    }
    let (mut lo, mut hi) = (d, max as f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if seen(mid) < d {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (hi.round() as u64).clamp(distinct, max)
}

fn think_time(gaps: &mut [i64]) -> Option<ThinkTime> {
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    let n = gaps.len() as f64;
    let mean = gaps.iter().map(|&g| g as f64).sum::<f64>() / n;
    let var = gaps.iter().map(|&g| (g as f64 - mean).powi(2)).sum::<f64>() / n;
    let at = |q: f64| {
        let i = ((q * n).ceil() as usize).clamp(1, gaps.len()) - 1;
        Duration::from_micros(gaps[i].max(0) as u64)
    };
    Some(ThinkTime {
        samples: gaps.len() as u64,
        mean: Duration::from_micros(mean.round() as u64),
        p50: at(0.5),
        p99: at(0.99),
        cv: if mean > 0.0 { var.sqrt() / mean } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(visitor: &str, at_s: i64) -> Request {
        Request {
            at_us: at_s * 1_000_000,
            path: "/".into(),
            visitor: Some(visitor.into()),
            size: None,
        }
    }

    #[test]
    fn a_long_pause_starts_a_new_session() {
        let trace = [
            req("a", 0),
            req("a", 10),
            req("a", 20),
            req("a", 5000),
            req("b", 3),
            req("b", 9),
        ];
        let span = Span {
            first_us: 0,
            last_us: 5020 * 1_000_000,
        };
        let f = fit(
            &trace,
            Duration::from_secs(1800),
            span,
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!((f.visitors, f.sessions), (2, 3));
        assert!((f.pages_mean - 2.0).abs() < 1e-12);
        let t = f.think.unwrap();
        assert_eq!(t.samples, 3, "10, 10 and 6 s");
        assert_eq!(t.p50, Duration::from_secs(10));
        assert_eq!(f.starts.counts.iter().sum::<u64>(), 3);
        assert_eq!(f.starts.counts[0], 2);
    }

    #[test]
    fn no_visitors_no_sessions() {
        let mut r = req("a", 0);
        r.visitor = None;
        let span = Span {
            first_us: 0,
            last_us: 0,
        };
        let one = Duration::from_secs(1);
        assert!(fit(&[r], one, span, one).is_none());
    }

    /// Drawing sessions from a known population and counting distinct
    /// visitors gives the population back; nobody returning, or everybody,
    /// stays within the bounds.
    #[test]
    fn the_population_is_what_the_returns_say() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(9);
        for v in [500_u64, 20_000, 100_000] {
            let n = 8_000_u64;
            let mut seen = std::collections::HashSet::new();
            for _ in 0..n {
                seen.insert(rng.random_range(0..v));
            }
            let p = population(n, seen.len() as u64, 1_000_000);
            // The returns are n²/2V for large V, Poisson: for 100,000 about
            // 320 ± 18, so the estimate is within 6% at one standard deviation.
            assert!(
                (p as f64 / v as f64 - 1.0).abs() < 0.2,
                "{v}: {p} from {} distinct",
                seen.len()
            );
        }
        assert_eq!(population(10, 10, 1_000_000), 45, "nobody came back");
        assert_eq!(
            population(10_000, 10_000, 1_000),
            10_000,
            "at least the distinct"
        );
        assert_eq!(population(1_000, 1, 1_000_000), 1, "one visitor, always");
        assert_eq!(population(100_000, 99_999, 50_000), 99_999);
    }
}
