//! Fault injection from the scenario's `[faults]`: rate limits, latency,
//! errors and hangs, decided by the shared rules in `ttlab_scenarios::upstream`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use ttlab_scenarios::model::UpstreamFaults;
use ttlab_scenarios::upstream::{FaultOutcome, TokenBucket};
use xxhash_rust::xxh3::xxh3_64;

use crate::errors;
use crate::metrics::Api;
use crate::state::MockState;

/// Decides, per request, what one upstream does. Draws are keyed by (seed,
/// API, arrival number), so the same arrival order gives the same faults.
pub(crate) struct FaultInjector {
    api: Api,
    seed: u64,
    faults: UpstreamFaults,
    bucket: Option<Mutex<TokenBucket>>,
    arrivals: AtomicU64,
    /// No latency, errors, hangs, outages or limits: skip every draw.
    inert: bool,
}

impl FaultInjector {
    pub(crate) fn new(api: Api, seed: u64, faults: &UpstreamFaults) -> Self {
        FaultInjector {
            api,
            seed,
            faults: faults.clone(),
            bucket: faults.rate_limit.map(|l| Mutex::new(TokenBucket::new(l))),
            arrivals: AtomicU64::new(0),
            inert: *faults == UpstreamFaults::default(),
        }
    }

    /// Applies the faults to one request: returns the response to send
    /// instead of the real one, or `None` to answer normally (after the
    /// drawn latency has passed).
    pub(crate) async fn apply(&self, state: &MockState) -> Option<Response> {
        if self.inert {
            return None;
        }
        let now = state.now();
        if let Some(bucket) = &self.bucket {
            let mut b = bucket.lock().expect("rate limit bucket");
            if let Err(wait) = b.try_take(now) {
                let limit = b.limit();
                drop(b);
                state.metrics.fault(self.api, "rate_limited");
                return Some(rate_limited(self.api, limit, wait.to_duration()));
            }
        }
        let n = self.arrivals.fetch_add(1, Ordering::Relaxed);
        let mut key_bytes = [0u8; 24];
        key_bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        key_bytes[8..16].copy_from_slice(&(self.api as u64).to_le_bytes());
        key_bytes[16..].copy_from_slice(&n.to_le_bytes());
        let key = xxh3_64(&key_bytes);
        let u = (key >> 11) as f64 / (1u64 << 53) as f64;
        let mut rng = Pcg64Mcg::seed_from_u64(key);
        let latency = self.faults.latency.sample(&mut rng).to_duration();
        match self.faults.decide(now, u) {
            FaultOutcome::Pass => {
                sleep_unless_shutdown(state, latency).await;
                None
            }
            FaultOutcome::Error(status) => {
                sleep_unless_shutdown(state, latency).await;
                state.metrics.fault(self.api, "error");
                Some(errors::injected(self.api, status))
            }
            FaultOutcome::Timeout => {
                state.metrics.fault(self.api, "timeout");
                sleep_unless_shutdown(state, state.config.hang).await;
                Some(errors::injected(self.api, 504))
            }
        }
    }
}

async fn sleep_unless_shutdown(state: &MockState, d: Duration) {
    if d.is_zero() {
        return;
    }
    let mut stop = state.shutdown_signal();
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// 429 with the headers the real APIs send. `X-RateLimit-Remaining: 0` goes
/// only on 429: the Delivery SDK retries any error that carries it.
fn rate_limited(api: Api, limit: u32, wait: Duration) -> Response {
    let mut resp = errors::rate_limited(api).into_response();
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let h = resp.headers_mut();
    h.insert("retry-after", HeaderValue::from(secs));
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0));
    resp
}
