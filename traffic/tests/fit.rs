//! Fitting recovers what made a trace: traffic drawn from known parameters
//! (Zipf pages, sessions with exponential think times, a rate that steps
//! up) is fitted back within stated tolerances.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, Zipf};
use rand_pcg::Pcg64Mcg;
use ttlab_traffic::fit::{self, FitOptions};
use ttlab_traffic::trace::Request;

const S: f64 = 1.0;
const PAGES: u64 = 500;
const THINK_MEAN_S: f64 = 8.0;
const PAGES_PER_SESSION: u32 = 4;

/// Sessions start at 2/s for 10 minutes, then 6/s for 10 minutes; each
/// views `PAGES_PER_SESSION` Zipf pages with exponential think times.
fn trace(seed: u64) -> Vec<Request> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let zipf = Zipf::new(PAGES as f64, S).unwrap();
    let think = Exp::new(1.0 / THINK_MEAN_S).unwrap();
    let mut out = Vec::new();
    let mut t = 0.0_f64;
    let mut visitor = 0_u64;
    while t < 1200.0 {
        let rate = if t < 600.0 { 2.0 } else { 6.0 };
        t += Exp::new(rate).unwrap().sample(&mut rng);
        visitor += 1;
        let mut at = t;
        for _ in 0..PAGES_PER_SESSION {
            let page = zipf.sample(&mut rng) as u64;
            out.push(Request {
                at_us: (at * 1e6) as i64,
                path: format!("/p/{page}"),
                visitor: Some(format!("v{visitor}")),
                size: Some(rng.random_range(1000..2000)),
            });
            at += think.sample(&mut rng);
        }
    }
    out
}

#[test]
fn known_traffic_is_fitted_back() {
    let requests = trace(7);
    let f = fit::fit(
        &requests,
        FitOptions {
            bucket: Duration::from_secs(60),
            session_gap: Duration::from_secs(600),
            ..FitOptions::default()
        },
    );
    // Zipf exponent within 0.05, and a good fit.
    assert!((f.zipf.s - S).abs() < 0.05, "{:?}", f.zipf);
    assert!(f.zipf.good(), "{:?}", f.zipf);
    let s = f.sessions.as_ref().unwrap();
    // Sessions: one per visitor (no pause near the 10-minute gap), 4 pages each.
    assert!(
        (s.pages_mean - f64::from(PAGES_PER_SESSION)).abs() < 0.05,
        "{s:?}"
    );
    let think = s.think.as_ref().unwrap();
    assert!(think.exponential(), "{think:?}");
    assert!(
        (think.mean.as_secs_f64() - THINK_MEAN_S).abs() < 0.05 * THINK_MEAN_S,
        "{think:?}"
    );
    // The session rate curve steps from 2/s to 6/s: buckets well inside each
    // half within 15% (a minute holds ~120 and ~360 starts).
    let starts = &s.starts.rates;
    for (i, want) in [(2, 2.0), (7, 2.0), (12, 6.0), (17, 6.0)] {
        assert!(
            (starts[i] - want).abs() < 0.15 * want,
            "minute {i}: {} per second, want {want}",
            starts[i]
        );
    }
    // Requests per second follow: 4 pages a session.
    assert!(
        (f.rate.rates[5] - 8.0).abs() < 0.15 * 8.0,
        "{:?}",
        f.rate.rates
    );
}
