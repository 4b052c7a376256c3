//! Property 8, bounded memory: after any operation a store holds at most
//! `max_entries` entries and `max_bytes` bytes — through the layer, and on
//! the store alone, where a second plain model also checks every put's
//! outcome (purge barrier, newer kept, too large), every lookup and every
//! purge against arbitrary fetch instants.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_scenarios::Micros;
use ttlab_ssr_origin::cache::{Bounds, CacheKey, Cached, MemoryStore, PutOutcome, Stored, Tag};

use crate::arb;
use crate::broken::policy_caught;
use crate::harness::{Config, FetchResult, Trace, run_both};
use crate::model::{Policy, Reclaim};

/// After every step of `t`, the store is within `cfg`'s bounds.
pub fn check(cfg: &Config, t: &Trace) -> Result<(), TestCaseError> {
    for (i, s) in t.after.iter().enumerate() {
        if let Some(m) = cfg.bounds.max_entries {
            prop_assert!(
                s.len as u64 <= m,
                "{} entries > {} after op {}",
                s.len,
                m,
                i
            );
        }
        if let Some(m) = cfg.bounds.max_bytes {
            prop_assert!(s.bytes <= m, "{} bytes > {} after op {}", s.bytes, m, i);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn a_layer_never_holds_more_than_its_bounds(cfg in arb::config(), ops in arb::ops()) {
        check(&cfg, &run_both(&cfg, &ops)?)?;
    }

    #[test]
    fn the_memory_store_is_a_bounded_lru_map_with_a_purge_barrier(
        bounds in arb::bounds(),
        ops in prop::collection::vec(store_op(), 1..80),
    ) {
        store_agrees(bounds, &ops)?;
    }
}

#[test]
fn eviction_one_entry_late_is_caught() {
    let broken = Policy {
        entry_slack: 1,
        ..Policy::REFERENCE
    };
    policy_caught(
        "evicting one entry late",
        2_000,
        &broken,
        (arb::config(), arb::ops()),
        check,
    );
}

/// An operation on a store alone.
#[derive(Clone, Copy, Debug)]
enum StoreOp {
    Put {
        key: u8,
        fetched_at: u64,
        tag: Tag,
        size: u32,
    },
    Get(u8),
    Purge {
        tag: Tag,
        at: u64,
    },
}

fn store_op() -> impl Strategy<Value = StoreOp> {
    prop_oneof![
        4 => (0u8..6, 0u64..10, 0u32..3, 1u32..=4)
            .prop_map(|(key, fetched_at, tag, size)| StoreOp::Put { key, fetched_at, tag, size }),
        3 => (0u8..6).prop_map(StoreOp::Get),
        1 => (0u32..3, 0u64..10).prop_map(|(tag, at)| StoreOp::Purge { tag, at }),
    ]
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct E {
    key: u8,
    /// The put's index, as the value.
    value: usize,
    fetched_at: u64,
    tag: Tag,
    size: u32,
}

/// Runs `ops` on a [`MemoryStore`] and on a vector in recency order.
fn store_agrees(bounds: Bounds, ops: &[StoreOp]) -> Result<(), TestCaseError> {
    let store = MemoryStore::new(bounds);
    let mut model: Vec<E> = Vec::new();
    let mut barrier: Vec<(Tag, u64)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            StoreOp::Put {
                key,
                fetched_at,
                tag,
                size,
            } => {
                let got = store.put_now(
                    CacheKey(u128::from(key)),
                    Stored {
                        value: i,
                        stored_at: Micros(fetched_at),
                        fetched_at: Micros(fetched_at),
                        tags: [tag].into_iter().collect(),
                        size,
                    },
                );
                let old = model.iter().position(|e| e.key == key);
                let want = if barrier.iter().any(|(t, at)| *t == tag && fetched_at <= *at) {
                    PutOutcome::PurgedMeanwhile
                } else if old.is_some_and(|o| model[o].fetched_at > fetched_at) {
                    PutOutcome::KeptNewer
                } else if bounds.max_bytes.is_some_and(|m| u64::from(size) > m) {
                    PutOutcome::TooLarge
                } else {
                    if let Some(o) = old {
                        model.remove(o);
                    }
                    model.push(E {
                        key,
                        value: i,
                        fetched_at,
                        tag,
                        size,
                    });
                    let mut evicted = 0;
                    if bounds.max_entries.is_some_and(|m| model.len() as u64 > m) {
                        model.remove(0);
                        evicted += 1;
                    }
                    let bytes = |m: &Vec<E>| m.iter().map(|e| u64::from(e.size)).sum::<u64>();
                    while bounds.max_bytes.is_some_and(|m| bytes(&model) > m) {
                        model.remove(0);
                        evicted += 1;
                    }
                    PutOutcome::Stored { evicted }
                };
                prop_assert_eq!(got, want, "op {}: {:?}", i, op);
            }
            StoreOp::Get(key) => {
                let got = store.get_now(CacheKey(u128::from(key)));
                let want = model.iter().position(|e| e.key == key).map(|o| {
                    let e = model.remove(o);
                    model.push(e.clone());
                    Cached {
                        value: e.value,
                        stored_at: Micros(e.fetched_at),
                        fetched_at: Micros(e.fetched_at),
                    }
                });
                prop_assert_eq!(got, want, "op {}: {:?}", i, op);
            }
            StoreOp::Purge { tag, at } => {
                let got = store.purge_now(tag, Micros(at));
                barrier.push((tag, at));
                let before = model.len();
                model.retain(|e| e.tag != tag);
                prop_assert_eq!(got, before - model.len(), "op {}: {:?}", i, op);
            }
        }
        prop_assert_eq!(store.len(), model.len(), "entries after op {}", i);
        let bytes: u64 = model.iter().map(|e| u64::from(e.size)).sum();
        prop_assert_eq!(store.bytes(), bytes, "bytes after op {}", i);
        if let Some(m) = bounds.max_entries {
            prop_assert!(store.len() as u64 <= m);
        }
        if let Some(m) = bounds.max_bytes {
            prop_assert!(store.bytes() <= m);
        }
    }
    Ok(())
}

/// Reclaiming: a store never keeps an entry two lifetimes (ttl + the longer
/// stale window) older than its latest put. A put finds a sweep due at most
/// one lifetime after the last one, and a sweep drops every entry that can
/// no longer be served; so after every step the store holds at most as many
/// entries as were stored within two lifetimes of the latest put.
pub fn check_reclaimed(cfg: &Config, t: &Trace) -> Result<(), TestCaseError> {
    let lifetime = crate::model::reference_lifetime(cfg.windows).0;
    for (i, s) in t.after.iter().enumerate() {
        // Every cacheable answer with a key, completed by step i, was put.
        let puts: Vec<u64> = t
            .fetches
            .iter()
            .filter(|f| f.key.is_some())
            .filter_map(|f| f.end)
            .filter(|&(op, _, result)| op <= i && result == FetchResult::Ok)
            .map(|(_, at, _)| at.0)
            .collect();
        let Some(&last) = puts.iter().max() else {
            continue;
        };
        let recent = puts
            .iter()
            .filter(|&&at| at.saturating_add(2 * lifetime) >= last)
            .count();
        prop_assert!(
            s.len <= recent,
            "{} entries after op {} but only {} stored within two lifetimes ({} µs) of the last put at {}",
            s.len,
            i,
            recent,
            2 * lifetime,
            last
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn a_layer_reclaims_what_it_can_no_longer_serve(cfg in arb::config(), ops in arb::ops()) {
        check_reclaimed(&cfg, &run_both(&cfg, &ops)?)?;
    }
}

#[test]
fn a_store_that_never_reclaims_is_caught() {
    let broken = Policy {
        reclaim: Reclaim::Never,
        ..Policy::REFERENCE
    };
    policy_caught(
        "a store that keeps entries it can never serve again",
        2_000,
        &broken,
        (arb::config(), arb::ops()),
        check_reclaimed,
    );
}
