//! What one caching layer counted, as plain numbers: the one type that
//! carries a layer's counts from the layer (the real layer's atomic
//! counters snapshot into it, the simulator's stepped layer keeps it) through
//! the live view to the report.
//!
//! It lives here, in the crate every other one already depends on, because
//! the cache library (`ttlab-ssr-origin`) and the report model
//! (`ttlab-reports`) both need it and neither may depend on the other.

/// A caching layer's counts. `hits + stale + misses + bypass` is the number
/// of requests the layer answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerCounts {
    /// `HIT` answers.
    pub hits: u64,
    /// `STALE` answers (stale-while-revalidate, stale-if-error).
    pub stale: u64,
    /// `MISS` answers (an upstream fill).
    pub misses: u64,
    /// `BYPASS` answers: went upstream around the cache.
    pub bypass: u64,
    /// Misses answered by waiting for another request's fetch.
    pub coalesced: u64,
    /// Waits that hit the lock timeout.
    pub lock_timeouts: u64,
    /// Upstream fetches started (fills and refreshes).
    pub upstream_fetches: u64,
    /// Background refreshes started by stale-while-revalidate.
    pub refreshes: u64,
    /// Stale answers because the upstream failed (part of `stale`).
    pub stale_if_error: u64,
    /// Upstream fetches that failed.
    pub fill_errors: u64,
    /// Entries dropped by purge.
    pub purged: u64,
    /// Entries evicted by the bounds.
    pub evicted: u64,
    /// Store operations that failed or timed out (a shared store down or
    /// slow).
    pub store_errors: u64,
    /// `BYPASS` answers because the store was unavailable (part of
    /// `bypass`): an outage, not an uncacheable request.
    pub store_bypass: u64,
    /// Fills answered by another replica's entry through a shared store,
    /// which fetched nothing here.
    pub remote_fills: u64,
}

impl LayerCounts {
    /// Every count, in declaration order, for the arithmetic below: one list,
    /// so a new count cannot be forgotten by `since` or `add`.
    fn fields_mut(&mut self) -> [&mut u64; 15] {
        [
            &mut self.hits,
            &mut self.stale,
            &mut self.misses,
            &mut self.bypass,
            &mut self.coalesced,
            &mut self.lock_timeouts,
            &mut self.upstream_fetches,
            &mut self.refreshes,
            &mut self.stale_if_error,
            &mut self.fill_errors,
            &mut self.purged,
            &mut self.evicted,
            &mut self.store_errors,
            &mut self.store_bypass,
            &mut self.remote_fills,
        ]
    }

    /// Requests answered: hits + stale + misses + bypass.
    pub fn requests(&self) -> u64 {
        self.hits + self.stale + self.misses + self.bypass
    }

    /// Answers from the cache (`HIT` and `STALE`) over all answers; 0 with
    /// none. The only place the hit rate is computed: always from counts,
    /// never added up, so a merge computes it again from the sums.
    pub fn hit_rate(&self) -> f64 {
        let all = self.requests();
        if all == 0 {
            0.0
        } else {
            (self.hits + self.stale) as f64 / all as f64
        }
    }

    /// What `self` counted beyond `earlier` (counts only grow): one second
    /// of a live view from two cumulative readings.
    #[must_use]
    pub fn since(&self, earlier: &LayerCounts) -> LayerCounts {
        let mut d = *self;
        let mut earlier = *earlier;
        for (to, from) in d.fields_mut().into_iter().zip(earlier.fields_mut()) {
            *to = to.saturating_sub(*from);
        }
        d
    }

    /// Adds `other` into `self`: replicas, seconds or load machines summed.
    pub fn add(&mut self, other: &LayerCounts) {
        let mut other = *other;
        for (to, from) in self.fields_mut().into_iter().zip(other.fields_mut()) {
            *to += *from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LayerCounts;

    #[test]
    fn counts_subtract_add_and_rate() {
        let a = LayerCounts {
            hits: 5,
            stale: 1,
            misses: 3,
            bypass: 1,
            remote_fills: 2,
            ..LayerCounts::default()
        };
        let b = LayerCounts {
            hits: 9,
            stale: 1,
            misses: 4,
            bypass: 2,
            store_bypass: 1,
            remote_fills: 3,
            ..LayerCounts::default()
        };
        let d = b.since(&a);
        assert_eq!(d.requests(), 6);
        assert_eq!(d.remote_fills, 1);
        let mut sum = a;
        sum.add(&d);
        assert_eq!(sum, b);
        assert!((b.hit_rate() - 10.0 / 16.0).abs() < 1e-12);
        assert!(LayerCounts::default().hit_rate().abs() < f64::EPSILON);
    }
}
