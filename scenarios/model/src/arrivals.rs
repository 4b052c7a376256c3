//! When open-loop visitors arrive: a rate that may change over the run (a
//! [`RateCurve`]) and the seeded schedule of arrivals it gives
//! ([`Arrivals`]).
//!
//! The simulator and the real runs' arrival-rate executor both walk the same
//! [`Arrivals`] from the same seed, so the two engines send the same visitors
//! at the same planned instants: any difference in what they measure comes
//! from the system under test, not from the traffic.

use rand::{Rng, SeedableRng};
use rand_distr::Exp1;
use rand_pcg::Pcg64Mcg;

use crate::time::{Micros, round_u64};

/// How a curve goes from one point to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Each point's rate holds until the next point (steps).
    Step,
    /// The rate moves in a straight line from one point to the next (ramps).
    Linear,
}

/// Arrivals per second over time: points `(at, rate)` from time zero, joined
/// by steps or straight lines, holding the last rate after the last point;
/// with a `period`, the curve repeats (a daily profile).
#[derive(Clone, Debug, PartialEq)]
pub struct RateCurve {
    /// `(at, per second)`, the first at zero, in increasing time.
    pub points: Vec<(Micros, f64)>,
    /// Steps or ramps between points.
    pub shape: Shape,
    /// The curve repeats after this long, if set.
    pub period: Option<Micros>,
}

impl RateCurve {
    /// The same rate all the time.
    pub fn constant(rate: f64) -> Self {
        RateCurve {
            points: vec![(Micros::ZERO, rate)],
            shape: Shape::Step,
            period: None,
        }
    }

    /// The rate at `t`, per second.
    pub fn at(&self, t: Micros) -> f64 {
        let t = match self.period {
            Some(p) if p.0 > 0 => Micros(t.0 % p.0),
            _ => t,
        };
        // The last point at or before `t`.
        let i = self.points.partition_point(|(at, _)| *at <= t);
        let Some(&(t0, r0)) = i.checked_sub(1).and_then(|i| self.points.get(i)) else {
            return self.points.first().map_or(0.0, |p| p.1);
        };
        match (self.shape, self.points.get(i)) {
            (Shape::Linear, Some(&(t1, r1))) if t1 > t0 => {
                let f = (t.0 - t0.0) as f64 / (t1.0 - t0.0) as f64;
                r0 + (r1 - r0) * f
            }
            _ => r0,
        }
    }

    /// The highest rate anywhere on the curve.
    pub fn peak(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// Whether the rate never changes.
    pub fn is_constant(&self) -> bool {
        self.points
            .iter()
            .all(|p| p.1.to_bits() == self.points[0].1.to_bits())
    }

    /// Expected arrivals in `[0, end)`: the curve's integral, by the
    /// trapezoid rule on steps of at most a second (exact for steps and
    /// ramps whose points fall on whole seconds).
    pub fn expected(&self, end: Micros) -> f64 {
        if self.is_constant() {
            return self.peak() * end.as_secs_f64();
        }
        let step = 100_000u64;
        let mut sum = 0.0;
        let mut t = 0u64;
        while t < end.0 {
            let next = (t + step).min(end.0);
            let mid = Micros(t + (next - t) / 2);
            sum += self.at(mid) * (next - t) as f64 / 1e6;
            t = next;
        }
        sum
    }
}

/// The seeded Poisson arrivals of a [`RateCurve`] up to an end, as a
/// non-homogeneous Poisson process drawn by thinning (Lewis and Shedler):
/// candidates at the curve's peak rate, each kept with probability
/// `rate(t) / peak`. A constant curve keeps every candidate without a draw.
#[derive(Clone, Debug)]
pub struct Arrivals {
    curve: RateCurve,
    peak: f64,
    constant: bool,
    end: Micros,
    next: u64,
    rng: Pcg64Mcg,
    /// Arrivals given out so far: the index of the next one.
    count: u64,
}

/// What each arrival's draws are seeded from, beside the scenario's seed.
const ARRIVALS_SALT: u64 = 0xa771_7a15;

impl Arrivals {
    /// The arrivals of `curve` from time zero until `end` (exclusive), drawn
    /// from `seed`.
    pub fn new(curve: &RateCurve, seed: u64, end: Micros) -> Self {
        let mut a = Arrivals {
            peak: curve.peak(),
            constant: curve.is_constant(),
            curve: curve.clone(),
            end,
            next: 0,
            rng: Pcg64Mcg::seed_from_u64(seed ^ ARRIVALS_SALT),
            count: 0,
        };
        a.next = a.draw(0);
        a
    }

    /// The first kept candidate after `from`, or `u64::MAX` past the end.
    fn draw(&mut self, from: u64) -> u64 {
        if self.peak <= 0.0 {
            return u64::MAX;
        }
        let mut t = from;
        loop {
            let gap = self.rng.sample::<f64, _>(Exp1) / self.peak;
            t = t.saturating_add(round_u64(gap * 1e6).max(1));
            if t >= self.end.0 {
                return u64::MAX;
            }
            if self.constant || self.rng.random::<f64>() * self.peak < self.curve.at(Micros(t)) {
                return t;
            }
        }
    }

    /// When the next arrival comes, without taking it.
    pub fn peek(&self) -> Option<Micros> {
        (self.next != u64::MAX).then_some(Micros(self.next))
    }
}

/// One arrival: when, and its number from zero (each arrival's visitor
/// and pages are drawn from the seed and this number, so both engines
/// give arrival `index` the same session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Its planned instant.
    pub at: Micros,
    /// Its number, from zero.
    pub index: u64,
}

impl Iterator for Arrivals {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        let at = self.peek()?;
        self.next = self.draw(at.0);
        let index = self.count;
        self.count += 1;
        Some(Arrival { at, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Micros {
        Micros::from_secs(s)
    }

    #[test]
    #[allow(clippy::float_cmp)] // steps hold exact values
    fn steps_hold_and_ramps_interpolate_and_periods_repeat() {
        let steps = RateCurve {
            points: vec![(secs(0), 10.0), (secs(10), 30.0)],
            shape: Shape::Step,
            period: None,
        };
        assert_eq!(steps.at(secs(5)), 10.0);
        assert_eq!(steps.at(secs(10)), 30.0);
        assert_eq!(steps.at(secs(99)), 30.0);
        let ramp = RateCurve {
            shape: Shape::Linear,
            ..steps.clone()
        };
        assert!((ramp.at(secs(5)) - 20.0).abs() < 1e-9);
        assert_eq!(ramp.at(secs(20)), 30.0);
        let daily = RateCurve {
            period: Some(secs(20)),
            ..ramp
        };
        assert!((daily.at(secs(25)) - 20.0).abs() < 1e-9);
        assert!((steps.expected(secs(20)) - 400.0).abs() < 1e-6);
    }

    #[test]
    fn arrivals_follow_the_curve_and_repeat_for_a_seed() {
        let curve = RateCurve {
            points: vec![(secs(0), 100.0), (secs(50), 400.0)],
            shape: Shape::Step,
            period: None,
        };
        let all: Vec<Arrival> = Arrivals::new(&curve, 7, secs(100)).collect();
        let first = all.iter().filter(|a| a.at < secs(50)).count() as f64;
        let second = all.len() as f64 - first;
        // 5,000 and 20,000 expected; Poisson sd 71 and 141.
        assert!((first - 5_000.0).abs() < 300.0, "{first}");
        assert!((second - 20_000.0).abs() < 600.0, "{second}");
        assert!(all.windows(2).all(|w| w[0].at < w[1].at));
        assert!(all.iter().enumerate().all(|(i, a)| a.index == i as u64));
        let again: Vec<Arrival> = Arrivals::new(&curve, 7, secs(100)).collect();
        assert_eq!(all, again);
        assert!(
            Arrivals::new(&RateCurve::constant(0.0), 1, secs(9))
                .next()
                .is_none()
        );
    }
}
