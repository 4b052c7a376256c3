//! Fault decisions from the scenario's `[faults]`: rate limits, latency,
//! errors and hangs, decided by the shared rules in `ttlab_scenarios::upstream`.
//!
//! Deciding is plain and synchronous, and knows nothing of the mocks' shared
//! state (which owns one injector per API); carrying a decision out on a
//! request — waiting, counting, answering — is `inject`'s job.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::UpstreamFaults;
use ttlab_scenarios::upstream::{FaultOutcome, TokenBucket};
use xxhash_rust::xxh3::xxh3_64;

use crate::metrics::Api;

/// What one request gets from its upstream's faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Over the rate limit of `limit` requests per second: 429 at once, with
    /// `wait` until the next token.
    RateLimited {
        /// The limit, for the `x-ratelimit-limit` header.
        limit: u32,
        /// Until a request would pass.
        wait: Micros,
    },
    /// Answer normally after `latency`.
    Pass {
        /// The drawn latency.
        latency: Duration,
    },
    /// Answer with `status` after `latency`.
    Error {
        /// The HTTP status.
        status: u16,
        /// The drawn latency.
        latency: Duration,
    },
    /// Hang, then answer 504.
    Timeout,
}

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

    /// The API whose faults these are.
    pub(crate) fn api(&self) -> Api {
        self.api
    }

    /// The fault of the request arriving at run time `now`. A rate-limited
    /// request takes no arrival number, so it does not shift later draws.
    pub(crate) fn decide(&self, now: Micros) -> Fault {
        if self.inert {
            return Fault::Pass {
                latency: Duration::ZERO,
            };
        }
        if let Some(bucket) = &self.bucket {
            let mut b = bucket.lock().expect("rate limit bucket");
            if let Err(wait) = b.try_take(now) {
                return Fault::RateLimited {
                    limit: b.limit(),
                    wait,
                };
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
            FaultOutcome::Pass => Fault::Pass { latency },
            FaultOutcome::Error(status) => Fault::Error { status, latency },
            FaultOutcome::Timeout => Fault::Timeout,
        }
    }
}
