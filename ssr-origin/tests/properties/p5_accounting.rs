//! Property 5, accounting: after every step each counter equals what the
//! answers and fetches show — `requests = hits + stale + misses + bypass`,
//! every fetch counted once — and at rest
//! `upstream fetches = misses + bypass + stale-if-error + refreshes − coalesced`
//! (a miss fetches unless it waited for another's fill; a failed fill that
//! stale-if-error answered fetched too; a refresh fetches for nobody).
//! The same holds at both layers of a stack (an edge over an origin cache).

use std::sync::Arc;

use futures::FutureExt;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_scenarios::{Clock, ManualClock, Micros};
use ttlab_ssr_origin::cache::{
    CacheKey, CacheLayer, CacheOutcome, Fetched, FillError, LockOutcome, MemoryStore, StaleReason,
};

use crate::arb;
use crate::broken::policy_caught;
use crate::harness::{
    Config, Counts, DRAIN, FetchResult, MAX_DRAIN, Op, Trace, Upstream, Val, library_key, run_both,
};
use crate::model::Policy;

/// Judges the counters after every step of `t`.
pub fn check(t: &Trace) -> Result<(), TestCaseError> {
    for (i, snap) in t.after.iter().enumerate() {
        let c = snap.counts;
        let answered: Vec<_> = t.responses.iter().filter(|r| r.op <= i).collect();
        let sent_bypass = t
            .requests
            .iter()
            .filter(|r| r.op <= i && r.key.is_none())
            .count() as u64;
        let count = |f: &dyn Fn(&crate::harness::Response) -> bool| {
            answered.iter().filter(|r| f(r)).count() as u64
        };
        let outcome = |r: &crate::harness::Response| r.answer.as_ref().ok().map(|s| s.outcome);
        let keyed = |r: &crate::harness::Response| t.request(r.req).key.is_some();
        let want = Counts {
            hits: count(&|r| outcome(r) == Some(CacheOutcome::Hit)),
            stale: count(&|r| outcome(r) == Some(CacheOutcome::Stale)),
            // A failed fill with nothing stale to serve is a miss.
            misses: count(&|r| {
                keyed(r) && (outcome(r) == Some(CacheOutcome::Miss) || r.answer.is_err())
            }),
            // Requests around the cache count when sent; private answers of
            // cacheable requests when answered.
            bypass: sent_bypass + count(&|r| keyed(r) && outcome(r) == Some(CacheOutcome::Bypass)),
            coalesced: count(&|r| {
                r.answer
                    .as_ref()
                    .is_ok_and(|s| s.lock == Some(LockOutcome::Waited))
            }),
            upstream_fetches: t.fetches.iter().filter(|f| f.op <= i).count() as u64,
            refreshes: t
                .fetches
                .iter()
                .filter(|f| {
                    f.op <= i
                        && t.responses.iter().any(|r| {
                            r.req == f.req
                                && r.op == f.op
                                && r.answer
                                    .as_ref()
                                    .is_ok_and(|s| s.reason == Some(StaleReason::Revalidating))
                        })
                })
                .count() as u64,
            stale_if_error: count(&|r| {
                r.answer
                    .as_ref()
                    .is_ok_and(|s| s.reason == Some(StaleReason::UpstreamError))
            }),
            fill_errors: t
                .fetches
                .iter()
                .filter(|f| {
                    f.end
                        .is_some_and(|(o, _, r)| o <= i && r == FetchResult::Err)
                })
                .count() as u64,
            purged: c.purged,
            evicted: c.evicted,
            ..Counts::default()
        };
        prop_assert_eq!(c, want, "counters after op {} ({:?})", i, t.ops[i]);
        prop_assert_eq!(
            c.requests(),
            sent_bypass + count(&keyed),
            "requests after op {}",
            i
        );
    }
    if let Some(end) = t.after.last() {
        prop_assert!(t.fetches.iter().all(|f| f.end.is_some()), "at rest");
        let c = end.counts;
        prop_assert_eq!(
            c.upstream_fetches,
            c.misses + c.bypass + c.stale_if_error + c.refreshes - c.coalesced,
            "upstream fetches at rest: {:?}",
            c
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn every_answer_and_fetch_is_counted_once(cfg in arb::config(), ops in arb::ops()) {
        check(&run_both(&cfg, &ops)?)?;
    }

    #[test]
    fn both_layers_of_a_stack_account(
        outer in arb::config(),
        inner in arb::config(),
        ops in arb::ops(),
    ) {
        stack(&outer, &inner, &ops)?;
    }
}

#[test]
fn a_layer_that_forgets_to_count_failed_fills_is_caught() {
    let broken = Policy {
        count_failed_fills: false,
        ..Policy::REFERENCE
    };
    policy_caught(
        "failed fills not counted",
        2_000,
        &broken,
        (arb::config(), arb::ops()),
        |_, t| check(t),
    );
}

type Layer = CacheLayer<Val, MemoryStore<Val>>;

fn layer(cfg: &Config, clock: &Arc<ManualClock>) -> Arc<Layer> {
    Arc::new(CacheLayer::new(
        cfg.layer_options(),
        Arc::new(MemoryStore::new(cfg.bounds).reclaiming(cfg.windows)),
        clock.clone(),
    ))
}

/// The edge's fetch: asks the origin layer under `key`, which fetches with
/// `origin_fetch`; the origin's private answer is the edge's, and its error
/// is the edge's failed fill.
fn via<F>(
    inner: &Arc<Layer>,
    key: CacheKey,
    origin_fetch: F,
) -> impl Fn() -> futures::future::BoxFuture<'static, Result<Fetched<Val>, FillError>>
+ Send
+ Sync
+ 'static
where
    F: Fn() -> futures::future::BoxFuture<'static, Result<Fetched<Val>, FillError>>
        + Send
        + Sync
        + 'static,
{
    let inner = inner.clone();
    let origin_fetch = Arc::new(origin_fetch);
    move || {
        let inner = inner.clone();
        let origin_fetch = origin_fetch.clone();
        async move {
            let f = move || (*origin_fetch)();
            inner.serve(key, f).await.map(|a| {
                let (tags, size) = (
                    crate::harness::page_tags(a.value.page),
                    crate::harness::page_size(a.value.page),
                );
                Fetched::new(a.value, a.outcome != CacheOutcome::Bypass, tags, size)
            })
        }
        .boxed()
    }
}

/// An edge over an origin cache: the outer layer's fetch is the inner
/// layer's `serve`. Each layer's answers add up to its requests, the inner
/// layer's requests are the outer's fetches, and at rest each layer's
/// fetches follow from its outcomes.
fn stack(outer_cfg: &Config, inner_cfg: &Config, ops: &[Op]) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::at(Micros::ZERO));
    let (outer, inner) = (layer(outer_cfg, &clock), layer(inner_cfg, &clock));
    let upstream = Upstream::default();
    let mut answered = 0u64;
    let mut sent = 0u64;
    let mut running = Vec::new();
    let settle = || async {
        for _ in 0..128 {
            tokio::task::yield_now().await;
        }
    };
    let mut i = 0;
    loop {
        let op = match ops.get(i) {
            Some(op) => *op,
            None if !upstream.parked().is_empty() && i < ops.len() + MAX_DRAIN => DRAIN,
            None => break,
        };
        i += 1;
        rt.block_on(async {
            match op {
                Op::Request(req) => {
                    let id = sent as u32;
                    sent += 1;
                    let key: Option<CacheKey> =
                        (!req.bypass).then(|| library_key(outer_cfg.strategy, req));
                    let origin_fetch =
                        upstream.fetcher(clock.clone() as Arc<dyn Clock>, id, req, key);
                    let fetch = via(&inner, library_key(inner_cfg.strategy, req), origin_fetch);
                    let outer = outer.clone();
                    running.push(match key {
                        Some(k) => tokio::spawn(async move { outer.serve(k, fetch).await }),
                        None => tokio::spawn(async move { outer.bypass(fetch).await }),
                    });
                }
                Op::Complete { pick, result } => upstream.complete(pick, result, i, clock.now()),
                Op::Advance(d) => clock.advance(d),
                Op::Purge(tag) => {
                    outer.purge(tag).await;
                    inner.purge(tag).await;
                }
                Op::Publish(_) => {}
            }
            settle().await;
            let mut still = Vec::new();
            for h in running.drain(..) {
                if h.is_finished() {
                    let _: Result<_, FillError> = h.await.unwrap();
                    answered += 1;
                } else {
                    still.push(h);
                }
            }
            running = still;
        });
        let (o, n) = (outer.counters().snapshot(), inner.counters().snapshot());
        // Requests around the edge count when sent, the others when answered.
        prop_assert!(
            o.requests() <= sent,
            "the edge counted requests it was not sent"
        );
        prop_assert!(answered <= o.requests(), "an answer the edge did not count");
        prop_assert!(
            n.requests() <= o.upstream_fetches,
            "the origin layer counted requests the edge did not send"
        );
    }
    let (o, n) = (outer.counters().snapshot(), inner.counters().snapshot());
    prop_assert!(upstream.parked().is_empty(), "drained");
    prop_assert_eq!(answered, sent);
    prop_assert_eq!(o.requests(), sent, "edge: hits + stale + misses + bypass");
    prop_assert_eq!(
        n.requests(),
        o.upstream_fetches,
        "origin requests = edge fetches"
    );
    for c in [o, n] {
        prop_assert_eq!(
            c.upstream_fetches,
            c.misses + c.bypass + c.stale_if_error + c.refreshes - c.coalesced,
            "{:?}",
            c
        );
    }
    Ok(())
}
