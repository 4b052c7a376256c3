//! Freshness of a stored entry: a pure function of when it was stored, now,
//! and the layer's TTL, stale-while-revalidate and stale-if-error windows.
//!
//! An entry of age `a` (now − stored at) is fresh while `a < ttl` (HTTP's
//! "freshness lifetime > current age": at exactly `ttl` it is stale). After
//! that it may be served stale while `a < ttl + swr` with one background
//! refresh, or while `a < ttl + sie` when the upstream fails. With `ttl = 0`
//! and no stale windows nothing is ever servable: the same as no cache.

use ttlab_scenarios::Micros;
use ttlab_scenarios::model::CacheOptions;

/// The windows of one caching layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Freshness lifetime.
    pub ttl: Micros,
    /// Stale-while-revalidate window after the TTL.
    pub swr: Micros,
    /// Stale-if-error window after the TTL.
    pub sie: Micros,
}

impl From<&CacheOptions> for Windows {
    fn from(o: &CacheOptions) -> Self {
        Windows {
            ttl: o.ttl,
            swr: o.stale_while_revalidate,
            sie: o.stale_if_error,
        }
    }
}

/// How servable a stored entry is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it (`HIT`).
    Fresh,
    /// Past its TTL but servable in some case.
    Stale {
        /// Within stale-while-revalidate: serve it and refresh in the background.
        revalidate: bool,
        /// Within stale-if-error: serve it if the upstream fill fails.
        if_error: bool,
    },
    /// Not servable at all: fill from upstream.
    Expired,
}

impl Freshness {
    /// Whether the entry may be served if the upstream fails.
    pub const fn servable_on_error(self) -> bool {
        matches!(
            self,
            Freshness::Fresh | Freshness::Stale { if_error: true, .. }
        )
    }
}

/// The freshness of an entry stored at `stored_at`, at `now`.
pub fn freshness(stored_at: Micros, now: Micros, w: Windows) -> Freshness {
    let age = now.saturating_sub(stored_at);
    if age < w.ttl {
        return Freshness::Fresh;
    }
    let past = age.saturating_sub(w.ttl);
    let revalidate = past < w.swr;
    let if_error = past < w.sie;
    if revalidate || if_error {
        Freshness::Stale {
            revalidate,
            if_error,
        }
    } else {
        Freshness::Expired
    }
}

/// How long after it was stored an entry can still be served in some
/// case: its TTL and the longer of the two stale windows. Past that age it
/// can never be served again, so a store may drop it (memory stores reclaim
/// it, Redis expires it some time after).
pub fn lifetime(w: Windows) -> Micros {
    w.ttl.saturating_add(w.swr.max(w.sie))
}

/// Whether an entry stored at `stored_at` can ever be served again after
/// `now` (false: a store may drop it).
pub fn servable_ever(stored_at: Micros, now: Micros, w: Windows) -> bool {
    now.saturating_sub(stored_at) < lifetime(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn w(ttl: u64, swr: u64, sie: u64) -> Windows {
        Windows {
            ttl: Micros(ttl * S),
            swr: Micros(swr * S),
            sie: Micros(sie * S),
        }
    }

    fn at(stored: u64, now_us: u64, win: Windows) -> Freshness {
        freshness(Micros(stored * S), Micros(now_us), win)
    }

    #[test]
    fn every_boundary() {
        let win = w(10, 5, 20);
        // Fresh until one microsecond before the TTL.
        assert_eq!(at(0, 0, win), Freshness::Fresh);
        assert_eq!(at(0, 10 * S - 1, win), Freshness::Fresh);
        // At exactly the TTL: stale, within both windows.
        assert_eq!(
            at(0, 10 * S, win),
            Freshness::Stale {
                revalidate: true,
                if_error: true
            }
        );
        assert_eq!(
            at(0, 15 * S - 1, win),
            Freshness::Stale {
                revalidate: true,
                if_error: true
            }
        );
        // The SWR window ends at ttl + swr (exclusive); SIE goes on.
        assert_eq!(
            at(0, 15 * S, win),
            Freshness::Stale {
                revalidate: false,
                if_error: true
            }
        );
        assert_eq!(
            at(0, 30 * S - 1, win),
            Freshness::Stale {
                revalidate: false,
                if_error: true
            }
        );
        assert_eq!(at(0, 30 * S, win), Freshness::Expired);
        // Stored in the future (clock skew across replicas): fresh, not a panic.
        assert_eq!(at(5, 0, win), Freshness::Fresh);
    }

    #[test]
    fn windows_alone() {
        assert_eq!(at(0, 10 * S, w(10, 0, 0)), Freshness::Expired);
        assert_eq!(
            at(0, 10 * S, w(10, 1, 0)),
            Freshness::Stale {
                revalidate: true,
                if_error: false
            }
        );
        assert_eq!(
            at(0, 10 * S, w(10, 0, 1)),
            Freshness::Stale {
                revalidate: false,
                if_error: true
            }
        );
        assert!(Freshness::Fresh.servable_on_error());
        assert!(
            !Freshness::Stale {
                revalidate: true,
                if_error: false
            }
            .servable_on_error()
        );
        assert!(!Freshness::Expired.servable_on_error());
    }

    #[test]
    fn ttl_zero_without_windows_is_no_cache() {
        for now in [0, 1, S, 1000 * S] {
            assert_eq!(
                freshness(Micros::ZERO, Micros(now), w(0, 0, 0)),
                Freshness::Expired
            );
        }
        assert!(!servable_ever(Micros::ZERO, Micros::ZERO, w(0, 0, 0)));
        assert!(servable_ever(Micros::ZERO, Micros(29 * S), w(10, 5, 20)));
        assert!(!servable_ever(Micros::ZERO, Micros(30 * S), w(10, 5, 20)));
    }
}
