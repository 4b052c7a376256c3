//! The caching layer as a state machine, for a discrete-event simulator.
//!
//! [`CacheLayer`](super::CacheLayer) runs on tasks and a clock: a fetch is a
//! future, waiters await a shared future, a refresh is a spawned task. A
//! simulator has neither; it has events. [`SteppedLayer`] makes the same
//! decisions in the same order, step by step: a lookup says whether to
//! answer now or which fetch to run, and the caller reports when that fetch
//! ends ([`SteppedLayer::complete`]); the layer then says what every request
//! waiting on it gets ([`SteppedLayer::next_reply`]). Both layers share
//! [`decide`], [`freshness`], the keys and [`MemoryStore`]; what this file
//! adds is only the bookkeeping the tasks did implicitly, and property 7 of
//! the suite in `ssr-origin/tests/properties` checks it gives the same
//! answers and counters as the real layer on the system clock.
//!
//! Built for the simulator's inner loop: fetches and waiters live in slabs
//! named by `u32`, waiter lists are threaded through their slots, and a
//! steady state allocates nothing.
//!
//! One difference is by design: the real layer gives up waiting after its
//! lock timeout (5 s in the origin); here a waiter waits for the fetch,
//! however long it takes.
//!
//! A store that fails: given the windows in which the store is unreachable
//! ([`SteppedLayer::with_store_outages`]), every store call made in one
//! fails at once (a cut connection is refused at once), and the layer keeps
//! each replica's [`StoreHealth`] — the real layer's own record, its
//! `STORE_RETRY` and its outages — so a lookup bypasses (`store_bypass`),
//! a put is lost, a stale-if-error read finds nothing and a purge is
//! retried ([`Purged::Retry`]) exactly where the real layer would.

use hashbrown::HashMap;
use ttlab_scenarios::Micros;

use super::freshness::Windows;
use super::key::CacheKey;
use super::layer::{
    Answer, Decision, STORE_RETRY, StoreHealth, StoreOutage, decide, purge_retry_due,
    stale_if_error,
};
use super::outcome::{CacheOutcome, LockOutcome, StaleReason};
use super::redis_store::LockOptions;
use super::store::{Bounds, MemoryStore, PutOutcome, Stored, Tag, Tags};
use ttlab_scenarios::LayerCounts;

/// Names a fetch in flight: the caller runs it and reports its end with
/// [`SteppedLayer::complete`].
pub type FetchId = u32;

/// The end of a list of waiters.
const NONE: u32 = u32::MAX;

/// What a lookup does now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup<V> {
    /// A fresh entry (`HIT`): answer with it.
    Hit(Answer<V>),
    /// A stale entry within stale-while-revalidate (`STALE`): answer with
    /// it. `refresh` is the background fetch this lookup started, which the
    /// caller runs (`None` when one was running already); it answers
    /// nobody, but requests that miss meanwhile wait for it.
    Stale {
        /// The answer.
        answer: Answer<V>,
        /// The refresh to run.
        refresh: Option<FetchId>,
    },
    /// Waiting for another request's fetch (the cache lock): the answer
    /// comes from [`SteppedLayer::next_reply`] when that fetch completes.
    Waiting,
    /// Fetch from upstream: the caller runs this fetch for the request.
    Fetch(FetchId),
}

/// What a request waiting on a completed fetch gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply<V, E> {
    /// Its answer, or the upstream's error.
    Done(Result<Answer<V>, E>),
    /// The fetch it waited for was not its to use (private or failed), so it
    /// fetches itself: the caller runs this fetch, whose answer comes later.
    Refetch(FetchId),
}

/// How a waiter came to wait, which decides its reply.
#[derive(Clone, Copy)]
enum Role {
    /// Around the cache (`BYPASS`).
    Bypass,
    /// Joined another request's fetch.
    Joined,
    /// Fetching for itself: as the lock's holder, without the lock, or after
    /// the fetch it waited for was not for sharing.
    Own(LockOutcome),
}

/// A request waiting on a fetch.
#[derive(Clone, Copy)]
struct Waiter {
    who: u32,
    role: Role,
    /// An entry exists that stale-if-error may serve if the fetch fails.
    stale_on_error: bool,
    next: u32,
}

/// A fetch in flight.
#[derive(Clone, Copy)]
struct Fetch {
    /// Where a cacheable answer goes (`None`: around the cache).
    key: Option<CacheKey>,
    started: Micros,
    /// The replica whose layer runs it (its store calls count there).
    replica: u16,
    /// Waiting for another replica's fill lock: the next poll, and when
    /// the wait ends (`None`: running, or never waited).
    lock_wait: Option<(Micros, Micros)>,
    /// It holds the key's cross-replica fill lock.
    holds_lock: bool,
    /// In the in-flight map: other lookups of the key wait for it.
    registered: bool,
    /// Its waiters, the leader first.
    first: u32,
    last: u32,
}

/// A vector of slots reused through a free list: ids stay small (`u32`,
/// for event queues) and a steady state allocates nothing. The simulator
/// keeps its requests in one too.
pub struct Slab<T> {
    slots: Vec<T>,
    free: Vec<u32>,
}

impl<T: Clone> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> Slab<T> {
    /// An empty slab.
    pub fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Stores `v`, returning its id.
    pub fn insert(&mut self, v: T) -> u32 {
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = v;
            i
        } else {
            self.slots.push(v);
            u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 in flight")
        }
    }

    /// Frees slot `i`, returning what it held.
    pub fn remove(&mut self, i: u32) -> T {
        self.free.push(i);
        self.slots[i as usize].clone()
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        &self.slots[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.slots[i as usize]
    }
}

/// A completed fetch whose waiters are still to be answered, one by one
/// with [`SteppedLayer::next_reply`].
#[derive(Debug)]
pub struct Completion<V, E> {
    key: Option<CacheKey>,
    replica: u16,
    result: Result<V, E>,
    cacheable: bool,
    next: u32,
}

/// What a fetch waiting for another replica's fill lock does after a poll
/// ([`SteppedLayer::poll`]).
#[derive(Debug)]
pub enum Polled<V, E> {
    /// Poll again at this instant.
    Again(Micros),
    /// Fetch now: the caller runs the fetch (with the lock, or without).
    Run,
    /// The other replica's entry, from the store: its waiters are answered
    /// with [`SteppedLayer::next_reply`], as for a completed fetch.
    Found(Completion<V, E>),
}

/// What became of a purge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purged {
    /// The store dropped this many entries.
    Done(usize),
    /// The store was unreachable: try again at this instant (with the same
    /// purge instant, [`SteppedLayer::purge_on`]), as the real layer's
    /// background retry does.
    Retry(Micros),
    /// The store stayed unreachable past `PURGE_RETRY_FOR`: the purge is
    /// given up, and the entries it missed live out their windows.
    GivenUp,
}

/// The caching layer on a virtual clock, over a [`MemoryStore`] of values
/// `V`; upstream errors are `E` (a status, say). Requests are named by the
/// caller's `u32` ids.
pub struct SteppedLayer<V, E> {
    windows: Windows,
    coalesce: bool,
    store: MemoryStore<V>,
    /// When the store is unreachable, `[from, until)` in time order
    /// (empty: a store that never fails, and no health kept).
    outages: Vec<(Micros, Micros)>,
    /// Each replica's record of its store calls (one unless
    /// [`SteppedLayer::with_store_outages`] says more).
    health: Vec<StoreHealth>,
    /// Each replica's fills in flight (its in-process single flight).
    inflight: Vec<HashMap<CacheKey, FetchId>>,
    /// The cross-replica fill locks in the shared store, when several
    /// replicas share it: the holding fetch and when the lock expires.
    locks: HashMap<CacheKey, (FetchId, Micros)>,
    /// The replicas take those locks (several of them, coalescing).
    shared_lock: bool,
    fetches: Slab<Fetch>,
    waiters: Slab<Waiter>,
    counts: LayerCounts,
    _error: std::marker::PhantomData<fn() -> E>,
}

impl<V: Clone, E: Clone> SteppedLayer<V, E> {
    /// A layer with `windows`, the cache lock when `coalesce`, and a store
    /// within `bounds` that reclaims entries past the windows on the
    /// virtual clock, as the servers' stores do on theirs.
    pub fn new(windows: Windows, coalesce: bool, bounds: Bounds) -> Self {
        SteppedLayer {
            windows,
            coalesce,
            store: MemoryStore::new(bounds).reclaiming(windows),
            outages: Vec::new(),
            health: vec![StoreHealth::quiet()],
            inflight: vec![HashMap::new()],
            locks: HashMap::new(),
            shared_lock: false,
            fetches: Slab::new(),
            waiters: Slab::new(),
            counts: LayerCounts::default(),
            _error: std::marker::PhantomData,
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> &LayerCounts {
        &self.counts
    }

    /// Entries stored now.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The layer's store (its size, bounds and what it reclaimed).
    pub fn store(&self) -> &MemoryStore<V> {
        &self.store
    }

    /// This layer with a store of no bounds held to `entries` entries
    /// ([`MemoryStore::with_ceiling`]): the simulator's default.
    #[must_use]
    pub fn with_ceiling(mut self, entries: u64) -> Self {
        self.store = self.store.with_ceiling(entries);
        self
    }

    /// This layer held by `replicas` origin replicas sharing its store (a
    /// Redis store), as a real run's replicas do: each keeps its own fills
    /// in flight (its in-process single flight) and its own record of the
    /// store's health, and with `coalesce` a fill first takes the key's
    /// cross-replica lock in the shared store — or polls for it as the
    /// real lock does (`LockOptions::default`: every 10 ms, at most 2 s,
    /// a lock living 5 s) and serves the holder's entry from the store.
    #[must_use]
    pub fn with_replicas(mut self, replicas: u16) -> Self {
        let n = usize::from(replicas.max(1));
        self.inflight = (0..n).map(|_| HashMap::new()).collect();
        self.health = (0..n).map(|_| StoreHealth::quiet()).collect();
        self.shared_lock = n > 1 && self.coalesce;
        self
    }

    /// This layer over a store that is unreachable in `outages` (`[from,
    /// until)`, in time order).
    #[must_use]
    pub fn with_store_outages(mut self, outages: Vec<(Micros, Micros)>) -> Self {
        self.outages = outages;
        self
    }

    /// Whether a store call at `t` fails.
    fn store_down(&self, t: Micros) -> bool {
        self.outages
            .iter()
            .any(|(from, until)| *from <= t && t < *until)
    }

    /// A store call of `replica`'s at `now`: whether it succeeds, recorded
    /// in the replica's health (and counted when it fails). Always true
    /// over a store that never fails.
    fn store_call(&mut self, replica: u16, now: Micros) -> bool {
        if self.outages.is_empty() {
            return true;
        }
        let down = self.store_down(now);
        let h = &self.health[usize::from(replica)];
        if down {
            h.failed(now);
            self.counts.store_errors += 1;
            false
        } else {
            h.answered(now);
            true
        }
    }

    /// When the store was unreachable to the layer, by its own calls: the
    /// union over its replicas, in time order (empty for a store that
    /// never fails). The windows the report lists.
    pub fn store_outages(&self) -> Vec<StoreOutage> {
        StoreOutage::merge(self.health.iter().flat_map(StoreHealth::outages).collect())
    }

    /// Request `who` looks up `key` at `now`.
    pub fn lookup(&mut self, now: Micros, key: CacheKey, who: u32) -> Lookup<V> {
        self.lookup_on(0, now, key, who)
    }

    /// Request `who` looks up `key` at `now` on replica `replica`'s layer.
    /// While that replica's store is unavailable (it failed now, or less
    /// than `STORE_RETRY` ago) the request goes around the cache, as the
    /// real layer's does.
    pub fn lookup_on(&mut self, replica: u16, now: Micros, key: CacheKey, who: u32) -> Lookup<V> {
        if !self.outages.is_empty()
            && (self.health[usize::from(replica)].skip(now) || !self.store_call(replica, now))
        {
            self.counts.store_bypass += 1;
            return Lookup::Fetch(self.bypass_on(replica, now, who));
        }
        let entry = self.store.get_exclusive(key);
        match decide(entry.as_ref().map(|e| e.stored_at), now, self.windows) {
            Decision::Hit => {
                let e = entry.expect("a hit has an entry");
                self.counts.hits += 1;
                Lookup::Hit(Answer::stored(e, now, None, None))
            }
            Decision::ServeStaleAndRefresh => {
                let e = entry.expect("stale has an entry");
                let refresh =
                    (!self.inflight[usize::from(replica)].contains_key(&key)).then(|| {
                        self.counts.refreshes += 1;
                        self.start(replica, now, Some(key), true, None)
                    });
                self.counts.stale += 1;
                Lookup::Stale {
                    answer: Answer::stored(e, now, Some(StaleReason::Revalidating), None),
                    refresh,
                }
            }
            Decision::Fill { stale_on_error } => {
                if !self.coalesce {
                    let w = (who, Role::Own(LockOutcome::Unlocked), stale_on_error);
                    return Lookup::Fetch(self.start(replica, now, Some(key), false, Some(w)));
                }
                if let Some(f) = self.inflight[usize::from(replica)].get(&key).copied() {
                    let w = self.waiters.insert(Waiter {
                        who,
                        role: Role::Joined,
                        stale_on_error,
                        next: NONE,
                    });
                    let fetch = &mut self.fetches[f];
                    let last = std::mem::replace(&mut fetch.last, w);
                    if last == NONE {
                        fetch.first = w;
                    } else {
                        self.waiters[last].next = w;
                    }
                    return Lookup::Waiting;
                }
                let w = (who, Role::Own(LockOutcome::Leader), stale_on_error);
                Lookup::Fetch(self.start(replica, now, Some(key), true, Some(w)))
            }
        }
    }

    /// Request `who` goes around the cache (`BYPASS`): the caller runs the
    /// returned fetch.
    pub fn bypass(&mut self, now: Micros, who: u32) -> FetchId {
        self.bypass_on(0, now, who)
    }

    /// [`SteppedLayer::bypass`] on replica `replica`'s layer.
    pub fn bypass_on(&mut self, replica: u16, now: Micros, who: u32) -> FetchId {
        self.counts.bypass += 1;
        self.start(replica, now, None, false, Some((who, Role::Bypass, false)))
    }

    /// Drops every entry built from content entry `tag`.
    pub fn purge(&mut self, now: Micros, tag: Tag) -> usize {
        match self.purge_on(0, now, tag, now) {
            Purged::Done(n) => n,
            Purged::Retry(_) | Purged::GivenUp => 0,
        }
    }

    /// Replica `replica`'s layer purges `tag` at `now` for a purge first
    /// made `at` (its barrier stays at that instant, as the real layer's
    /// retries keep it). When the store is unreachable, it says when to try
    /// again, while the real layer would.
    pub fn purge_on(&mut self, replica: u16, now: Micros, tag: Tag, at: Micros) -> Purged {
        if !self.store_call(replica, now) {
            let next = now.saturating_add(Micros::from_duration(STORE_RETRY));
            return if purge_retry_due(now.saturating_sub(at).to_duration()) {
                Purged::Retry(next)
            } else {
                Purged::GivenUp
            };
        }
        let n = self.store.purge_now(tag, at);
        self.counts.purged += n as u64;
        Purged::Done(n)
    }

    /// Starts a fetch, with its first waiter.
    fn start(
        &mut self,
        replica: u16,
        now: Micros,
        key: Option<CacheKey>,
        registered: bool,
        waiter: Option<(u32, Role, bool)>,
    ) -> FetchId {
        let first = waiter.map_or(NONE, |(who, role, stale_on_error)| {
            self.waiters.insert(Waiter {
                who,
                role,
                stale_on_error,
                next: NONE,
            })
        });
        let id = self.fetches.insert(Fetch {
            key,
            started: now,
            replica,
            lock_wait: None,
            holds_lock: false,
            registered,
            first,
            last: first,
        });
        if let (Some(k), true) = (key, registered) {
            self.inflight[usize::from(replica)].insert(k, id);
            // A coalesced fill (a leader's or a refresh) takes the shared lock.
            if self.shared_lock && !self.try_lock(now, k, id) {
                let wait = LockOptions::default();
                let poll = Micros::from_duration(wait.poll);
                let deadline = now.saturating_add(Micros::from_duration(wait.wait));
                self.fetches[id].lock_wait =
                    Some((now.saturating_add(poll).min(deadline), deadline));
                return id;
            }
        }
        self.counts.upstream_fetches += 1;
        id
    }

    /// Whether the store answers a lock call of `replica`'s at `now`; a
    /// failure is recorded and counted as the real lock's failures are (a
    /// success records nothing: the real lock does not close an outage).
    fn lock_call(&mut self, replica: u16, now: Micros) -> bool {
        if self.outages.is_empty() || !self.store_down(now) {
            return true;
        }
        self.health[usize::from(replica)].failed(now);
        self.counts.store_errors += 1;
        false
    }

    /// `SET NX` of `key`'s lock for fetch `id` at `now`: whether `id` may
    /// fetch now — it holds the lock, or the store failed and it fills
    /// without one (as the real layer does).
    fn try_lock(&mut self, now: Micros, key: CacheKey, id: FetchId) -> bool {
        let replica = self.fetches[id].replica;
        if !self.lock_call(replica, now) {
            return true;
        }
        if self.locks.get(&key).is_some_and(|(_, until)| *until > now) {
            return false;
        }
        let ttl = Micros::from_duration(LockOptions::default().ttl);
        self.locks.insert(key, (id, now.saturating_add(ttl)));
        self.fetches[id].holds_lock = true;
        true
    }

    /// When fetch `id` is to poll for another replica's fill lock instead
    /// of running ([`SteppedLayer::poll`] then); `None`: run it now.
    pub fn lock_poll_at(&self, id: FetchId) -> Option<Micros> {
        self.fetches[id].lock_wait.map(|(next, _)| next)
    }

    /// Fetch `id`, waiting for another replica's fill lock, polls at `now`
    /// as the real lock does: the lock still held, it polls again (or, its
    /// wait over, fetches without the lock: `lock_timeouts`); let go, it
    /// reads the store — the holder's fresh entry answers its waiters
    /// (`remote_fills`, no fetch), else it takes the lock (or waits for the
    /// next holder); a store that fails, it fetches without the lock.
    pub fn poll(&mut self, now: Micros, id: FetchId) -> Polled<V, E> {
        let f = self.fetches[id];
        let (Some(key), Some((_, deadline))) = (f.key, f.lock_wait) else {
            return Polled::Run;
        };
        if !self.lock_call(f.replica, now) {
            return self.run(now, id);
        }
        let held = self.locks.get(&key).is_some_and(|(_, until)| *until > now);
        if !held {
            let entry = self.store.get_exclusive(key);
            if let Some(e) =
                entry.filter(|e| decide(Some(e.stored_at), now, self.windows) == Decision::Hit)
            {
                self.counts.remote_fills += 1;
                let f = self.fetches.remove(id);
                if let Some(k) = f.key
                    && self.inflight[usize::from(f.replica)].get(&k) == Some(&id)
                {
                    self.inflight[usize::from(f.replica)].remove(&k);
                }
                if f.first != NONE
                    && let Role::Own(_) = self.waiters[f.first].role
                {
                    self.waiters[f.first].role = Role::Own(LockOutcome::Waited);
                }
                return Polled::Found(Completion {
                    key: f.key,
                    replica: f.replica,
                    result: Ok(e.value),
                    cacheable: true,
                    next: f.first,
                });
            }
            if self.try_lock(now, key, id) {
                return self.run(now, id);
            }
        }
        if now >= deadline {
            self.counts.lock_timeouts += 1;
            return self.run(now, id);
        }
        let poll = Micros::from_duration(LockOptions::default().poll);
        let next = now.saturating_add(poll).min(deadline);
        self.fetches[id].lock_wait = Some((next, deadline));
        Polled::Again(next)
    }

    /// Fetch `id` stops waiting and fetches now (its fetch begins now).
    fn run(&mut self, now: Micros, id: FetchId) -> Polled<V, E> {
        let f = &mut self.fetches[id];
        f.lock_wait = None;
        f.started = now;
        self.counts.upstream_fetches += 1;
        Polled::Run
    }

    /// Fetch `id` ended at `now` with `result`, which may be stored and
    /// shared when `cacheable`; `entry` gives a stored answer's tags and
    /// size. A cacheable answer is stored before anyone is answered (as the
    /// real layer's fill task stores before its future resolves); then
    /// [`SteppedLayer::next_reply`] answers the waiters in the order they came.
    pub fn complete(
        &mut self,
        now: Micros,
        id: FetchId,
        result: Result<V, E>,
        cacheable: bool,
        entry: impl FnOnce(&V) -> (Tags, u32),
    ) -> Completion<V, E> {
        let f = self.fetches.remove(id);
        match &result {
            Ok(v) if cacheable => {
                if let Some(key) = f.key
                    && self.store_call(f.replica, now)
                {
                    let (tags, size) = entry(v);
                    let stored = Stored {
                        value: v.clone(),
                        stored_at: now,
                        fetched_at: f.started,
                        tags,
                        size,
                    };
                    if let PutOutcome::Stored { evicted } = self.store.put_now(key, stored) {
                        self.counts.evicted += evicted as u64;
                    }
                }
            }
            Ok(_) => {}
            Err(_) => self.counts.fill_errors += 1,
        }
        if let (Some(k), true) = (f.key, f.registered) {
            let inflight = &mut self.inflight[usize::from(f.replica)];
            if inflight.get(&k) == Some(&id) {
                inflight.remove(&k);
            }
            // Released after the put; a release the store fails leaves the
            // lock to expire (and is not counted, as the real layer's).
            if f.holds_lock
                && !self.store_down(now)
                && self.locks.get(&k).is_some_and(|(holder, _)| *holder == id)
            {
                self.locks.remove(&k);
            }
        }
        Completion {
            key: f.key,
            replica: f.replica,
            result,
            cacheable,
            next: f.first,
        }
    }

    /// The next request waiting on `c` and what it gets, or `None` when all
    /// are answered.
    pub fn next_reply(
        &mut self,
        now: Micros,
        c: &mut Completion<V, E>,
    ) -> Option<(u32, Reply<V, E>)> {
        if c.next == NONE {
            return None;
        }
        let w = self.waiters.remove(c.next);
        c.next = w.next;
        let shareable = c.cacheable && c.result.is_ok();
        let reply = match (w.role, &c.result) {
            (Role::Bypass, result) => Reply::Done(
                result
                    .clone()
                    .map(|value| Answer::fetched(value, CacheOutcome::Bypass, None)),
            ),
            (Role::Joined, Ok(value)) if shareable => {
                self.counts.coalesced += 1;
                self.counts.misses += 1;
                Reply::Done(Ok(Answer::fetched(
                    value.clone(),
                    CacheOutcome::Miss,
                    Some(LockOutcome::Waited),
                )))
            }
            (Role::Joined, _) => {
                // Another request's private or failed answer is not ours.
                let own = (w.who, Role::Own(LockOutcome::Released), w.stale_on_error);
                Reply::Refetch(self.start(c.replica, now, c.key, false, Some(own)))
            }
            (Role::Own(lock), Ok(value)) => {
                let outcome = if c.cacheable {
                    CacheOutcome::Miss
                } else {
                    CacheOutcome::Bypass
                };
                outcome.count_in(&mut self.counts);
                Reply::Done(Ok(Answer::fetched(value.clone(), outcome, Some(lock))))
            }
            (Role::Own(lock), Err(e)) => {
                Reply::Done(self.on_error(now, c.key, c.replica, w, lock, e))
            }
        };
        Some((w.who, reply))
    }

    /// A failed fetch's answer to its own request: the stored entry when
    /// stale-if-error allows it, judged now on what the store holds now (as
    /// the real layer judges it), else the error.
    fn on_error(
        &mut self,
        now: Micros,
        key: Option<CacheKey>,
        replica: u16,
        w: Waiter,
        lock: LockOutcome,
        e: &E,
    ) -> Result<Answer<V>, E> {
        let now_stored = key
            .filter(|_| w.stale_on_error && self.store_call(replica, now))
            .and_then(|k| self.store.get_exclusive(k));
        if let Some(answer) = stale_if_error(now_stored, now, self.windows, lock) {
            self.counts.stale += 1;
            self.counts.stale_if_error += 1;
            Ok(answer)
        } else {
            self.counts.misses += 1;
            Err(e.clone())
        }
    }
}
