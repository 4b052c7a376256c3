//! Property 7: a TTL of zero with no stale windows behaves exactly like no
//! cache; and the cache library gives the same outcomes for the same timed
//! trace however it runs: the layer on the system clock, the layer on the
//! virtual clock, and the simulator's [`SteppedLayer`] driven by events.
//!
//! [`SteppedLayer`]: ttlab_ssr_origin::cache::SteppedLayer

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_scenarios::Micros;
use ttlab_ssr_origin::cache::{Bounds, CacheOutcome, LockOutcome, Windows};

use crate::arb;
use crate::broken::{expect_failure, policy_caught};
use crate::harness::{Config, FetchResult, LayerRun, Op, Trace, run_both};
use crate::model::{self, Policy, Servable, reference_freshness};
use crate::timed::{Timed, TimedReq, got, run_real, run_stepped, run_virtual};

/// With ttl = swr = sie = 0: nothing is ever served from the cache; each
/// answer is the page of a fetch in flight while it waited — its own
/// without coalescing, so then the answers are those of no cache at all:
/// every request gets its own fetch's page, or its error.
pub fn check(cfg: &Config, t: &Trace) -> Result<(), TestCaseError> {
    for r in &t.responses {
        let own = t.fetch_of(r.req);
        match &r.answer {
            Ok(s) => {
                prop_assert!(
                    matches!(s.outcome, CacheOutcome::Miss | CacheOutcome::Bypass),
                    "request {}: {:?} with ttl 0",
                    r.req,
                    s.outcome
                );
                let f = t.fetch_of(s.value.fetch).expect("fetched");
                let sent = t.request(r.req).op;
                prop_assert!(
                    f.end.is_some_and(|(end, _, _)| end == r.op),
                    "request {}: a page not from a fetch that ended as it was answered",
                    r.req
                );
                if cfg.coalesce && s.lock == Some(LockOutcome::Waited) {
                    prop_assert!(f.op <= sent, "a waiter got a fetch begun after it");
                } else {
                    prop_assert_eq!(s.value.fetch, r.req, "without the lock, its own fetch");
                }
            }
            Err(_) => prop_assert!(
                own.is_some_and(|f| f
                    .end
                    .is_some_and(|(o, _, res)| o == r.op && res == FetchResult::Err)),
                "request {}: an error that is not its own fetch's",
                r.req
            ),
        }
    }
    if !cfg.coalesce {
        prop_assert_eq!(t.fetches.len(), t.requests.len(), "one fetch per request");
    }
    Ok(())
}

fn ttl_zero() -> impl Strategy<Value = Config> {
    arb::config().prop_map(|c| Config {
        windows: Windows {
            ttl: Micros::ZERO,
            swr: Micros::ZERO,
            sie: Micros::ZERO,
        },
        ..c
    })
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn ttl_zero_is_no_cache(cfg in ttl_zero(), ops in arb::ops()) {
        check(&cfg, &run_both(&cfg, &ops)?)?;
    }
}

#[test]
fn freshness_with_le_makes_ttl_zero_cache_and_is_caught() {
    fn fresh_through_the_ttl(age: Micros, w: Windows) -> Servable {
        if age <= w.ttl {
            Servable::Fresh
        } else {
            reference_freshness(age, w)
        }
    }
    let broken = Policy {
        freshness: fresh_through_the_ttl,
        ..Policy::REFERENCE
    };
    policy_caught(
        "ttl 0 with <=",
        2_000,
        &broken,
        (ttl_zero(), arb::ops()),
        check,
    );
}

// Real time against virtual time. A trace's instants are in ticks of 1/8 of
// a grid step: requests on the grid (0 mod 8), first fetches end 2 ticks
// past it, retries (which begin when a first fetch ends) 4 past, purges 6
// past; window bounds are 1 mod 8. So every comparison the layer makes —
// ages against windows, fetch starts against purges, which event comes
// first — has at least one tick of room, and the real run agrees with the
// virtual one as long as no event runs half a tick late. A run that did is
// repeated with a coarser grid.

fn timed_trace() -> impl Strategy<Value = (Timed, Config)> {
    let request = (0u64..8, arb::req(), 0u64..=2, arb::result());
    (
        prop::collection::btree_map(0u64..8, request, 1..7),
        prop::collection::btree_map(0u64..8, 0..crate::harness::TAGS, 0..3),
        (
            0u64..=2,
            0u64..=2,
            0u64..=2,
            any::<bool>(),
            arb::variant_strategy(),
        ),
        prop::option::of(1u64..=3),
    )
        .prop_map(
            |(requests, purges, (ttl, swr, sie, coalesce, strategy), max_entries)| {
                let t = Timed {
                    requests: requests
                        .into_values()
                        .map(|(slot, req, latency, result)| TimedReq {
                            at: 8 * slot,
                            req,
                            latency: 8 * latency + 2,
                            result,
                        })
                        .collect(),
                    purges: purges
                        .into_iter()
                        .map(|(slot, tag)| (8 * slot + 6, tag))
                        .collect(),
                };
                let cfg = Config {
                    windows: Windows {
                        ttl: Micros(8 * ttl + 1),
                        swr: Micros(8 * swr),
                        sie: Micros(8 * sie),
                    },
                    coalesce,
                    strategy,
                    bounds: Bounds {
                        max_entries,
                        max_bytes: None,
                        ..Bounds::default()
                    },
                };
                (t, cfg)
            },
        )
}

/// A config's windows in ticks of `tick` microseconds.
fn scaled(cfg: &Config, tick: u64) -> Config {
    let w = cfg.windows;
    Config {
        windows: Windows {
            ttl: Micros(w.ttl.0 * tick),
            swr: Micros(w.swr.0 * tick),
            sie: Micros(w.sie.0 * tick),
        },
        ..*cfg
    }
}

/// Whether the virtual run leaves the real one a choice: two fetches ending
/// at one instant, or two cacheable fetches of one key begun at one
/// instant (which the system clock would order by microseconds).
fn ambiguous(t: &Trace) -> bool {
    let mut ends = BTreeMap::new();
    let mut starts = BTreeMap::new();
    for f in &t.fetches {
        if let Some((_, at, result)) = f.end {
            *ends.entry(at).or_insert(0) += 1;
            if result == FetchResult::Ok && f.key.is_some() {
                *starts.entry((f.key, f.started)).or_insert(0) += 1;
            }
        }
    }
    ends.values().chain(starts.values()).any(|n| *n > 1)
}

/// Real and virtual runs of one timed trace give the same answers (outcome,
/// stale reason, and whose fetch built the page) and counters.
fn real_time_agrees(t: &Timed, cfg: &Config) -> Result<(), TestCaseError> {
    // The virtual run, a tick being 1 ms.
    let virtual_run = run_virtual(LayerRun::new(&scaled(cfg, 1_000)), t, Micros(1_000));
    prop_assume!(!ambiguous(&virtual_run));
    let want = got(&virtual_run);
    let want_counts = virtual_run.after.last().unwrap().counts;
    let mut late = Vec::new();
    for tick_ms in [8u64, 16, 32, 64] {
        let tick = Duration::from_millis(tick_ms);
        let real = run_real(&scaled(cfg, tick_ms * 1_000), t, tick);
        if real.lateness >= tick / 2 {
            late.push(real.lateness);
            continue;
        }
        prop_assert_eq!(&real.got, &want, "answers (tick {} ms)", tick_ms);
        prop_assert_eq!(real.counts, want_counts, "counters (tick {} ms)", tick_ms);
        // The simulator's run of the same trace, at the same scale.
        let tick_us = Micros(tick_ms * 1_000);
        let (stepped, counts) = run_stepped(&scaled(cfg, tick_us.0), t, tick_us);
        prop_assert_eq!(
            &stepped,
            &real.got,
            "simulated answers (tick {} ms)",
            tick_ms
        );
        prop_assert_eq!(
            counts,
            real.counts,
            "simulated counters (tick {} ms)",
            tick_ms
        );
        return Ok(());
    }
    prop_assert!(
        false,
        "the machine ran events too late to compare at any grid: {:?}",
        late
    );
    Ok(())
}

/// The simulator's layer and the real layer, both on virtual time, give
/// the same answers and counters for a timed trace — ties included: both
/// order the events of one instant the same way.
fn simulated_agrees(t: &Timed, cfg: &Config) -> Result<(), TestCaseError> {
    let tick = Micros(1_000);
    let cfg = scaled(cfg, tick.0);
    let layer = run_virtual(LayerRun::new(&cfg), t, tick);
    let (answers, counts) = run_stepped(&cfg, t, tick);
    prop_assert_eq!(answers, got(&layer), "answers");
    prop_assert_eq!(counts, layer.after.last().unwrap().counts, "counters");
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn the_simulators_layer_agrees_with_the_real_layer((t, cfg) in timed_trace()) {
        simulated_agrees(&t, &cfg)?;
    }
}

#[test]
fn a_simulator_that_loses_the_cache_lock_is_caught() {
    // The comparison is not blind: a simulated layer without the cache lock
    // (coalesce off) answered beside the real layer with it disagrees on
    // some trace — a waiter's page is then its own fetch's, not the leader's.
    let (t, cfg) = expect_failure(
        "simulator without the cache lock",
        2_000,
        timed_trace().prop_filter("coalescing", |(_, c)| c.coalesce),
        |(t, cfg)| {
            let tick = Micros(1_000);
            let cfg = scaled(&cfg, tick.0);
            let layer = run_virtual(LayerRun::new(&cfg), &t, tick);
            let unlocked = Config {
                coalesce: false,
                ..cfg
            };
            prop_assert_eq!(run_stepped(&unlocked, &t, tick).0, got(&layer));
            Ok(())
        },
    );
    simulated_agrees(&t, &cfg).expect("the simulator's own layer agrees");
}

#[test]
fn real_time_and_virtual_time_agree() {
    // About half a second a case: a 32nd of the configured cases.
    crate::check_scaled(file!(), 32, 6, timed_trace(), |(t, cfg)| {
        real_time_agrees(&t, &cfg)
    });
}

#[test]
fn the_ops_of_a_timed_trace_are_what_the_model_predicts() {
    // The virtual runner turns a timed trace into operations; the model must
    // agree with the layer on them as on any other sequence.
    let t = Timed {
        requests: vec![
            TimedReq {
                at: 0,
                req: crate::harness::Req {
                    page: 0,
                    variants: [Some(0), None, None],
                    bypass: false,
                },
                latency: 2,
                result: FetchResult::Ok,
            },
            TimedReq {
                at: 8,
                req: crate::harness::Req {
                    page: 0,
                    variants: [Some(0), None, None],
                    bypass: false,
                },
                latency: 2,
                result: FetchResult::Ok,
            },
        ],
        purges: vec![],
    };
    let cfg = Config {
        windows: Windows {
            ttl: Micros(9_000),
            swr: Micros::ZERO,
            sie: Micros::ZERO,
        },
        coalesce: true,
        strategy: crate::harness::variant_strategies()[0],
        bounds: Bounds::default(),
    };
    let real = run_virtual(LayerRun::new(&cfg), &t, Micros(1_000));
    let ops: Vec<Op> = real.ops.clone();
    crate::harness::agree(&real, &model::run(&Policy::REFERENCE, &cfg, &ops)).unwrap();
    let outcomes: Vec<_> = got(&real).into_values().map(|g| g.unwrap().0).collect();
    assert_eq!(outcomes, [CacheOutcome::Miss, CacheOutcome::Hit]);
}
