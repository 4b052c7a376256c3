//! Visitors' sessions: a visitor's requests split where it paused longer
//! than the session gap. Gives how often sessions start (a rate curve),
//! pages per session, and the think time between a session's pages.

use std::collections::HashMap;
use std::time::Duration;

use super::rate::RateCurve;
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

/// The sessions of `requests`, or `None` when the trace names no visitors.
pub fn fit(requests: &[Request], gap: Duration, bucket: Duration) -> Option<SessionFit> {
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
    Some(SessionFit {
        visitors: per_visitor.len() as u64,
        sessions,
        starts: RateCurve::of(&starts, bucket),
        pages_mean: pages as f64 / sessions.max(1) as f64,
        think: think_time(&mut gaps),
    })
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
        let f = fit(&trace, Duration::from_secs(1800), Duration::from_secs(60)).unwrap();
        assert_eq!((f.visitors, f.sessions), (2, 3));
        assert!((f.pages_mean - 2.0).abs() < 1e-12);
        let t = f.think.unwrap();
        assert_eq!(t.samples, 3, "10, 10 and 6 s");
        assert_eq!(t.p50, Duration::from_secs(10));
        assert!((f.starts.rates.iter().sum::<f64>() * 60.0 - 3.0).abs() < 1e-9);
    }

    #[test]
    fn no_visitors_no_sessions() {
        let mut r = req("a", 0);
        r.visitor = None;
        assert!(fit(&[r], Duration::from_secs(1), Duration::from_secs(1)).is_none());
    }
}
