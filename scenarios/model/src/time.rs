//! Run time as whole microseconds since the run started.
//!
//! Real runs and simulated runs share every rule that looks at a clock, so all
//! of them take time as this one integer type: the origin converts its system
//! clock into it, the simulator advances it by itself.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in run time, or a span of it, in microseconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Micros(pub u64);

impl Micros {
    /// The start of the run, or an empty span.
    pub const ZERO: Micros = Micros(0);
    /// Later than any run.
    pub const MAX: Micros = Micros(u64::MAX);

    /// From whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Micros(secs * 1_000_000)
    }

    /// From whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Micros(ms * 1_000)
    }

    /// From fractional seconds, rounded to the nearest microsecond; negative
    /// and non-finite values clamp to zero.
    pub fn from_secs_f64(secs: f64) -> Self {
        if secs.is_finite() && secs > 0.0 {
            Micros(round_u64(secs * 1e6))
        } else {
            Micros(0)
        }
    }

    /// In fractional seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// As a standard duration.
    pub const fn to_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// From a standard duration, saturating at [`Micros::MAX`].
    pub fn from_duration(d: Duration) -> Self {
        Micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// `self + other`, saturating.
    #[must_use]
    pub const fn saturating_add(self, other: Micros) -> Micros {
        Micros(self.0.saturating_add(other.0))
    }

    /// `self - other`, or zero when `other` is later.
    #[must_use]
    pub const fn saturating_sub(self, other: Micros) -> Micros {
        Micros(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Micros {
    /// Human form, as scenario files write durations: `250ms`, `2m 30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        write!(f, "{}", humantime::format_duration(self.to_duration()))
    }
}

/// Where "now" comes from. Real servers read the system clock; tests and the
/// simulator set time by hand. Every rule that depends on time takes a
/// [`Micros`] from one of these, never the system clock directly.
pub trait Clock: Send + Sync + 'static {
    /// Time since the run started.
    fn now(&self) -> Micros;
}

/// Run time on the system's monotonic clock, counted from `start`.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    start: std::time::Instant,
}

impl SystemClock {
    /// A clock whose zero is now.
    pub fn starting_now() -> Self {
        SystemClock {
            start: std::time::Instant::now(),
        }
    }

    /// A clock whose zero is `start`, shared by every server of one run.
    pub fn starting_at(start: std::time::Instant) -> Self {
        SystemClock { start }
    }

    /// The instant of zero.
    pub fn start(&self) -> std::time::Instant {
        self.start
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Micros {
        Micros::from_duration(self.start.elapsed())
    }
}

/// Run time that reads zero until [`GateClock::start`], then counts from
/// that instant. A real run hands it to its servers before its load
/// generator is up (goose takes about a second to start its users, longer
/// on a busy machine); the generator starts it when its users are ready, so
/// the scenario's timeline and the traffic start together, as in the
/// simulator.
#[derive(Debug)]
pub struct GateClock {
    base: std::time::Instant,
    /// µs after `base` at which zero is; `u64::MAX` until started.
    start_us: std::sync::atomic::AtomicU64,
}

impl Default for GateClock {
    fn default() -> Self {
        GateClock {
            base: std::time::Instant::now(),
            start_us: std::sync::atomic::AtomicU64::new(u64::MAX),
        }
    }
}

impl GateClock {
    /// Zero from now on; the first call wins.
    pub fn start(&self) {
        let now = Micros::from_duration(self.base.elapsed()).0;
        let _ = self.start_us.compare_exchange(
            u64::MAX,
            now,
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// Whether [`GateClock::start`] was called.
    pub fn started(&self) -> bool {
        self.start_us.load(std::sync::atomic::Ordering::SeqCst) != u64::MAX
    }
}

impl Clock for GateClock {
    fn now(&self) -> Micros {
        match self.start_us.load(std::sync::atomic::Ordering::SeqCst) {
            u64::MAX => Micros::ZERO,
            start => Micros::from_duration(self.base.elapsed()).saturating_sub(Micros(start)),
        }
    }
}

/// A clock that moves only when told: for tests that pin time.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicU64);

impl ManualClock {
    /// A clock at `t`.
    pub fn at(t: Micros) -> Self {
        ManualClock(std::sync::atomic::AtomicU64::new(t.0))
    }

    /// Moves to `t`.
    pub fn set(&self, t: Micros) {
        self.0.store(t.0, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves forward by `d`.
    pub fn advance(&self, d: Micros) {
        self.0.fetch_add(d.0, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Micros {
        Micros(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// `x.round() as u64`, bit for bit, without the call to `round` that
/// baseline x86-64 makes (it has no rounding instruction before SSE4.1):
/// the simulator converts every latency draw and arrival gap, millions a
/// second. Halves round away from zero; negative values and NaN give 0,
/// values past `u64::MAX` saturate, as the cast does.
#[inline]
#[must_use]
pub fn round_u64(x: f64) -> u64 {
    // Below 2^52 a double may have a fraction; from there on it is whole.
    if x < 4_503_599_627_370_496.0 {
        if x.is_nan() || x <= 0.0 {
            return 0;
        }
        let whole = x as u64;
        // Exact: `whole` is `x` truncated and both are below 2^52. Added as
        // a number, not chosen by a branch: the fraction is as likely below
        // a half as above, so a branch would be mispredicted half the time.
        whole + u64::from(x - whole as f64 >= 0.5)
    } else {
        x as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_clock_reads_zero_until_started_then_counts_from_there() {
        let c = GateClock::default();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.now(), Micros::ZERO);
        assert!(!c.started());
        c.start();
        std::thread::sleep(Duration::from_millis(5));
        let t = c.now();
        assert!(
            t >= Micros::from_millis(5) && t < Micros::from_millis(15),
            "{t}"
        );
        c.start(); // the first start wins
        assert!(c.now() >= t);
    }

    #[test]
    fn round_u64_is_round_then_cast() {
        let mut xs = vec![
            0.0,
            -0.0,
            -0.4,
            -0.5,
            -2.5,
            0.499_999_999_999_999_94,
            0.5,
            1.5,
            2.5,
            1e15 + 0.5,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            1.8e19,
            1e30,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
        ];
        // Every fraction of a few wholes at a fine step, and a spread of scales.
        for k in 0..4_000 {
            xs.push(f64::from(k) / 1000.0);
            xs.push(f64::from(k).powi(4) * 1.000_123_7);
        }
        for x in xs {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let want = x.round() as u64;
            assert_eq!(round_u64(x), want, "{x:e}");
            assert_eq!(
                round_u64(f64::from_bits(x.to_bits() + 1)),
                f64::from_bits(x.to_bits() + 1).round() as u64
            );
        }
    }

    #[test]
    fn conversions_round_trip() {
        assert_eq!(Micros::from_secs(2).0, 2_000_000);
        assert!((Micros::from_millis(250).as_secs_f64() - 0.25).abs() < 1e-12);
        assert_eq!(Micros::from_secs_f64(-1.0), Micros::ZERO);
        assert_eq!(Micros::from_secs_f64(f64::NAN), Micros::ZERO);
        assert_eq!(
            Micros::from_duration(Duration::from_millis(3)),
            Micros(3_000)
        );
        assert_eq!(Micros(5).saturating_sub(Micros(9)), Micros::ZERO);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at(Micros(5));
        assert_eq!(c.now(), Micros(5));
        c.advance(Micros(10));
        assert_eq!(c.now(), Micros(15));
        c.set(Micros(1));
        assert_eq!(c.now(), Micros(1));
        let s = SystemClock::starting_now();
        assert!(s.now() < Micros::from_secs(60));
    }

    #[test]
    fn displays_like_scenario_files() {
        assert_eq!(Micros::ZERO.to_string(), "0s");
        assert_eq!(Micros::from_millis(250).to_string(), "250ms");
        assert_eq!(Micros::from_secs(150).to_string(), "2m 30s");
    }
}
