//! Property 6, metamorphic: the same timed trace under two configurations
//! that should compare. With no capacity limit a longer TTL never lowers the
//! hit ratio nor raises upstream fetches; keying on more never raises the
//! hit ratio; coalescing never raises upstream fetches; under LRU more
//! capacity never lowers the hit ratio.
//!
//! Preconditions, each a theorem's: no stale windows (with
//! stale-while-revalidate a longer TTL *can* lower the hit ratio — the
//! broken-rule test below shows proptest finding such a trace — and every
//! answer is cacheable. TTL, key and capacity traces are sequential (each
//! fetch ends before the next event); the coalescing trace has one latency
//! for every fetch, so a later fetch never ends first.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::KeyScope;
use ttlab_ssr_origin::cache::{Bounds, KeyStrategy, Windows};

use crate::arb;
use crate::broken::expect_failure;
use crate::harness::{Config, Counts, FetchResult, LayerRun, TAGS, U};
use crate::model::{Eviction, Model, Policy, Servable, reference_freshness};
use crate::timed::{Timed, TimedReq, run_virtual};

/// Ticks of a metamorphic trace: half a unit, so requests (even ticks) and
/// purges or fetch ends (odd ticks) never meet.
const TICK: Micros = Micros(U / 2);

/// Requests at even ticks (gaps of 1–3 units), purges in between.
fn trace(latency: u64, purges: bool) -> impl Strategy<Value = Timed> {
    let step = (1u64..=3, arb::req(), prop::option::weighted(0.15, 0..TAGS));
    prop::collection::vec(step, 1..50).prop_map(move |steps| {
        let mut at = 0;
        let mut t = Timed {
            requests: Vec::new(),
            purges: Vec::new(),
        };
        for (gap, mut req, purge) in steps {
            at += 2 * gap;
            req.bypass = false;
            t.requests.push(TimedReq {
                at,
                req,
                latency,
                result: FetchResult::Ok,
            });
            if let (true, Some(tag)) = (purges, purge) {
                t.purges.push((at + 1, tag));
            }
        }
        t
    })
}

fn strategy() -> impl Strategy<Value = KeyStrategy> {
    prop_oneof![
        Just(KeyStrategy::Url),
        Just(KeyStrategy::UrlVariants(KeyScope::Page)),
        Just(KeyStrategy::UrlVariants(KeyScope::All)),
    ]
}

fn cfg(ttl_units: u64, coalesce: bool, strategy: KeyStrategy, max_entries: Option<u64>) -> Config {
    Config {
        windows: Windows {
            ttl: Micros(ttl_units * U),
            swr: Micros::ZERO,
            sie: Micros::ZERO,
        },
        coalesce,
        strategy,
        bounds: Bounds {
            max_entries,
            max_bytes: None,
            ..Bounds::default()
        },
    }
}

/// How a trace is run: the real layer, or the model under some policy.
#[derive(Clone, Copy)]
enum Under {
    Layer,
    Model(Policy),
}

fn counts(under: Under, c: &Config, t: &Timed) -> Counts {
    let trace = match under {
        Under::Layer => run_virtual(LayerRun::new(c), t, TICK),
        Under::Model(p) => run_virtual(Model::new(&p, c), t, TICK),
    };
    trace.after.last().map(|s| s.counts).unwrap_or_default()
}

/// Hits from the cache (fresh or stale): the requests are the same in both
/// runs of a comparison, so comparing hits compares hit ratios.
fn hits(c: &Counts) -> u64 {
    c.hits + c.stale
}

fn longer_ttl(
    under: Under,
    t: &Timed,
    ttls: (u64, u64),
    co: bool,
    s: KeyStrategy,
) -> Result<(), TestCaseError> {
    let (short, long) = (ttls.0.min(ttls.1), ttls.0.max(ttls.1));
    let a = counts(under, &cfg(short, co, s, None), t);
    let b = counts(under, &cfg(long, co, s, None), t);
    prop_assert!(
        hits(&b) >= hits(&a),
        "ttl {} → {}: hits {:?} → {:?}",
        short,
        long,
        a,
        b
    );
    prop_assert!(
        b.upstream_fetches <= a.upstream_fetches,
        "ttl {} → {}: upstream {:?} → {:?}",
        short,
        long,
        a,
        b
    );
    Ok(())
}

/// URL only, then the page's experiences, then all experiences: each key
/// refines the one before, so hits can only fall.
fn keying_on_more(under: Under, t: &Timed, ttl: u64, co: bool) -> Result<(), TestCaseError> {
    let run = |s| counts(under, &cfg(ttl, co, s, None), t);
    let url = run(KeyStrategy::Url);
    let page = run(KeyStrategy::UrlVariants(KeyScope::Page));
    let all = run(KeyStrategy::UrlVariants(KeyScope::All));
    prop_assert!(hits(&url) >= hits(&page), "url {:?} page {:?}", url, page);
    prop_assert!(hits(&page) >= hits(&all), "page {:?} all {:?}", page, all);
    Ok(())
}

fn more_capacity(
    under: Under,
    t: &Timed,
    ttl: u64,
    caps: (u64, Option<u64>),
    s: KeyStrategy,
) -> Result<(), TestCaseError> {
    let (small, large) = (caps.0, caps.1.map(|c| c + caps.0));
    let a = counts(under, &cfg(ttl, true, s, Some(small)), t);
    let b = counts(under, &cfg(ttl, true, s, large), t);
    prop_assert!(
        hits(&b) >= hits(&a),
        "capacity {} → {:?}: {:?} → {:?}",
        small,
        large,
        a,
        b
    );
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn a_longer_ttl_never_lowers_hits_nor_raises_upstream_fetches(
        t in trace(0, true),
        ttls in (0u64..=8, 0u64..=8),
        coalesce in any::<bool>(),
        s in strategy(),
    ) {
        longer_ttl(Under::Layer, &t, ttls, coalesce, s)?;
    }

    #[test]
    fn keying_on_more_never_raises_hits(
        t in trace(0, true),
        ttl in 0u64..=8,
        coalesce in any::<bool>(),
    ) {
        keying_on_more(Under::Layer, &t, ttl, coalesce)?;
    }

    #[test]
    fn coalescing_never_raises_upstream_fetches(
        t in (0u64..=3).prop_flat_map(|l| trace(2 * l + 1, false)),
        ttl in 0u64..=8,
        s in strategy(),
    ) {
        let on = counts(Under::Layer, &cfg(ttl, true, s, None), &t);
        let off = counts(Under::Layer, &cfg(ttl, false, s, None), &t);
        prop_assert!(on.upstream_fetches <= off.upstream_fetches, "on {:?} off {:?}", on, off);
    }

    #[test]
    fn more_capacity_never_lowers_hits_under_lru(
        t in trace(0, true),
        ttl in 0u64..=12,
        caps in (1u64..=5, prop::option::of(1u64..=5)),
        s in strategy(),
    ) {
        more_capacity(Under::Layer, &t, ttl, caps, s)?;
    }
}

/// Serves stale while revalidating for another TTL, whatever `swr` says.
fn implicit_swr(age: Micros, w: Windows) -> Servable {
    match reference_freshness(age, w) {
        Servable::Expired | Servable::OnErrorOnly if age.0 < 2 * w.ttl.0 => Servable::Revalidate,
        f => f,
    }
}

#[test]
fn a_layer_that_revalidates_though_swr_is_zero_is_caught() {
    let broken = Policy {
        freshness: implicit_swr,
        ..Policy::REFERENCE
    };
    let strategy = (
        trace(0, true),
        (0u64..=8, 0u64..=8),
        any::<bool>(),
        strategy(),
    );
    let (t, ttls, co, s) = expect_failure("implicit swr", 4_000, strategy, |(t, ttls, co, s)| {
        longer_ttl(Under::Model(broken), &t, ttls, co, s)
    });
    longer_ttl(Under::Model(Policy::REFERENCE), &t, ttls, co, s).expect("the right rule passes");
}

/// Five keys in a random order, one unit apart: the small world in which
/// Belady's anomaly (FIFO missing more with more room) lives.
fn five_keys() -> impl Strategy<Value = Timed> {
    let key = (0usize..5).prop_map(|k| {
        let (page, v) = [
            (0, None),
            (0, Some(0)),
            (0, Some(1)),
            (1, Some(0)),
            (1, Some(1)),
        ][k];
        crate::harness::Req {
            page,
            variants: [v, None, None],
            bypass: false,
        }
    });
    prop::collection::vec(key, 8..30).prop_map(|reqs| Timed {
        requests: reqs
            .into_iter()
            .enumerate()
            .map(|(i, req)| TimedReq {
                at: 2 * i as u64,
                req,
                latency: 0,
                result: FetchResult::Ok,
            })
            .collect(),
        purges: Vec::new(),
    })
}

#[test]
fn fifo_eviction_is_caught() {
    let broken = Policy {
        eviction: Eviction::Fifo,
        ..Policy::REFERENCE
    };
    let page = KeyStrategy::UrlVariants(KeyScope::Page);
    let (t, small) = expect_failure(
        "FIFO eviction",
        20_000,
        (five_keys(), 1u64..=4),
        |(t, small)| more_capacity(Under::Model(broken), &t, 1_000, (small, Some(1)), page),
    );
    more_capacity(
        Under::Model(Policy::REFERENCE),
        &t,
        1_000,
        (small, Some(1)),
        page,
    )
    .expect("LRU passes");
}

/// An `all` key that claims every experience but loses experience 0 (the
/// one pages use): not a refinement of the `page` key at all.
fn all_but_experience_0(
    strategy: KeyStrategy,
    mut r: crate::harness::Req,
) -> ttlab_ssr_origin::cache::CacheKey {
    if strategy == KeyStrategy::UrlVariants(KeyScope::All) {
        r.variants[0] = None;
    }
    crate::harness::library_key(strategy, r)
}

#[test]
fn a_finer_key_that_drops_a_dimension_is_caught() {
    let broken = Policy {
        key: all_but_experience_0,
        ..Policy::REFERENCE
    };
    let strategy = (trace(0, true), 0u64..=8, any::<bool>());
    let (t, ttl, co) = expect_failure(
        "key dropping experience 0",
        2_000,
        strategy,
        |(t, ttl, co)| keying_on_more(Under::Model(broken), &t, ttl, co),
    );
    keying_on_more(Under::Model(Policy::REFERENCE), &t, ttl, co).expect("the right key passes");
}
