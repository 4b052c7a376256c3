//! Named outcomes of a caching layer, and the counters of each.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use ttlab_scenarios::LayerCounts;

/// What a layer did with one request; feeds `x-cache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheOutcome {
    /// Served a fresh stored entry.
    Hit,
    /// Served a stale stored entry (while revalidating, or because the
    /// upstream failed).
    Stale,
    /// Went upstream; the answer may have been stored.
    Miss,
    /// Went upstream around the cache: the request or the answer was not
    /// cacheable, or the store was unavailable.
    Bypass,
}

impl CacheOutcome {
    /// The `x-cache` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "HIT",
            CacheOutcome::Stale => "STALE",
            CacheOutcome::Miss => "MISS",
            CacheOutcome::Bypass => "BYPASS",
        }
    }

    /// Parses an `x-cache` value.
    pub fn parse(s: &str) -> Option<CacheOutcome> {
        [
            CacheOutcome::Hit,
            CacheOutcome::Stale,
            CacheOutcome::Miss,
            CacheOutcome::Bypass,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// Counts this answer in plain `counts` (the simulator's stepped layer,
    /// one owner); the concurrent layer counts in [`LayerCounters::count`].
    pub fn count_in(self, counts: &mut LayerCounts) {
        match self {
            CacheOutcome::Hit => counts.hits += 1,
            CacheOutcome::Stale => counts.stale += 1,
            CacheOutcome::Miss => counts.misses += 1,
            CacheOutcome::Bypass => counts.bypass += 1,
        }
    }
}

/// How a request that missed got its answer (the cache lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockOutcome {
    /// Fetched from upstream itself, holding the lock for its key.
    Leader,
    /// Waited for another request's fetch and took its answer.
    Waited,
    /// Waited past the lock timeout, then fetched itself.
    WaitTimeout,
    /// The leader's answer was not for sharing (uncacheable or failed):
    /// fetched itself.
    Released,
    /// Coalescing is off: fetched itself.
    Unlocked,
}

/// Why a stale entry was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StaleReason {
    /// Within stale-while-revalidate; a refresh runs in the background.
    Revalidating,
    /// Within stale-if-error; the upstream failed.
    UpstreamError,
}

/// Counters of one caching layer, as the concurrent accumulator: atomic,
/// shared with the metrics registry. Read them as plain numbers with
/// [`Self::snapshot`]. `hits + stale + misses + bypass` is the number of
/// requests the layer answered.
#[derive(Clone, Debug, Default)]
pub struct LayerCounters {
    /// `HIT` answers.
    pub hits: Counter,
    /// `STALE` answers.
    pub stale: Counter,
    /// `MISS` answers.
    pub misses: Counter,
    /// `BYPASS` answers.
    pub bypass: Counter,
    /// Misses answered by waiting for another request's fetch.
    pub coalesced: Counter,
    /// Waits that hit the lock timeout.
    pub lock_timeouts: Counter,
    /// Upstream fetches started (fills and refreshes).
    pub upstream_fetches: Counter,
    /// Background refreshes started by stale-while-revalidate.
    pub refreshes: Counter,
    /// Stale answers because the upstream failed (part of `stale`).
    pub stale_if_error: Counter,
    /// Upstream fetches that failed.
    pub fill_errors: Counter,
    /// Entries dropped by purge.
    pub purged: Counter,
    /// Entries evicted by the bounds.
    pub evicted: Counter,
    /// Store operations that failed or timed out (a shared store that is
    /// down or slow); the layer goes on without the cache.
    pub store_errors: Counter,
    /// `BYPASS` answers because the store was unavailable (part of
    /// `bypass`): the lookup failed, or the store had just failed and is
    /// left alone for a moment ([`super::layer::STORE_RETRY`]).
    pub store_bypass: Counter,
    /// Fills answered from a shared store with another replica's fill,
    /// after waiting for its cross-replica lock: no upstream fetch here.
    pub remote_fills: Counter,
}

impl LayerCounters {
    /// Every counter with its metric name and help, in one place for
    /// [`Self::register`] and [`Self::sum`].
    fn fields(&self) -> [(&'static str, &'static str, &Counter); 15] {
        [
            ("cache_hits", "HIT answers", &self.hits),
            ("cache_stale", "STALE answers", &self.stale),
            ("cache_misses", "MISS answers", &self.misses),
            ("cache_bypass", "BYPASS answers", &self.bypass),
            (
                "cache_coalesced",
                "Misses answered by another request's fetch",
                &self.coalesced,
            ),
            (
                "cache_lock_timeouts",
                "Waits past the lock timeout",
                &self.lock_timeouts,
            ),
            (
                "cache_upstream_fetches",
                "Upstream fetches started",
                &self.upstream_fetches,
            ),
            (
                "cache_refreshes",
                "Background refreshes started",
                &self.refreshes,
            ),
            (
                "cache_stale_if_error",
                "Stale answers because the upstream failed",
                &self.stale_if_error,
            ),
            (
                "cache_fill_errors",
                "Upstream fetches that failed",
                &self.fill_errors,
            ),
            ("cache_purged", "Entries dropped by purge", &self.purged),
            (
                "cache_evicted",
                "Entries evicted by the bounds",
                &self.evicted,
            ),
            (
                "cache_store_errors",
                "Store operations that failed",
                &self.store_errors,
            ),
            (
                "cache_store_bypass",
                "BYPASS answers because the store was unavailable",
                &self.store_bypass,
            ),
            (
                "cache_remote_fills",
                "Fills answered by another replica's fill through the shared store",
                &self.remote_fills,
            ),
        ]
    }

    /// Adds the counters to a registry, under the layer's label.
    pub fn register(&self, registry: &mut Registry, layer: &str) {
        let sub = registry.sub_registry_with_label(("layer".into(), layer.to_owned().into()));
        for (name, help, c) in self.fields() {
            sub.register(name, help, c.clone());
        }
    }

    /// The counters of several layers added up (origin replicas sharing a
    /// store report as one layer): a new set, not tied to any of them.
    pub fn sum<'a>(layers: impl IntoIterator<Item = &'a LayerCounters>) -> LayerCounters {
        let total = LayerCounters::default();
        for l in layers {
            for ((_, _, to), (_, _, from)) in total.fields().into_iter().zip(l.fields()) {
                to.inc_by(from.get());
            }
        }
        total
    }

    /// Requests answered ([`LayerCounts::requests`] of a snapshot).
    pub fn requests(&self) -> u64 {
        self.snapshot().requests()
    }

    /// The counters' values now, as the one plain counts type that goes on
    /// to the live view and the report.
    pub fn snapshot(&self) -> LayerCounts {
        LayerCounts {
            hits: self.hits.get(),
            stale: self.stale.get(),
            misses: self.misses.get(),
            bypass: self.bypass.get(),
            coalesced: self.coalesced.get(),
            lock_timeouts: self.lock_timeouts.get(),
            upstream_fetches: self.upstream_fetches.get(),
            refreshes: self.refreshes.get(),
            stale_if_error: self.stale_if_error.get(),
            fill_errors: self.fill_errors.get(),
            purged: self.purged.get(),
            evicted: self.evicted.get(),
            store_errors: self.store_errors.get(),
            store_bypass: self.store_bypass.get(),
            remote_fills: self.remote_fills.get(),
        }
    }

    /// Counts an answer.
    pub fn count(&self, outcome: CacheOutcome) {
        match outcome {
            CacheOutcome::Hit => self.hits.inc(),
            CacheOutcome::Stale => self.stale.inc(),
            CacheOutcome::Miss => self.misses.inc(),
            CacheOutcome::Bypass => self.bypass.inc(),
        };
    }
}
