//! The Redis store against a real `redis-server`:
//! the [`Store`] guarantees (newer kept, the purge barrier, purge by tag),
//! the Redis-side expiry, atomicity under concurrent replicas, the
//! cross-replica fill lock, and what happens when Redis dies or hangs:
//! every call fails with a `StoreError` within its timeout, and the store
//! recovers when Redis returns.
//!
//! The property suite in `tests/properties/` runs the layer over the
//! concrete `MemoryStore` on a virtual clock that settles the runtime after
//! every step, which a network store cannot join; so its store property
//! (property 8's model of a store with a purge barrier, without the bounds
//! that Redis leaves to `maxmemory`) is restated here over any [`Store`] and
//! run on both stores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ttlab_scenarios::{ManualClock, Micros};
use ttlab_ssr_origin::cache::{
    Bounds, CacheKey, CacheLayer, CacheOutcome, Cached, Fetched, LayerOptions, LockAttempt,
    LockOptions, LockOutcome, MemoryStore, PutOutcome, RedisOptions, RedisStore, Store,
    StoreOutage, Stored, Tag, Windows,
};
use ttlab_test_support::redis::RedisServer;
use ttlab_test_support::wait_until_async;

/// Every call's bound in these tests.
const TIMEOUT: Duration = Duration::from_millis(300);
/// What a failing call may take beyond [`TIMEOUT`] on a busy machine.
const SLACK: Duration = Duration::from_secs(1);

static NEXT_PREFIX: AtomicU64 = AtomicU64::new(0);

/// Options with a prefix of their own, so tests sharing a server do not
/// see each other's keys.
fn options(server: &RedisServer) -> RedisOptions {
    let n = NEXT_PREFIX.fetch_add(1, Ordering::Relaxed);
    RedisOptions {
        prefix: format!("test{n}"),
        expire_after: Duration::from_secs(60),
        timeout: TIMEOUT,
        ..RedisOptions::new(server.url())
    }
}

fn store(o: &RedisOptions) -> RedisStore<u64> {
    RedisStore::new(o).expect("a valid url")
}

fn entry(value: u64, fetched: u64, tags: &[Tag]) -> Stored<u64> {
    Stored {
        value,
        stored_at: Micros(fetched + 1),
        fetched_at: Micros(fetched),
        tags: tags.iter().copied().collect(),
        size: 8,
    }
}

const STORED: PutOutcome = PutOutcome::Stored { evicted: 0 };

/// A plain connection for looking at Redis directly.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn exists(server: &RedisServer, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query_async(&mut raw(server).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn get_returns_what_put_stored_with_its_instants() {
    let server = RedisServer::start();
    let s = store(&options(&server));
    assert_eq!(s.get(CacheKey(1)).await.unwrap(), None);
    assert_eq!(
        s.put(CacheKey(1), entry(42, 10, &[3, 7])).await.unwrap(),
        STORED
    );
    assert_eq!(
        s.get(CacheKey(1)).await.unwrap(),
        Some(Cached {
            value: 42,
            stored_at: Micros(11),
            fetched_at: Micros(10),
        })
    );
    assert_eq!(s.get(CacheKey(2)).await.unwrap(), None);
    // A key differing only in its high bits is another key.
    assert_eq!(s.get(CacheKey(1 | (1 << 100))).await.unwrap(), None);
    assert_eq!(s.entry_count().await.unwrap(), 1);
    s.ping().await.unwrap();
}

#[tokio::test]
async fn a_page_goes_through_redis_whole() {
    use axum::http::{HeaderName, HeaderValue};
    use ttlab_ssr_origin::response::PageResponse;

    let server = RedisServer::start();
    let s: RedisStore<Arc<PageResponse>> = RedisStore::new(&options(&server)).unwrap();
    let page = Arc::new(PageResponse {
        status: 200,
        headers: vec![(
            HeaderName::from_static("x-ttlab-content"),
            HeaderValue::from_static("e=home_hero;v=base;n=3"),
        )],
        body: bytes::Bytes::from_static(b"<main>hero</main>"),
        upstream_cache: None,
        set_cookies: vec!["cs-personalize-user-uid=u1".to_owned()],
        windows: None,
    });
    let put = Stored {
        value: page.clone(),
        stored_at: Micros(5),
        fetched_at: Micros(4),
        tags: [0].into_iter().collect(),
        size: page.size() as u32,
    };
    assert_eq!(s.put(CacheKey(9), put).await.unwrap(), STORED);
    let got = s.get(CacheKey(9)).await.unwrap().unwrap().value;
    assert_eq!(got.body, page.body);
    assert_eq!(got.headers, page.headers);
    assert!(
        got.set_cookies.is_empty(),
        "a visitor's cookies stay out of the shared cache"
    );
}

#[tokio::test]
async fn an_older_fetch_never_replaces_a_newer_one() {
    let server = RedisServer::start();
    let s = store(&options(&server));
    assert_eq!(
        s.put(CacheKey(1), entry(1, 50, &[1])).await.unwrap(),
        STORED
    );
    assert_eq!(
        s.put(CacheKey(1), entry(2, 40, &[1])).await.unwrap(),
        PutOutcome::KeptNewer
    );
    assert_eq!(s.get(CacheKey(1)).await.unwrap().unwrap().value, 1);
    // The same fetch instant replaces (a refresh of the same moment).
    assert_eq!(
        s.put(CacheKey(1), entry(3, 50, &[1])).await.unwrap(),
        STORED
    );
    assert_eq!(
        s.put(CacheKey(1), entry(4, 60, &[2])).await.unwrap(),
        STORED
    );
    assert_eq!(s.get(CacheKey(1)).await.unwrap().unwrap().value, 4);
    assert_eq!(
        s.purge_tag(1, Micros(70)).await.unwrap(),
        0,
        "the replacement dropped tag 1, and left its index"
    );
    assert_eq!(s.purge_tag(2, Micros(70)).await.unwrap(), 1);
}

#[tokio::test]
async fn purge_by_tag_and_the_purge_barrier() {
    let server = RedisServer::start();
    let o = options(&server);
    let s = store(&o);
    s.put(CacheKey(1), entry(1, 0, &[7, 8])).await.unwrap();
    s.put(CacheKey(2), entry(2, 0, &[8])).await.unwrap();
    s.put(CacheKey(3), entry(3, 0, &[9])).await.unwrap();
    assert_eq!(s.purge_tag(8, Micros(100)).await.unwrap(), 2);
    assert_eq!(s.get(CacheKey(1)).await.unwrap(), None);
    assert_eq!(s.get(CacheKey(2)).await.unwrap(), None);
    assert!(s.get(CacheKey(3)).await.unwrap().is_some());
    assert_eq!(
        s.purge_tag(7, Micros(100)).await.unwrap(),
        0,
        "key 1 left tag 7's index with the purge of 8"
    );
    assert!(!exists(&server, &format!("{}:t:7", o.prefix)).await);
    assert!(!exists(&server, &format!("{}:t:8", o.prefix)).await);
    // A fill that began before the purge, or in its instant, may not
    // store; one after may.
    for fetched in [99, 100] {
        assert_eq!(
            s.put(CacheKey(4), entry(4, fetched, &[8])).await.unwrap(),
            PutOutcome::PurgedMeanwhile
        );
    }
    assert_eq!(
        s.put(CacheKey(4), entry(4, 101, &[8])).await.unwrap(),
        STORED
    );
    // A purge at an earlier instant does not lower the barrier.
    assert_eq!(s.purge_tag(8, Micros(50)).await.unwrap(), 1);
    assert_eq!(
        s.put(CacheKey(4), entry(4, 80, &[8])).await.unwrap(),
        PutOutcome::PurgedMeanwhile
    );
    assert_eq!(s.entry_count().await.unwrap(), 1);
}

#[tokio::test]
async fn redis_expires_entries_and_their_tag_sets_as_a_safety_net() {
    let server = RedisServer::start();
    let o = RedisOptions {
        expire_after: Duration::from_millis(300),
        ..options(&server)
    };
    let s = store(&o);
    s.put(CacheKey(1), entry(1, 0, &[5])).await.unwrap();
    assert!(s.get(CacheKey(1)).await.unwrap().is_some());
    assert!(exists(&server, &format!("{}:t:5", o.prefix)).await);
    let tags = format!("{}:t:5", o.prefix);
    wait_until_async(Duration::from_secs(5), "the entry expires", async || {
        s.get(CacheKey(1)).await.unwrap().is_none()
    })
    .await;
    wait_until_async(
        Duration::from_secs(5),
        "the tag index expires with its entries",
        async || !exists(&server, &tags).await,
    )
    .await;
    assert_eq!(s.purge_tag(5, Micros(10)).await.unwrap(), 0);
}

/// Replicas racing on one key: whatever order the puts land in, the entry
/// fetched last is what remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_keep_the_latest_fetch() {
    let server = RedisServer::start();
    let o = options(&server);
    let replicas: Vec<Arc<RedisStore<u64>>> = (0..4).map(|_| Arc::new(store(&o))).collect();
    let mut tasks = Vec::new();
    // Fetch instants in a scrambled order.
    for i in 0..64u64 {
        let fetched = (i * 37) % 64;
        let s = replicas[i as usize % replicas.len()].clone();
        tasks.push(tokio::spawn(async move {
            s.put(CacheKey(1), entry(fetched, fetched, &[1]))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        let outcome = t.await.unwrap();
        assert!(matches!(outcome, STORED | PutOutcome::KeptNewer));
    }
    let got = replicas[0].get(CacheKey(1)).await.unwrap().unwrap();
    assert_eq!(got.fetched_at, Micros(63));
    assert_eq!(got.value, 63);
}

/// A purge racing with fills on other replicas: afterwards no entry whose
/// fetch began at or before the purge survives (each was either refused or
/// stored and then purged), and the survivors are all still indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_racing_with_puts_leaves_no_entry_fetched_before_it() {
    let server = RedisServer::start();
    let o = options(&server);
    let a = Arc::new(store(&o));
    let b = Arc::new(store(&o));
    let mut tasks = Vec::new();
    for i in 0..100u64 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.put(CacheKey(u128::from(i)), entry(i, i, &[1, 2]))
                .await
                .unwrap();
        }));
        if i == 30 {
            let s = b.clone();
            tasks.push(tokio::spawn(async move {
                s.purge_tag(1, Micros(50)).await.unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut survivors = 0;
    for i in 0..100u64 {
        if a.get(CacheKey(u128::from(i))).await.unwrap().is_some() {
            assert!(i > 50, "entry fetched at {i} survived the purge at 50");
            survivors += 1;
        }
    }
    assert_eq!(a.entry_count().await.unwrap(), survivors);
    assert_eq!(a.purge_tag(2, Micros(200)).await.unwrap(), survivors);
    assert_eq!(a.entry_count().await.unwrap(), 0);
    // After the purge, a late fill of those fetched after it stores.
    assert_eq!(
        a.put(CacheKey(7), entry(7, 51, &[1])).await.unwrap(),
        STORED
    );
    assert_eq!(
        a.put(CacheKey(8), entry(8, 50, &[1])).await.unwrap(),
        PutOutcome::PurgedMeanwhile
    );
}

// --- the store property, on both stores ---------------------------------

/// An operation on a store alone.
#[derive(Clone, Copy, Debug)]
enum StoreOp {
    Put {
        key: u8,
        fetched_at: u64,
        tags: [Tag; 2],
    },
    Get(u8),
    Purge {
        tag: Tag,
        at: u64,
    },
}

fn store_op() -> impl Strategy<Value = StoreOp> {
    prop_oneof![
        4 => (0u8..6, 0u64..10, 0u32..3, 0u32..3)
            .prop_map(|(key, fetched_at, t1, t2)| StoreOp::Put { key, fetched_at, tags: [t1, t2] }),
        3 => (0u8..6).prop_map(StoreOp::Get),
        1 => (0u32..3, 0u64..10).prop_map(|(tag, at)| StoreOp::Purge { tag, at }),
    ]
}

/// Runs `ops` on `store` and on a plain model (a list of entries and the
/// latest purge per tag): every put's outcome, lookup and purge count must
/// agree. The model is property 8's without the bounds; an entry may carry
/// two tags (or one twice), so purges also exercise the index of an
/// entry's other tags.
async fn store_agrees<S: Store<u64>>(store: &S, ops: &[StoreOp]) -> Result<(), TestCaseError> {
    // (key, value, fetched at, tags)
    let mut model: Vec<(u8, u64, u64, [Tag; 2])> = Vec::new();
    let mut barrier: Vec<(Tag, u64)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            StoreOp::Put {
                key,
                fetched_at,
                tags,
            } => {
                let mut e = entry(i as u64, fetched_at, &tags);
                e.stored_at = Micros(fetched_at);
                let got = store
                    .put(CacheKey(u128::from(key)), e)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let old = model.iter().position(|e| e.0 == key);
                let want = if barrier
                    .iter()
                    .any(|(t, at)| tags.contains(t) && fetched_at <= *at)
                {
                    PutOutcome::PurgedMeanwhile
                } else if old.is_some_and(|o| model[o].2 > fetched_at) {
                    PutOutcome::KeptNewer
                } else {
                    if let Some(o) = old {
                        model.remove(o);
                    }
                    model.push((key, i as u64, fetched_at, tags));
                    STORED
                };
                prop_assert_eq!(got, want, "op {}: {:?}", i, op);
            }
            StoreOp::Get(key) => {
                let got = store
                    .get(CacheKey(u128::from(key)))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let want = model.iter().find(|e| e.0 == key).map(|e| Cached {
                    value: e.1,
                    stored_at: Micros(e.2),
                    fetched_at: Micros(e.2),
                });
                prop_assert_eq!(got, want, "op {}: {:?}", i, op);
            }
            StoreOp::Purge { tag, at } => {
                let got = store
                    .purge_tag(tag, Micros(at))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                barrier.push((tag, at));
                let before = model.len();
                model.retain(|e| !e.3.contains(&tag));
                prop_assert_eq!(got, before - model.len(), "op {}: {:?}", i, op);
            }
        }
    }
    Ok(())
}

fn check_property<S: Store<u64>>(make: impl Fn() -> S) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        // One Redis round trip per operation: a few hundred cases stay
        // within seconds. PROPTEST_CASES sets the count as elsewhere.
        source_file: Some(file!()),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec(store_op(), 1..80);
    if let Err(e) = runner.run(&strategy, |ops| {
        rt.block_on(async {
            // A Redis store needs the runtime it will run on.
            let s = make();
            store_agrees(&s, &ops).await
        })
    }) {
        panic!("{e}\n{runner}");
    }
}

#[test]
fn the_redis_store_keeps_the_store_property() {
    let server = RedisServer::start();
    check_property(|| store(&options(&server)));
}

/// The same model on the memory store: the property is the store
/// contract, not a description of the Redis store.
#[test]
fn the_memory_store_keeps_the_same_property() {
    check_property(|| MemoryStore::new(Bounds::default()));
}

// --- the fill lock ---------------------------------------------------------

#[tokio::test]
async fn a_lock_excludes_until_released() {
    let server = RedisServer::start();
    let locks = store(&options(&server)).locks();
    let ttl = Duration::from_secs(10);
    let held = locks.try_lock(CacheKey(1), ttl).await.unwrap().unwrap();
    assert!(locks.try_lock(CacheKey(1), ttl).await.unwrap().is_none());
    let other = locks.try_lock(CacheKey(2), ttl).await.unwrap();
    assert!(other.is_some(), "locks are per key");
    assert!(held.release().await.unwrap());
    assert!(locks.try_lock(CacheKey(1), ttl).await.unwrap().is_some());
}

#[tokio::test]
async fn an_abandoned_lock_expires_and_its_holder_cannot_release_the_next() {
    let server = RedisServer::start();
    let locks = store(&options(&server)).locks();
    let short = Duration::from_millis(200);
    let first = locks.try_lock(CacheKey(1), short).await.unwrap().unwrap();
    let mut second = None;
    wait_until_async(
        Duration::from_secs(5),
        "the first lock expired",
        async || {
            second = locks
                .try_lock(CacheKey(1), Duration::from_secs(10))
                .await
                .unwrap();
            second.is_some()
        },
    )
    .await;
    let second = second.unwrap();
    assert!(
        !first.release().await.unwrap(),
        "an expired holder's release is refused"
    );
    assert!(
        locks
            .try_lock(CacheKey(1), Duration::from_secs(10))
            .await
            .unwrap()
            .is_none(),
        "the second holder still holds it"
    );
    second.abandon();
}

#[tokio::test]
async fn a_dropped_guard_releases_in_the_background() {
    let server = RedisServer::start();
    let locks = store(&options(&server)).locks();
    let ttl = Duration::from_secs(10);
    drop(locks.try_lock(CacheKey(1), ttl).await.unwrap().unwrap());
    wait_until_async(
        Duration::from_secs(2),
        "the dropped guard released",
        async || locks.try_lock(CacheKey(1), ttl).await.unwrap().is_some(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_replicas_one_leads_and_the_others_wait_for_its_release() {
    let server = RedisServer::start();
    let o = options(&server);
    let opts = LockOptions {
        ttl: Duration::from_secs(10),
        wait: Duration::from_secs(5),
        poll: Duration::from_millis(5),
    };
    // Every replica connected before any takes the lock, so none arrives
    // after the leader let go.
    let start = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store(&o);
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            s.ping().await.unwrap();
            start.wait().await;
            match s.locks().lock(CacheKey(1), opts).await.unwrap() {
                LockAttempt::Leader(g) => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    assert!(g.release().await.unwrap());
                    "leader"
                }
                LockAttempt::Released => "released",
                LockAttempt::WaitTimeout => "timeout",
            }
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "leader", "released", "released", "released", "released", "released", "released",
            "released"
        ]
    );
}

#[tokio::test]
async fn a_wait_for_a_lock_is_bounded() {
    let server = RedisServer::start();
    let locks = store(&options(&server)).locks();
    let held = locks
        .try_lock(CacheKey(1), Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    let start = Instant::now();
    let got = locks
        .lock(
            CacheKey(1),
            LockOptions {
                ttl: Duration::from_secs(10),
                wait: Duration::from_millis(200),
                poll: Duration::from_millis(20),
            },
        )
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(matches!(got, LockAttempt::WaitTimeout), "{got:?}");
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(200) + SLACK, "{took:?}");
    held.abandon();
}

// --- Redis down or hung ----------------------------------------------------

/// Every operation fails with a `StoreError`, each within the timeout.
async fn every_call_fails_in_time(s: &RedisStore<u64>) {
    let bound = TIMEOUT + SLACK;
    let t = Instant::now();
    assert!(s.get(CacheKey(1)).await.is_err());
    assert!(t.elapsed() < bound, "get took {:?}", t.elapsed());
    let t = Instant::now();
    assert!(s.put(CacheKey(1), entry(1, 100, &[1])).await.is_err());
    assert!(t.elapsed() < bound, "put took {:?}", t.elapsed());
    let t = Instant::now();
    assert!(s.purge_tag(1, Micros(100)).await.is_err());
    assert!(t.elapsed() < bound, "purge took {:?}", t.elapsed());
    let t = Instant::now();
    assert!(s.locks().try_lock(CacheKey(1), TIMEOUT).await.is_err());
    assert!(t.elapsed() < bound, "lock took {:?}", t.elapsed());
}

/// Waits (at most 10 s) until the store answers again.
async fn recovers(s: &RedisStore<u64>) -> Duration {
    let t = Instant::now();
    wait_until_async(
        Duration::from_secs(10),
        "the store reconnects",
        async || s.ping().await.is_ok(),
    )
    .await;
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_then_restarted_errors_in_time_then_recovers() {
    let mut server = RedisServer::start();
    let s = store(&options(&server));
    s.put(CacheKey(1), entry(1, 0, &[1])).await.unwrap();
    server.kill();
    every_call_fails_in_time(&s).await;
    // Still failing, and still in time, on a second round (the manager is
    // reconnecting in the background meanwhile).
    every_call_fails_in_time(&s).await;
    let port = server.port();
    let _server = RedisServer::start_on(port);
    let took = recovers(&s).await;
    eprintln!("reconnected {took:?} after the restart");
    // A server without persistence comes back empty: a miss, then a fill.
    assert_eq!(s.get(CacheKey(1)).await.unwrap(), None);
    assert_eq!(
        s.put(CacheKey(1), entry(2, 200, &[1])).await.unwrap(),
        STORED
    );
    assert_eq!(s.get(CacheKey(1)).await.unwrap().unwrap().value, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_errors_in_time_and_answers_again_when_it_resumes() {
    let server = RedisServer::start();
    let s = store(&options(&server));
    s.put(CacheKey(1), entry(1, 0, &[1])).await.unwrap();
    server.signal("-STOP");
    every_call_fails_in_time(&s).await;
    server.signal("-CONT");
    recovers(&s).await;
    assert_eq!(s.get(CacheKey(1)).await.unwrap().unwrap().value, 1);
}

#[tokio::test]
async fn a_store_made_while_redis_is_down_connects_when_it_comes() {
    let mut server = RedisServer::start();
    let port = server.port();
    server.kill();
    let s = store(&RedisOptions {
        timeout: TIMEOUT,
        ..RedisOptions::new(format!("redis://127.0.0.1:{port}/"))
    });
    every_call_fails_in_time(&s).await;
    let _server = RedisServer::start_on(port);
    recovers(&s).await;
    assert_eq!(s.put(CacheKey(1), entry(1, 0, &[])).await.unwrap(), STORED);
}

// --- through the caching layer -----------------------------------------

type Layer = CacheLayer<u64, RedisStore<u64>>;

fn layer(o: &RedisOptions, clock: &Arc<ManualClock>) -> Layer {
    CacheLayer::new(
        LayerOptions {
            windows: Windows {
                ttl: Micros::from_secs(60),
                swr: Micros::ZERO,
                sie: Micros::ZERO,
            },
            coalesce: true,
            lock_timeout: Duration::from_secs(1),
        },
        Arc::new(store(o)),
        clock.clone(),
    )
}

async fn serve(l: &Layer, key: u128, value: u64) -> CacheOutcome {
    l.serve(CacheKey(key), move || async move {
        Ok(Fetched::new(value, true, vec![1], 8))
    })
    .await
    .expect("the layer answers")
    .outcome
}

/// Two replicas' layers on one Redis: one fills, the other hits; with Redis
/// gone both still answer, bypassing and counting store errors; when it
/// returns they cache again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_entries_and_bypass_while_redis_is_down() {
    let mut server = RedisServer::start();
    let o = options(&server);
    let clock = Arc::new(ManualClock::at(Micros::from_secs(1)));
    let a = layer(&o, &clock);
    let b = layer(&o, &clock);
    assert_eq!(serve(&a, 1, 10).await, CacheOutcome::Miss);
    assert_eq!(
        serve(&b, 1, 11).await,
        CacheOutcome::Hit,
        "filled by the other replica"
    );

    server.kill();
    for l in [&a, &b] {
        let t = Instant::now();
        assert_eq!(serve(l, 1, 12).await, CacheOutcome::Bypass);
        assert!(t.elapsed() < TIMEOUT + SLACK, "{:?}", t.elapsed());
    }
    assert_eq!(a.counters().store_errors.get(), 1);
    assert_eq!(b.counters().store_errors.get(), 1);

    let _server = RedisServer::start_on(server.port());
    recovers(a.store()).await;
    recovers(b.store()).await;
    clock.advance(Micros::from_secs(1));
    assert_eq!(
        serve(&b, 1, 13).await,
        CacheOutcome::Miss,
        "Redis came back empty"
    );
    assert_eq!(serve(&a, 1, 14).await, CacheOutcome::Hit);
}

/// A layer whose Redis dies answers every request (`BYPASS`, counted as a
/// store bypass), tries the dead store at most once per `STORE_RETRY`
/// (requests in between do not wait out a timeout), records the outage,
/// and closes it when a call succeeds again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_records_the_outage_and_leaves_a_dead_store_alone_meanwhile() {
    let mut server = RedisServer::start();
    let o = options(&server);
    let clock = Arc::new(ManualClock::at(Micros::from_secs(1)));
    let l = layer(&o, &clock);
    assert_eq!(serve(&l, 1, 10).await, CacheOutcome::Miss);
    assert!(l.store_outages().is_empty());

    server.kill();
    clock.advance(Micros::from_secs(1));
    assert_eq!(serve(&l, 1, 11).await, CacheOutcome::Bypass);
    let t = Instant::now();
    for v in 0..20 {
        assert_eq!(serve(&l, 1, 12 + v).await, CacheOutcome::Bypass);
    }
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "skipping the dead store costs nothing: {:?}",
        t.elapsed()
    );
    let c = l.counters();
    assert_eq!(c.store_errors.get(), 1, "tried once");
    assert_eq!(c.store_bypass.get(), 21);
    assert_eq!(c.bypass.get(), 21);
    assert_eq!(
        l.store_outages(),
        [StoreOutage {
            from: Micros::from_secs(2),
            until: None
        }]
    );

    // Past the retry period one request tries again, and fails again.
    clock.advance(Micros::from_millis(300));
    assert_eq!(serve(&l, 1, 40).await, CacheOutcome::Bypass);
    assert_eq!(l.counters().store_errors.get(), 2);

    let _server = RedisServer::start_on(server.port());
    recovers(l.store()).await;
    clock.advance(Micros::from_secs(1));
    assert_eq!(serve(&l, 1, 41).await, CacheOutcome::Miss, "caching again");
    assert_eq!(serve(&l, 1, 42).await, CacheOutcome::Hit);
    assert_eq!(
        l.store_outages(),
        [StoreOutage {
            from: Micros::from_secs(2),
            until: Some(Micros::from_millis(3_300))
        }]
    );
}

/// A hung Redis (SIGSTOP: connections open, no answers) costs a request at
/// most one call's timeout, and the next ones nothing until the retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_over_a_hung_redis_answers_in_time() {
    let server = RedisServer::start();
    let o = options(&server);
    let clock = Arc::new(ManualClock::at(Micros::from_secs(1)));
    let l = layer(&o, &clock);
    assert_eq!(serve(&l, 1, 10).await, CacheOutcome::Miss);
    server.signal("-STOP");
    let t = Instant::now();
    assert_eq!(serve(&l, 1, 11).await, CacheOutcome::Bypass);
    assert!(t.elapsed() < TIMEOUT + SLACK, "{:?}", t.elapsed());
    let t = Instant::now();
    assert_eq!(serve(&l, 2, 12).await, CacheOutcome::Bypass);
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    server.signal("-CONT");
    recovers(l.store()).await;
    clock.advance(Micros::from_secs(1));
    assert_eq!(
        serve(&l, 1, 13).await,
        CacheOutcome::Hit,
        "the entry survived"
    );
    assert_eq!(l.store_outages().len(), 1);
    assert!(l.store_outages()[0].until.is_some());
}

/// Three replicas' layers with the cross-replica lock, missing one key at
/// once: one upstream fetch in all; the other replicas wait for it and
/// serve its entry from Redis (`MISS`, lock `Waited`, a remote fill each).
/// Without the lock each replica fetches (the memory-store layer's single
/// flight is per process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_the_shared_lock_fill_a_key_once() {
    let server = RedisServer::start();
    for shared in [true, false] {
        let o = options(&server);
        let clock = Arc::new(ManualClock::at(Micros::from_secs(1)));
        let replicas: Vec<Arc<Layer>> = (0..3)
            .map(|_| {
                let l = layer(&o, &clock);
                let locks = l.store().locks();
                Arc::new(if shared {
                    l.with_shared_lock(locks, LockOptions::default())
                } else {
                    l
                })
            })
            .collect();
        let fetches = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let tasks: Vec<_> = replicas
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (l, fetches, barrier) = (l.clone(), fetches.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    l.serve(CacheKey(7), move || {
                        let fetches = fetches.clone();
                        async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(150)).await;
                            Ok(Fetched::new(100 + i as u64, true, vec![1], 8))
                        }
                    })
                    .await
                    .expect("answered")
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let remote: u64 = replicas
            .iter()
            .map(|l| l.counters().remote_fills.get())
            .sum();
        if shared {
            assert_eq!(
                fetches.load(Ordering::SeqCst),
                1,
                "one fetch across replicas"
            );
            assert_eq!(remote, 2);
            let values: Vec<u64> = answers.iter().map(|a| a.value).collect();
            assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
            let waited = answers
                .iter()
                .filter(|a| a.lock == Some(LockOutcome::Waited))
                .count();
            assert_eq!(waited, 2);
            assert!(answers.iter().all(|a| a.outcome == CacheOutcome::Miss));
        } else {
            assert_eq!(fetches.load(Ordering::SeqCst), 3, "each replica fetched");
            assert_eq!(remote, 0);
        }
    }
}

/// `clear` drops a namespace's entries, tag sets, barrier and locks, and
/// nothing of another namespace (one whose name it prefixes included).
#[tokio::test]
async fn clear_drops_one_namespace_only() {
    let server = RedisServer::start();
    let mine = RedisOptions {
        prefix: "run1".to_owned(),
        ..options(&server)
    };
    let other = RedisOptions {
        prefix: "run10".to_owned(),
        ..options(&server)
    };
    let (a, b) = (store(&mine), store(&other));
    for s in [&a, &b] {
        s.put(CacheKey(1), entry(1, 0, &[1, 2])).await.unwrap();
        s.purge_tag(3, Micros(5)).await.unwrap();
    }
    let held = a.locks().try_lock(CacheKey(2), TIMEOUT).await.unwrap();
    assert!(held.is_some());
    assert_eq!(
        a.clear().await.unwrap(),
        5,
        "entry, two tag sets, barrier, lock"
    );
    assert_eq!(a.entry_count().await.unwrap(), 0);
    assert!(!exists(&server, "run1:purged").await);
    assert_eq!(b.entry_count().await.unwrap(), 1);
    assert!(exists(&server, "run10:purged").await);
    assert_eq!(a.clear().await.unwrap(), 0);
    held.unwrap().abandon();
}

/// A purge while Redis hangs fails in time and is retried in the
/// background: once Redis resumes (with its entries), the purged page is
/// gone, not served until its TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_missed_while_redis_hangs_is_retried_when_it_resumes() {
    let server = RedisServer::start();
    let o = options(&server);
    let clock = Arc::new(ManualClock::at(Micros::from_secs(1)));
    let l = layer(&o, &clock);
    assert_eq!(serve(&l, 1, 10).await, CacheOutcome::Miss);
    server.signal("-STOP");
    clock.advance(Micros::from_secs(1));
    let t = Instant::now();
    assert_eq!(l.purge(1).await, 0, "failed");
    assert!(t.elapsed() < TIMEOUT + SLACK, "{:?}", t.elapsed());
    server.signal("-CONT");
    recovers(l.store()).await;
    wait_until_async(
        Duration::from_secs(5),
        "the purge was retried",
        async || l.counters().purged.get() > 0,
    )
    .await;
    assert_eq!(l.store().get(CacheKey(1)).await.unwrap(), None);
    clock.advance(Micros::from_secs(1));
    assert_eq!(serve(&l, 1, 11).await, CacheOutcome::Miss, "purged");
}
