//! Properties 1, 4 and 5 under contention: hundreds of tokio tasks on a
//! multi-threaded runtime hit one layer over the real memory store on the
//! system clock, with fetches that take real (short) time, entries that
//! expire and purges racing fills.
//!
//! Every answer must carry its own page and variants (1); with coalescing
//! and answers that always succeed, no two fetches of one key ever overlap,
//! and a waiter's page comes from a fetch that was in flight during its
//! wait (4); at the end every layer counter adds up (5).
//!
//! The Redis store runs the same test against a real
//! `redis-server`: one layer over it, and three layers — replicas — sharing
//! it with the cross-replica fill lock, requests spread over them. Across
//! replicas the same properties hold: no two fetches of one key overlap
//! anywhere, and a replica that waited serves another's fetch of its key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_scenarios::{Clock, Micros, SystemClock};
use ttlab_ssr_origin::cache::{
    Bounds, CacheKey, CacheLayer, CacheOutcome, LayerCounters, LockOptions, LockOutcome,
    MemoryStore, RedisLocks, RedisOptions, RedisStore, Store, Windows,
};

use crate::arb;
use crate::harness::{Config, FetchResult, Req, TAGS, Val, fetched, library_key};

/// One fetch as the upstream saw it: a global sequence number at its start
/// and end, so overlaps can be judged without a clock.
#[derive(Clone, Copy, Debug)]
struct Span {
    key: CacheKey,
    start: u64,
    end: u64,
}

struct Upstream {
    seq: AtomicU64,
    spans: Mutex<HashMap<u32, Span>>,
    /// Fetches of each key in flight now.
    in_flight: Mutex<HashMap<CacheKey, u32>>,
    /// The most fetches of one key ever in flight at once.
    overlap: AtomicU64,
    calls: AtomicU64,
    done: AtomicU64,
}

#[derive(Clone, Debug)]
struct Plan {
    cfg: Config,
    requests: Vec<(Req, u8)>,
    purges: Vec<(usize, u32)>,
    fail_one_in: Option<u8>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        (0u64..=4, 0u64..=4, 0u64..=4),
        any::<bool>(),
        arb::variant_strategy(),
        prop::option::of(2u64..=8),
        prop::collection::vec((arb::req(), 0u8..4), 100..400),
        prop::collection::vec((0usize..400, 0..TAGS), 0..8),
        prop::option::weighted(0.3, 3u8..8),
    )
        .prop_map(
            |(w, coalesce, strategy, max_entries, requests, purges, fail_one_in)| Plan {
                cfg: Config {
                    // Windows of a few milliseconds, so entries expire mid-run.
                    windows: Windows {
                        ttl: Micros(w.0 * 1_000),
                        swr: Micros(w.1 * 1_000),
                        sie: Micros(w.2 * 1_000),
                    },
                    coalesce,
                    strategy,
                    bounds: Bounds {
                        max_entries,
                        max_bytes: None,
                        ..Bounds::default()
                    },
                },
                requests,
                purges,
                fail_one_in,
            },
        )
}

/// The run on the memory store, whose size is checked against its bound
/// at the end too.
fn contend(plan: &Plan) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new(plan.cfg.bounds).reclaiming(plan.cfg.windows));
    rt.block_on(run(plan, vec![(store.clone(), None)]))?;
    if let Some(m) = plan.cfg.bounds.max_entries {
        prop_assert!(store.len() as u64 <= m);
    }
    Ok(())
}

/// Request `id`'s upstream fetch: records its span and the per-key
/// overlap, takes `delay` ms, and fails if `fails`.
fn fetcher(
    up: &Arc<Upstream>,
    clock: &Arc<dyn Clock>,
    id: u32,
    req: Req,
    key: Option<CacheKey>,
    delay: u8,
    fails: bool,
) -> impl Fn() -> futures::future::BoxFuture<
    'static,
    Result<ttlab_ssr_origin::cache::Fetched<Val>, ttlab_ssr_origin::cache::FillError>,
> + Send
+ Sync
+ 'static {
    let (up, clock) = (up.clone(), clock.clone());
    move || {
        let up = up.clone();
        let start = up.seq.fetch_add(1, Ordering::SeqCst);
        up.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(k) = key {
            let mut f = up.in_flight.lock().unwrap();
            let n = f.entry(k).or_insert(0);
            *n += 1;
            up.overlap.fetch_max(u64::from(*n), Ordering::SeqCst);
        }
        let value = Val {
            fetch: id,
            page: req.page,
            variants: req.content_variants(),
            version: 0,
            started: clock.now(),
            op: 0,
        };
        async move {
            // Real upstream time: 0–3 ms.
            tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
            if let Some(k) = key {
                *up.in_flight.lock().unwrap().get_mut(&k).unwrap() -= 1;
            }
            let end = up.seq.fetch_add(1, Ordering::SeqCst);
            if let Some(k) = key {
                let span = Span { key: k, start, end };
                up.spans.lock().unwrap().insert(id, span);
            }
            up.done.fetch_add(1, Ordering::SeqCst);
            let result = if fails {
                FetchResult::Err
            } else {
                FetchResult::Ok
            };
            fetched(value, result)
        }
        .boxed()
    }
}

/// Every Redis call's bound in the Redis runs: generous, so a loaded
/// machine does not turn a slow call into a store error (and a bypass
/// whose fetch may overlap another).
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

static NEXT_PREFIX: AtomicU64 = AtomicU64::new(0);

/// The run over Redis: `replicas` layers, each with a store of its own on
/// one namespace (a fresh one per case: each case has its own clock) and,
/// with more than one, the cross-replica fill lock.
fn contend_redis(plan: &Plan, url: &str, replicas: usize) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = RedisOptions {
        prefix: format!("prop{}", NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)),
        expire_after: Duration::from_secs(60),
        timeout: REDIS_TIMEOUT,
        ..RedisOptions::new(url)
    };
    rt.block_on(async {
        let layers = (0..replicas)
            .map(|_| {
                let store = RedisStore::<Val>::new(&options).expect("a valid url");
                let locks = (replicas > 1).then(|| store.locks());
                (Arc::new(store), locks)
            })
            .collect();
        let r = run(plan, layers).await;
        let _ = RedisStore::<Val>::new(&options).unwrap().clear().await;
        r
    })
}

/// One run of `plan` against layers (replicas) over `stores` (any
/// [`Store`]; with locks, the cross-replica fill lock), request `i` going
/// to replica `i mod n` and purges to the first.
async fn run<S: Store<Val>>(
    plan: &Plan,
    stores: Vec<(Arc<S>, Option<RedisLocks>)>,
) -> Result<(), TestCaseError> {
    let cfg = plan.cfg;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::starting_now());
    let layers: Vec<Arc<CacheLayer<Val, S>>> = stores
        .into_iter()
        .map(|(store, locks)| {
            let layer = CacheLayer::new(cfg.layer_options(), store, clock.clone());
            Arc::new(match locks {
                Some(l) => layer.with_shared_lock(
                    l,
                    LockOptions {
                        ttl: Duration::from_secs(30),
                        wait: Duration::from_secs(20),
                        poll: Duration::from_millis(1),
                    },
                ),
                None => layer,
            })
        })
        .collect();
    let layer = layers[0].clone();
    let up = Arc::new(Upstream {
        seq: AtomicU64::new(0),
        spans: Mutex::new(HashMap::new()),
        in_flight: Mutex::new(HashMap::new()),
        overlap: AtomicU64::new(0),
        calls: AtomicU64::new(0),
        done: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    let mut purges = Vec::new();
    for (id, (req, delay)) in plan.requests.iter().enumerate() {
        let id = id as u32;
        let (req, delay) = (*req, *delay);
        let key = (!req.bypass).then(|| library_key(cfg.strategy, req));
        let fails = plan
            .fail_one_in
            .is_some_and(|n| id.is_multiple_of(u32::from(n)));
        let fetch = fetcher(&up, &clock, id, req, key, delay, fails);
        let (l, up2) = (layers[id as usize % layers.len()].clone(), up.clone());
        tasks.push(tokio::spawn(async move {
            let answer = match key {
                Some(k) => l.serve(k, fetch).await,
                None => l.bypass(fetch).await,
            };
            let end = up2.seq.fetch_add(1, Ordering::SeqCst);
            (id, req, key, end, answer)
        }));
        for (_, tag) in plan.purges.iter().filter(|(at, _)| *at == id as usize) {
            let (layer, tag) = (layer.clone(), *tag);
            purges.push(tokio::spawn(async move { layer.purge(tag).await }));
        }
        if id.is_multiple_of(16) {
            tokio::task::yield_now().await;
        }
    }
    let mut answers = Vec::new();
    for t in tasks {
        let a = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("every request is answered")
            .unwrap();
        answers.push(a);
    }
    for p in purges {
        p.await.unwrap();
    }
    // Background refreshes answer nobody: wait until every fill has ended
    // (one may still be waiting for another replica's lock, not yet
    // fetching) and every fetch with it. A fetch only starts inside a fill,
    // so none can start once no fill is in flight.
    ttlab_test_support::wait_until_async(
        Duration::from_secs(10),
        "every fill and its fetch ended",
        async || {
            layers.iter().all(|l| l.fills_in_flight() == 0)
                && up.done.load(Ordering::SeqCst) == up.calls.load(Ordering::SeqCst)
        },
    )
    .await;
    prop_assert!(
        layers.iter().all(|l| l.fills_in_flight() == 0),
        "every fill ended"
    );
    prop_assert_eq!(
        up.done.load(Ordering::SeqCst),
        up.calls.load(Ordering::SeqCst)
    );

    let counters = LayerCounters::sum(layers.iter().map(|l| l.counters()));
    prop_assert_eq!(
        counters.store_errors.get(),
        0,
        "the store answered every call"
    );
    judge(plan, &counters, &up, &answers)
}

type Answered = (
    u32,
    Req,
    Option<CacheKey>,
    u64,
    Result<ttlab_ssr_origin::cache::Answer<Val>, ttlab_ssr_origin::cache::FillError>,
);

/// Judges the answers, the upstream's record and the counters of one run
/// (of every replica, added up).
fn judge(
    plan: &Plan,
    counters: &LayerCounters,
    up: &Upstream,
    answers: &[Answered],
) -> Result<(), TestCaseError> {
    let cfg = plan.cfg;
    let spans = up.spans.lock().unwrap().clone();
    for (id, req, key, end, answer) in answers {
        let Ok(a) = answer else { continue };
        // 1: its own page and variants.
        prop_assert_eq!(a.value.page, req.page);
        prop_assert_eq!(a.value.variants, req.content_variants(), "request {}", id);
        // 4: a waiter's page is its key's, fetched before its answer (the
        // fill may have ended just before it arrived, while still listed).
        if a.lock == Some(LockOutcome::Waited) {
            let s = spans[&a.value.fetch];
            prop_assert!(
                Some(s.key) == *key && s.start < *end,
                "request {} waited for another key's fetch, or a later one",
                id
            );
        }
        if matches!(a.outcome, CacheOutcome::Miss) && a.lock != Some(LockOutcome::Waited) {
            prop_assert_eq!(
                a.value.fetch,
                *id,
                "a miss that did not wait fetched itself"
            );
        }
    }
    // 4: with coalescing and no failures, fetches of one key never overlap.
    if cfg.coalesce && plan.fail_one_in.is_none() {
        prop_assert!(
            up.overlap.load(Ordering::SeqCst) <= 1,
            "two fetches of one key overlapped"
        );
        let mut by_key: HashMap<CacheKey, Vec<Span>> = HashMap::new();
        for s in spans.values() {
            by_key.entry(s.key).or_default().push(*s);
        }
        for v in by_key.values_mut() {
            v.sort_by_key(|s| s.start);
            prop_assert!(v.windows(2).all(|w| w[0].end < w[1].start));
        }
    }
    // 5: at rest, every counter adds up.
    // A fill answered with another replica's entry fetched nothing here
    // (none with one replica).
    let c = counters.snapshot();
    let remote = counters.remote_fills.get();
    prop_assert_eq!(c.requests(), plan.requests.len() as u64);
    prop_assert_eq!(c.upstream_fetches, up.calls.load(Ordering::SeqCst));
    prop_assert_eq!(
        c.upstream_fetches,
        c.misses + c.bypass + c.stale_if_error + c.refreshes - c.coalesced - remote,
        "{:?}, remote fills {}",
        c,
        remote
    );
    Ok(())
}

#[test]
fn hundreds_of_tasks_on_one_layer() {
    crate::check_scaled(file!(), 16, 8, plan(), |plan| contend(&plan));
}

#[test]
fn hundreds_of_tasks_on_one_layer_over_redis() {
    let server = ttlab_test_support::redis::RedisServer::start();
    crate::check_scaled(file!(), 32, 6, plan(), |plan| {
        contend_redis(&plan, &server.url(), 1)
    });
}

/// Without the cross-replica lock (three layers on one Redis, each
/// coalescing only its own requests) this fails: two replicas fetch one
/// key at once.
#[test]
fn hundreds_of_tasks_on_three_replicas_sharing_redis() {
    let server = ttlab_test_support::redis::RedisServer::start();
    crate::check_scaled(file!(), 32, 6, plan(), |plan| {
        contend_redis(&plan, &server.url(), 3)
    });
}
