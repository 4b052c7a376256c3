//! The resolution rule of a run's series: full per-second detail for a run
//! of up to [`MAX_POINTS`] seconds, at most [`MAX_POINTS`] points for a
//! longer one.
//!
//! A series is a list of buckets of `width` seconds each, `width` a power
//! of two. When a second falls past the last bucket the bound allows,
//! adjacent buckets merge pairwise and the width doubles, as often as
//! needed: bucket `k` of width `2w` is exactly buckets `2k` and `2k + 1` of
//! width `w`, so counts add and histograms add (HDR histograms add
//! exactly), and a percentile of a coarse bucket is read from its merged
//! histogram, never averaged. A series therefore holds at most
//! [`MAX_POINTS`] buckets however long the run, and between
//! `MAX_POINTS / 2` and [`MAX_POINTS`] once it has coarsened.
//!
//! The recorder of every run (real or simulated) and `ttlab merge` follow
//! this one rule.

/// The most points a series holds: 1,024
/// ([`ttlab_scenarios::bounds::MAX_SERIES_POINTS`], where the memory
/// estimate reads it), so a 17-minute run keeps one point per second (every
/// shipped scenario and sweep lasts at most a minute), and a day is drawn
/// at 128 s a point (675 points), finer than a report's charts can show.
/// Memory and report size are bounded by it, not by the run's length.
pub const MAX_POINTS: usize = ttlab_scenarios::bounds::MAX_SERIES_POINTS;

/// Whether second `second` of a run falls within the series' bound at
/// buckets of `2^shift` seconds.
#[must_use]
pub const fn fits(second: usize, shift: u32) -> bool {
    (second >> shift) < MAX_POINTS
}

/// The bucket width, as a power of two (`2^shift` seconds), of a series
/// that reaches second `second`: the finest the bound allows.
#[must_use]
pub fn shift_for(second: usize) -> u32 {
    let mut shift = 0;
    while !fits(second, shift) {
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_up_to_the_bound_keeps_seconds_and_a_day_gets_128_s_points() {
        assert_eq!(shift_for(0), 0);
        assert_eq!(shift_for(MAX_POINTS - 1), 0);
        assert_eq!(shift_for(MAX_POINTS), 1);
        assert_eq!(shift_for(2 * MAX_POINTS - 1), 1);
        assert_eq!(shift_for(2 * MAX_POINTS), 2);
        let day = shift_for(86_399);
        assert_eq!(1 << day, 128);
        assert_eq!((86_399 >> day) + 1, 675);
    }
}
