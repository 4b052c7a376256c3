//! Generators of layer configurations and operation sequences.
//!
//! Times are whole units ([`U`]) so ages meet window boundaries exactly;
//! keys come from few pages and visitors so they repeat; bounds are small so
//! eviction happens; results are mostly successes so entries get stored.

use proptest::prelude::*;
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::KeyScope;
use ttlab_ssr_origin::cache::{Bounds, KeyStrategy, Windows};

use crate::harness::{Config, EXPERIENCES, FetchResult, Op, PAGES, Req, TAGS, U};

/// TTL 0–5 units; SWR and SIE often 0, else 1–4 units.
pub fn windows() -> impl Strategy<Value = Windows> {
    let window = || prop_oneof![3 => Just(0u64), 2 => 1u64..=4];
    (0u64..=5, window(), window()).prop_map(|(ttl, swr, sie)| Windows {
        ttl: Micros(ttl * U),
        swr: Micros(swr * U),
        sie: Micros(sie * U),
    })
}

/// The two variant-keyed strategies.
pub fn variant_strategy() -> impl Strategy<Value = KeyStrategy> {
    prop_oneof![
        Just(KeyStrategy::UrlVariants(KeyScope::All)),
        Just(KeyStrategy::UrlVariants(KeyScope::Page)),
    ]
}

/// Often unbounded; else a few entries and/or bytes.
pub fn bounds() -> impl Strategy<Value = Bounds> {
    (
        prop_oneof![2 => Just(None), 1 => (1u64..=4).prop_map(Some)],
        prop_oneof![3 => Just(None), 1 => (2u64..=8).prop_map(Some)],
    )
        .prop_map(|(max_entries, max_bytes)| Bounds {
            max_entries,
            max_bytes,
            ..Bounds::default()
        })
}

/// A variant-keyed layer's configuration.
pub fn config() -> impl Strategy<Value = Config> {
    (windows(), any::<bool>(), variant_strategy(), bounds()).prop_map(
        |(windows, coalesce, strategy, bounds)| Config {
            windows,
            coalesce,
            strategy,
            bounds,
        },
    )
}

/// A visitor's variants: each experience none, 0 or 1.
pub fn variants() -> impl Strategy<Value = [Option<u8>; EXPERIENCES]> {
    let slot = || prop_oneof![Just(None), Just(Some(0u8)), Just(Some(1u8))];
    [slot(), slot(), slot()]
}

/// A request; one in ten goes around the cache.
pub fn req() -> impl Strategy<Value = Req> {
    (0..PAGES, variants(), prop::bool::weighted(0.1)).prop_map(|(page, variants, bypass)| Req {
        page,
        variants,
        bypass,
    })
}

/// How a fetch ends: mostly a cacheable answer.
pub fn result() -> impl Strategy<Value = FetchResult> {
    prop_oneof![
        6 => Just(FetchResult::Ok),
        1 => Just(FetchResult::Uncacheable),
        2 => Just(FetchResult::Err),
    ]
}

/// One operation.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => req().prop_map(Op::Request),
        4 => (0usize..6, result()).prop_map(|(pick, result)| Op::Complete { pick, result }),
        3 => (1u64..=3).prop_map(|d| Op::Advance(Micros(d * U))),
        1 => (0..TAGS).prop_map(Op::Purge),
        1 => (0..TAGS).prop_map(Op::Publish),
    ]
}

/// A sequence of up to 60 operations.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60)
}
