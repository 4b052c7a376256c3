//! How an upstream behaves: latency draws, fault decisions and rate limits.
//!
//! The mock servers and the simulator both call these, so a scenario's
//! `[faults]` mean the same thing in a real run and in a simulated one.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::model::{Dist, RateLimit, UpstreamFaults, lognormal_params};
use crate::time::Micros;

impl Dist {
    /// One draw.
    pub fn sample(&self, rng: &mut impl Rng) -> Micros {
        self.sampler().sample(rng)
    }

    /// The distribution prepared for many draws (its parameters computed
    /// once): what a loop that draws per request holds.
    pub fn sampler(&self) -> Sampler {
        Sampler(match *self {
            Dist::Fixed(v) => Shape::Fixed(v),
            Dist::Exponential { mean } if mean == Micros::ZERO => Shape::Fixed(Micros::ZERO),
            Dist::Exponential { mean } => {
                Shape::Exponential(Exp::new(1.0 / mean.as_secs_f64()).expect("positive rate"))
            }
            Dist::Uniform { min, max } if min >= max => Shape::Fixed(min),
            Dist::Uniform { min, max } => Shape::Uniform(min.0, max.0),
            Dist::LogNormal { p50, p99 } => {
                let (mu, sigma) = lognormal_params(p50, p99);
                if sigma == 0.0 {
                    Shape::Fixed(p50)
                } else {
                    Shape::LogNormal(LogNormal::new(mu, sigma).expect("finite parameters"))
                }
            }
        })
    }
}

/// A [`Dist`] ready to draw from; [`Dist::sample`] is one draw of it.
#[derive(Clone, Copy, Debug)]
pub struct Sampler(Shape);

#[derive(Clone, Copy, Debug)]
enum Shape {
    Fixed(Micros),
    Exponential(Exp<f64>),
    Uniform(u64, u64),
    LogNormal(LogNormal<f64>),
}

impl Sampler {
    /// One draw.
    pub fn sample(&self, rng: &mut impl Rng) -> Micros {
        match self.0 {
            Shape::Fixed(v) => v,
            Shape::Exponential(e) => Micros::from_secs_f64(e.sample(rng)),
            Shape::Uniform(min, max) => Micros(rng.random_range(min..=max)),
            Shape::LogNormal(d) => Micros::from_secs_f64(d.sample(rng)),
        }
    }
}

/// What an upstream does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    /// Answers normally (after its latency).
    Pass,
    /// Answers with this error status.
    Error(u16),
    /// Never answers within any client's budget.
    Timeout,
}

impl FaultOutcome {
    /// The status the origin answers a visitor with when an upstream call
    /// for the page ended like this, or `None` when it passed.
    ///
    /// An overloaded or failing upstream (429 or 5xx) is a temporary
    /// outage: 503, worth retrying. Any other error answer is a bad answer
    /// from upstream: 502. No answer within budget: 504. The real origin
    /// and the simulator both call this, so their error statuses agree.
    pub const fn visitor_status(self) -> Option<u16> {
        match self {
            FaultOutcome::Pass => None,
            FaultOutcome::Error(status) if status == 429 || status >= 500 => Some(503),
            FaultOutcome::Error(_) => Some(502),
            FaultOutcome::Timeout => Some(504),
        }
    }

    /// The outcome as a client with `budget` sees it when the answer took
    /// `latency`: any answer later than the budget is a timeout.
    #[must_use]
    pub fn within(self, latency: Micros, budget: Micros) -> FaultOutcome {
        if latency < budget {
            self
        } else {
            FaultOutcome::Timeout
        }
    }
}

impl UpstreamFaults {
    /// The outcome of a request at `t`, given a uniform draw `u` in [0, 1).
    ///
    /// An outage covering `t` decides first; otherwise the base timeout and
    /// error rates do. One draw decides, so the rates are exact shares.
    pub fn decide(&self, t: Micros, u: f64) -> FaultOutcome {
        if let Some(o) = self.outages.iter().find(|o| o.from <= t && t < o.until) {
            if u < o.error_rate {
                return if o.timeout {
                    FaultOutcome::Timeout
                } else {
                    FaultOutcome::Error(o.error_status)
                };
            }
            return FaultOutcome::Pass;
        }
        if u < self.timeout_rate {
            FaultOutcome::Timeout
        } else if u < self.timeout_rate + self.error_rate {
            FaultOutcome::Error(self.error_status)
        } else {
            FaultOutcome::Pass
        }
    }
}

/// A token bucket on run time: `burst` tokens, refilled at the limit's rate.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Micros,
}

impl TokenBucket {
    /// A full bucket for `limit`.
    pub fn new(limit: RateLimit) -> Self {
        TokenBucket {
            rate: limit.requests_per_second,
            burst: f64::from(limit.burst),
            tokens: f64::from(limit.burst),
            last: Micros::ZERO,
        }
    }

    /// Takes a token at `now`, or says how long until one is available.
    pub fn try_take(&mut self, now: Micros) -> Result<(), Micros> {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Micros::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }

    /// Tokens left (rounded down), for `X-RateLimit-Remaining`.
    pub fn remaining(&self) -> u32 {
        self.tokens.max(0.0) as u32
    }

    /// The bucket size, for `X-RateLimit-Limit`.
    pub fn limit(&self) -> u32 {
        self.burst as u32
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    use super::*;
    use crate::model::Outage;

    #[test]
    fn decisions_follow_rates_and_outages() {
        let f = UpstreamFaults {
            error_rate: 0.1,
            timeout_rate: 0.05,
            outages: vec![Outage {
                from: Micros::from_secs(10),
                until: Micros::from_secs(20),
                error_rate: 1.0,
                error_status: 502,
                timeout: false,
            }],
            ..UpstreamFaults::default()
        };
        assert_eq!(f.decide(Micros::ZERO, 0.01), FaultOutcome::Timeout);
        assert_eq!(f.decide(Micros::ZERO, 0.10), FaultOutcome::Error(503));
        assert_eq!(f.decide(Micros::ZERO, 0.16), FaultOutcome::Pass);
        assert_eq!(
            f.decide(Micros::from_secs(10), 0.99),
            FaultOutcome::Error(502)
        );
        assert_eq!(
            f.decide(Micros::from_secs(20), 0.99),
            FaultOutcome::Pass,
            "until is exclusive"
        );
    }

    #[test]
    fn visitors_see_503_for_overload_502_for_other_errors_504_for_timeouts() {
        assert_eq!(FaultOutcome::Pass.visitor_status(), None);
        assert_eq!(FaultOutcome::Error(429).visitor_status(), Some(503));
        assert_eq!(FaultOutcome::Error(500).visitor_status(), Some(503));
        assert_eq!(FaultOutcome::Error(503).visitor_status(), Some(503));
        assert_eq!(FaultOutcome::Error(404).visitor_status(), Some(502));
        assert_eq!(FaultOutcome::Error(400).visitor_status(), Some(502));
        assert_eq!(FaultOutcome::Timeout.visitor_status(), Some(504));
    }

    #[test]
    fn answers_past_the_budget_are_timeouts() {
        let budget = Micros::from_millis(100);
        let late = Micros::from_millis(100);
        let early = Micros::from_millis(99);
        assert_eq!(FaultOutcome::Pass.within(early, budget), FaultOutcome::Pass);
        assert_eq!(
            FaultOutcome::Pass.within(late, budget),
            FaultOutcome::Timeout
        );
        assert_eq!(
            FaultOutcome::Error(503).within(early, budget),
            FaultOutcome::Error(503)
        );
        assert_eq!(
            FaultOutcome::Error(503).within(late, budget),
            FaultOutcome::Timeout
        );
        assert_eq!(
            FaultOutcome::Timeout.within(early, budget),
            FaultOutcome::Timeout
        );
    }

    #[test]
    fn token_bucket_limits_to_rate_after_burst() {
        let mut b = TokenBucket::new(RateLimit {
            requests_per_second: 80.0,
            burst: 80,
        });
        let t0 = Micros::from_secs(1);
        for _ in 0..80 {
            assert!(b.try_take(t0).is_ok());
        }
        let wait = b.try_take(t0).unwrap_err();
        assert_eq!(wait, Micros(12_500), "one token every 1/80 s");
        assert!(b.try_take(Micros(t0.0 + 12_500)).is_ok());
        // Over 10 s at most burst + 10 * rate requests pass.
        let mut passed = 0;
        for i in 0..100_000u64 {
            if b.try_take(Micros(t0.0 + 12_500 + i * 100)).is_ok() {
                passed += 1;
            }
        }
        assert!(passed <= 801, "{passed}");
        assert!(passed >= 799, "{passed}");
    }

    #[test]
    fn lognormal_draws_hit_their_quantiles() {
        let d = Dist::LogNormal {
            p50: Micros::from_millis(20),
            p99: Micros::from_millis(120),
        };
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut v: Vec<u64> = (0..100_000).map(|_| d.sample(&mut rng).0).collect();
        v.sort_unstable();
        let p50 = v[50_000] as f64 / 1000.0;
        let p99 = v[99_000] as f64 / 1000.0;
        assert!((p50 - 20.0).abs() < 1.0, "p50 {p50} ms");
        assert!((p99 - 120.0).abs() < 10.0, "p99 {p99} ms");
        let e = Dist::Exponential {
            mean: Micros::from_millis(10),
        };
        let mean = (0..100_000)
            .map(|_| e.sample(&mut rng).0 as f64)
            .sum::<f64>()
            / 100_000.0;
        assert!((mean - 10_000.0).abs() < 300.0, "mean {mean}");
    }
}
