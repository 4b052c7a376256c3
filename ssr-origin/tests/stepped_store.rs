//! The simulator's layer over a shared store: origin replicas with their
//! cross-replica fill lock, and store outages — the real layer's rules for
//! both (`docs/decisions.md`: "Store outages on the timeline, in both
//! engines", "Cross-replica coalescing"), step by step on a virtual clock.

use ttlab_scenarios::Micros;
use ttlab_ssr_origin::cache::{
    Bounds, CacheKey, CacheOutcome, LockOutcome, Lookup, Polled, Purged, Reply, STORE_RETRY,
    SteppedLayer, Windows,
};

type Layer = SteppedLayer<u64, u16>;

const K: CacheKey = CacheKey(7);

fn ms(n: u64) -> Micros {
    Micros::from_millis(n)
}

fn windows() -> Windows {
    Windows {
        ttl: Micros::from_secs(30),
        swr: Micros::ZERO,
        sie: Micros::ZERO,
    }
}

fn layer(replicas: u16) -> Layer {
    SteppedLayer::new(windows(), true, Bounds::default()).with_replicas(replicas)
}

fn fetch_of(l: Lookup<u64>) -> u32 {
    match l {
        Lookup::Fetch(f) => f,
        other => panic!("expected a fetch, got {other:?}"),
    }
}

/// Completes fetch `f` at `t` with page `v` (tagged 1) and returns every
/// waiter's reply.
fn complete(l: &mut Layer, t: Micros, fetch: u32, page: u64) -> Vec<(u32, Reply<u64, u16>)> {
    let mut done = l.complete(t, fetch, Ok(page), true, |_| ([1].into_iter().collect(), 1));
    std::iter::from_fn(|| l.next_reply(t, &mut done)).collect()
}

#[test]
fn a_replica_missing_a_key_another_fills_polls_its_lock_and_serves_its_entry() {
    let mut l = layer(2);
    let f0 = fetch_of(l.lookup_on(0, ms(0), K, 100));
    assert_eq!(l.lock_poll_at(f0), None, "the first replica takes the lock");
    // Replica 1 misses the same key 1 ms later: its in-process single
    // flight has no fill of it, so its fill goes to the shared lock.
    let f1 = fetch_of(l.lookup_on(1, ms(1), K, 101));
    assert_eq!(l.lock_poll_at(f1), Some(ms(11)), "polls every 10 ms");
    // Another request of replica 1 joins its own fill in process.
    assert_eq!(l.lookup_on(1, ms(2), K, 102), Lookup::Waiting);
    assert!(matches!(l.poll(ms(11), f1), Polled::Again(t) if t == ms(21)));
    assert!(matches!(l.poll(ms(21), f1), Polled::Again(t) if t == ms(31)));
    // The holder stores and releases at 25 ms; replica 1 sees the lock
    // gone at its next poll (31 ms) and takes the entry from the store.
    let replies = complete(&mut l, ms(25), f0, 42);
    assert_eq!(replies.len(), 1);
    let Polled::Found(mut c) = l.poll(ms(31), f1) else {
        panic!("the holder's entry");
    };
    let replies: Vec<_> = std::iter::from_fn(|| l.next_reply(ms(31), &mut c)).collect();
    let answers: Vec<_> = replies
        .iter()
        .map(|(who, r)| match r {
            Reply::Done(Ok(a)) => (*who, a.value, a.outcome, a.lock),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        answers,
        [
            (101, 42, CacheOutcome::Miss, Some(LockOutcome::Waited)),
            (102, 42, CacheOutcome::Miss, Some(LockOutcome::Waited)),
        ]
    );
    let c = l.counts();
    assert_eq!(c.upstream_fetches, 1, "one fetch for both replicas");
    assert_eq!(c.remote_fills, 1);
    assert_eq!(c.coalesced, 1, "the in-process joiner");
    assert_eq!(c.misses, 3);
    // Accounting as the real layer's: fetches = misses + bypass + sie +
    // refreshes − coalesced − remote fills.
    assert_eq!(
        c.upstream_fetches,
        c.misses + c.bypass + c.stale_if_error + c.refreshes - c.coalesced - c.remote_fills
    );
    assert!(matches!(l.lookup_on(1, ms(40), K, 103), Lookup::Hit(_)));
}

#[test]
fn a_lock_held_past_the_wait_is_given_up_and_the_waiter_fetches_alone() {
    let mut l = layer(2);
    let f0 = fetch_of(l.lookup_on(0, ms(0), K, 1));
    let f1 = fetch_of(l.lookup_on(1, ms(0), K, 2));
    let mut t = l.lock_poll_at(f1).unwrap();
    let mut polls = 0;
    loop {
        polls += 1;
        match l.poll(t, f1) {
            Polled::Again(next) => t = next,
            Polled::Run => break,
            Polled::Found(_) => panic!("the holder has stored nothing"),
        }
    }
    assert_eq!(t, ms(2_000), "the wait ends after 2 s");
    assert_eq!(polls, 200);
    assert_eq!(l.counts().lock_timeouts, 1);
    assert_eq!(l.counts().upstream_fetches, 2);
    assert_eq!(l.lock_poll_at(f1), None, "it runs now");
    complete(&mut l, ms(2_500), f0, 1);
    complete(&mut l, ms(2_600), f1, 2);
}

#[test]
fn one_replica_takes_no_lock_and_coalesces_in_process_as_before() {
    let mut l = layer(1);
    let f = fetch_of(l.lookup_on(0, ms(0), K, 1));
    assert_eq!(l.lock_poll_at(f), None);
    assert_eq!(l.lookup_on(0, ms(1), K, 2), Lookup::Waiting);
    assert_eq!(complete(&mut l, ms(20), f, 9).len(), 2);
    assert_eq!(l.counts().coalesced, 1);
    assert_eq!(l.counts().remote_fills, 0);
}

#[test]
fn in_an_outage_lookups_bypass_puts_are_lost_and_purges_are_retried_after_it() {
    let outage = (Micros::from_secs(1), Micros::from_secs(2));
    let mut l = layer(2).with_store_outages(vec![outage]);
    // Stored before the outage.
    let first = fetch_of(l.lookup_on(0, ms(0), K, 1));
    complete(&mut l, ms(900), first, 5);
    // A fill under way when the outage begins loses its put.
    let other = CacheKey(8);
    let cut_off = fetch_of(l.lookup_on(1, ms(950), other, 2));
    // In the outage: each replica finds it by its own first call, and
    // leaves the store alone for STORE_RETRY after each failed try.
    let retry = Micros::from_duration(STORE_RETRY);
    let bypass = fetch_of(l.lookup_on(0, ms(1_000), K, 3));
    assert_eq!(l.counts().store_bypass, 1);
    assert_eq!(l.counts().store_errors, 1);
    let replies = complete(&mut l, ms(1_010), bypass, 6);
    assert!(matches!(&replies[0].1, Reply::Done(Ok(a)) if a.outcome == CacheOutcome::Bypass));
    fetch_of(l.lookup_on(0, ms(1_100), K, 4));
    assert_eq!(
        l.counts().store_errors,
        1,
        "skipped: tried less than 200 ms ago"
    );
    fetch_of(l.lookup_on(1, ms(1_100), K, 5));
    assert_eq!(l.counts().store_errors, 2, "replica 1's own first call");
    fetch_of(l.lookup_on(0, ms(1_000).saturating_add(retry), K, 6));
    assert_eq!(l.counts().store_errors, 3, "one try per period");
    complete(&mut l, ms(1_050), cut_off, 7);
    assert_eq!(l.counts().store_errors, 4, "the put failed");
    // A publish in the outage: its purge fails, and is tried again every
    // 200 ms with the publish's instant as its barrier.
    let publish = ms(1_500);
    assert_eq!(
        l.purge_on(0, publish, 1, publish),
        Purged::Retry(publish.saturating_add(retry))
    );
    assert_eq!(
        l.purge_on(0, ms(1_900), 1, publish),
        Purged::Retry(ms(2_100))
    );
    // After it: the entry stored before it is still there, until the
    // retried purge lands.
    let hit = l.lookup_on(0, ms(2_300), K, 7);
    assert!(matches!(hit, Lookup::Hit(ref a) if a.value == 5), "{hit:?}");
    assert_eq!(l.purge_on(0, ms(2_300), 1, publish), Purged::Done(1));
    // Replica 1 has not called the store since its put failed: to it the
    // store is down until its next call succeeds.
    assert_eq!(l.store_outages()[0].until, None);
    assert!(
        matches!(l.lookup_on(1, ms(2_400), K, 9), Lookup::Fetch(_)),
        "purged"
    );
    assert!(
        matches!(l.lookup_on(0, ms(2_301), other, 8), Lookup::Fetch(_)),
        "never stored"
    );
    let outages = l.store_outages();
    assert_eq!(outages.len(), 1, "{outages:?}");
    assert_eq!(outages[0].from, ms(1_000));
    assert_eq!(outages[0].until, Some(ms(2_400)), "the union over replicas");
    assert_eq!(l.counts().store_bypass, 4);
}

#[test]
fn a_purge_the_store_misses_for_longer_than_the_retry_period_is_given_up() {
    let mut l = layer(1).with_store_outages(vec![(Micros::ZERO, Micros::from_secs(60))]);
    assert!(matches!(l.purge_on(0, ms(0), 1, ms(0)), Purged::Retry(_)));
    assert_eq!(
        l.purge_on(0, Micros::from_secs(30), 1, ms(0)),
        Purged::GivenUp
    );
}
