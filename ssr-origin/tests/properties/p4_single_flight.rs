//! Property 4, single flight: with coalescing, at most one fill per key is
//! in flight, besides the retries of waiters whose fill failed or was
//! private; every answer fetched in one step carries the page of the one
//! fetch that ended in it (all waiters get the same version); and a later
//! fill or refresh never replaces a newer stored page with an older one.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_ssr_origin::cache::{CacheOutcome, LockOutcome};

use crate::arb;
use crate::broken::policy_caught;
use crate::harness::{Config, FetchResult, Op, Trace, run_both};
use crate::model::Policy;

/// Judges the fetches and answers of `t`.
pub fn check(cfg: &Config, t: &Trace) -> Result<(), TestCaseError> {
    // One version for everyone answered by a fetch.
    for (resp, _, s) in t.served() {
        if matches!(s.outcome, CacheOutcome::Miss | CacheOutcome::Bypass) {
            prop_assert_eq!(
                t.ended_in(resp.op).map(|f| f.req),
                Some(s.value.fetch),
                "request {} got a fetched page other than the fetch that just ended",
                resp.req
            );
        }
        if s.lock == Some(LockOutcome::Waited) {
            prop_assert_ne!(s.value.fetch, resp.req, "a waiter fetched for itself");
        }
    }
    // A fetch that begins after its request did is a waiter's retry: only
    // after its key's fill failed or was private.
    let retry = |f: &crate::harness::FetchRec| f.op > t.request(f.req).op;
    for f in t.fetches.iter().filter(|f| f.key.is_some() && retry(f)) {
        let after = t.ended_in(f.op);
        prop_assert!(
            after.is_some_and(
                |e| e.key == f.key && e.end.is_some_and(|(_, _, r)| r != FetchResult::Ok)
            ),
            "request {} fetched again in op {} though no fill of its key failed",
            f.req,
            f.op
        );
    }
    // Coalescing: at most one first fill per key in flight after any step.
    if cfg.coalesce {
        for i in 0..t.ops.len() {
            let mut per_key = BTreeMap::new();
            for f in &t.fetches {
                let in_flight = f.op <= i && f.end.is_none_or(|(end, _, _)| end > i);
                if let (true, false, Some(k)) = (in_flight, retry(f), f.key) {
                    *per_key.entry(k).or_insert(0) += 1;
                }
            }
            prop_assert!(
                per_key.values().all(|n| *n <= 1),
                "after op {} two fills of one key are in flight: {:?}",
                i,
                per_key
            );
        }
    }
    // Newer never replaced by older: between two answers from the cache for
    // one key with nothing purged, evicted or past its lifetime in between,
    // the page's fetch never goes back in time. Once the earlier answer's
    // entry has outlived ttl + the longer stale window (ages count from the
    // store), the key holds nothing, and a fill completing then is stored
    // whatever instant its fetch began.
    let w = &cfg.windows;
    let lifetime = w.ttl.0 + w.swr.0.max(w.sie.0);
    let mut last = BTreeMap::new();
    for (resp, rec, s) in t.served() {
        if !matches!(s.outcome, CacheOutcome::Hit | CacheOutcome::Stale) {
            continue;
        }
        let stored = resp.at.0.saturating_sub(s.age.0);
        if let Some((op, started, was_stored)) =
            last.insert(rec.key, (resp.op, s.value.started, stored))
        {
            let purged = t.ops[op + 1..=resp.op]
                .iter()
                .any(|o| matches!(o, Op::Purge(_)));
            let evicted = t.after[op].counts.evicted != t.after[resp.op].counts.evicted;
            let expired = resp.at.0 >= was_stored + lifetime;
            if !purged && !evicted && !expired {
                prop_assert!(
                    s.value.started >= started,
                    "request {} got a page fetched at {} after one fetched at {} was served",
                    resp.req,
                    s.value.started.0,
                    started.0
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn one_fill_per_key_one_version_per_fill_never_older(
        cfg in arb::config(),
        ops in arb::ops(),
    ) {
        check(&cfg, &run_both(&cfg, &ops)?)?;
    }
}

fn coalescing() -> impl Strategy<Value = Config> {
    arb::config().prop_map(|c| Config {
        coalesce: true,
        ..c
    })
}

#[test]
fn a_layer_that_ignores_its_cache_lock_is_caught() {
    let broken = Policy {
        coalesce: false,
        ..Policy::REFERENCE
    };
    policy_caught(
        "no cache lock",
        2_000,
        &broken,
        (coalescing(), arb::ops()),
        check,
    );
}

#[test]
fn a_store_that_lets_an_older_fetch_replace_a_newer_one_is_caught() {
    let broken = Policy {
        keep_newer: false,
        ..Policy::REFERENCE
    };
    policy_caught(
        "older replaces newer",
        4_000,
        &broken,
        (arb::config(), arb::ops()),
        check,
    );
}
