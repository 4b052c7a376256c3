//! A caching layer: look up, serve fresh or stale, fill on a miss with one
//! upstream fetch per key at a time (the cache lock), refresh in the
//! background within stale-while-revalidate, fall back to stale within
//! stale-if-error, purge by tag — and count every outcome.
//!
//! The decisions are the pure function [`decide`] over the entry's
//! freshness, shared with the simulator; this type adds the concurrency.
//!
//! Over a store shared by several replicas (Redis), a layer made
//! [`CacheLayer::with_shared_lock`] coalesces across replicas too: the
//! in-process single flight still gives one fill per key in this process,
//! and that fill first takes the key's lock in the shared store — or waits,
//! bounded, for the replica holding it and takes its entry from the store.
//! When the store fails or is slow, the layer answers without it (`BYPASS`,
//! counted in `store_bypass`), leaves it alone for [`STORE_RETRY`], and
//! records the outage ([`CacheLayer::store_outages`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use ttlab_scenarios::{Clock, Micros};

use super::freshness::{Freshness, Windows, freshness};
use super::key::CacheKey;
use super::outcome::{CacheOutcome, LayerCounters, LockOutcome, StaleReason};
use super::redis_store::{LockAttempt, LockGuard, LockOptions, RedisLocks};
use super::store::{Cached, PutOutcome, Store, StoreError, Stored, Tag};

/// After a store call fails, lookups skip the store (and bypass) for this
/// long before one tries it again: while Redis is down or hung, requests
/// do not each wait out a call's timeout.
pub const STORE_RETRY: Duration = Duration::from_millis(200);

/// How long a purge that the store failed is retried in the background
/// before the layer gives up on it (and the entries it missed live out
/// their TTL, or the Redis-side expiry).
pub const PURGE_RETRY_FOR: Duration = Duration::from_secs(30);

/// A stretch of time in which the layer's store was unavailable: from a
/// failed call to the next call that succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOutage {
    /// The first failed call (run clock).
    pub from: Micros,
    /// The first call that succeeded again; `None` while still down.
    pub until: Option<Micros>,
}

impl StoreOutage {
    /// The union of outages (of several replicas), in time order: windows
    /// that overlap or touch become one.
    pub fn merge(mut all: Vec<StoreOutage>) -> Vec<StoreOutage> {
        all.sort_by_key(|o| o.from);
        let mut out: Vec<StoreOutage> = Vec::with_capacity(all.len());
        for o in all {
            match out.last_mut() {
                Some(last) if last.until.is_none_or(|u| o.from <= u) => {
                    last.until = match (last.until, o.until) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                _ => out.push(o),
            }
        }
        out
    }
}

/// Whether the store answers, from the layer's own calls: it records the
/// outages and says when a lookup should leave the store alone. The real
/// layer keeps one per replica; so does the simulator's
/// [`SteppedLayer`](crate::cache::SteppedLayer), which drives the very same state on its
/// virtual clock, so both take the same decisions while a store is down.
#[derive(Debug, Default)]
pub(crate) struct StoreHealth {
    down: AtomicBool,
    /// When the store was last tried while down (run-clock µs).
    last_try: AtomicU64,
    outages: Mutex<Vec<StoreOutage>>,
    /// No log lines (the simulator's: it reports the outages instead).
    quiet: bool,
}

impl StoreHealth {
    /// A health record that logs nothing.
    pub(crate) fn quiet() -> Self {
        StoreHealth {
            quiet: true,
            ..StoreHealth::default()
        }
    }

    /// A store call failed at `now`.
    pub(crate) fn failed(&self, now: Micros) {
        self.last_try.store(now.0, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            return;
        }
        let mut o = self.outages.lock().expect("store outages");
        if !self.down.swap(true, Ordering::Relaxed) {
            // Once per outage: each failed call is only a debug line.
            if !self.quiet {
                tracing::warn!(at = %now, "cache store unavailable: bypassing the cache until it answers");
            }
            o.push(StoreOutage {
                from: now,
                until: None,
            });
        }
    }

    /// A call sent at `sent` was answered. A call sent before the outage
    /// began (an answer straggling in as the store dies) says nothing of
    /// the store since: only a later one ends the outage.
    pub(crate) fn answered(&self, sent: Micros) {
        if !self.down.load(Ordering::Relaxed) {
            return;
        }
        let mut o = self.outages.lock().expect("store outages");
        if o.last()
            .is_some_and(|last| last.until.is_none() && sent < last.from)
        {
            return;
        }
        let now = sent;
        if self.down.swap(false, Ordering::Relaxed)
            && let Some(last) = o.last_mut()
        {
            last.until = Some(now.max(last.from));
            if !self.quiet {
                tracing::info!(down_since = %last.from, at = %now, "cache store answers again");
            }
        }
    }

    /// Whether a lookup at `now` should skip the store: it failed less than
    /// [`STORE_RETRY`] ago. One lookup per period tries it again.
    pub(crate) fn skip(&self, now: Micros) -> bool {
        if !self.down.load(Ordering::Relaxed) {
            return false;
        }
        let last = self.last_try.load(Ordering::Relaxed);
        if now.0.saturating_sub(last) < STORE_RETRY.as_micros() as u64 {
            return true;
        }
        // This lookup tries; the others keep skipping.
        self.last_try
            .compare_exchange(last, now.0, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    }

    /// The outcome of a call sent at `sent` that ended at `now`.
    pub(crate) fn record<T>(&self, sent: Micros, now: Micros, r: &Result<T, StoreError>) {
        match r {
            Ok(_) => self.answered(sent),
            Err(_) => self.failed(now),
        }
    }

    /// The outages so far, in time order.
    pub(crate) fn outages(&self) -> Vec<StoreOutage> {
        self.outages.lock().expect("store outages").clone()
    }
}

/// Whether a purge the store failed, first tried `elapsed` ago, is tried
/// again ([`STORE_RETRY`] after the last try): for [`PURGE_RETRY_FOR`].
/// Both layers retry by it.
pub fn purge_retry_due(elapsed: Duration) -> bool {
    elapsed < PURGE_RETRY_FOR
}

/// The cross-replica fill lock of a layer over a shared store.
#[derive(Clone)]
struct SharedLock {
    locks: RedisLocks,
    options: LockOptions,
}

/// How a fill fared with the cross-replica lock.
enum Shared<V> {
    /// It holds the lock: fetch, store, release.
    Lead(LockGuard),
    /// Another replica filled the key meanwhile: its fresh entry.
    Found(Cached<V>),
    /// No lock (the wait ended, or the store failed): fetch anyway.
    Alone,
}

/// What the layer does with a lookup, from the stored entry's freshness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve the entry (`HIT`).
    Hit,
    /// Serve the entry (`STALE`) and refresh it in the background.
    ServeStaleAndRefresh,
    /// Fetch from upstream; if that fails, serve the entry when
    /// `stale_on_error` (`STALE`), else fail.
    Fill {
        /// An entry exists that stale-if-error allows serving on failure.
        stale_on_error: bool,
    },
}

/// The one rule from lookup to action: both the real layer and the
/// simulator call it.
pub fn decide(stored_at: Option<Micros>, now: Micros, w: Windows) -> Decision {
    match stored_at.map(|s| freshness(s, now, w)) {
        Some(Freshness::Fresh) => Decision::Hit,
        Some(Freshness::Stale {
            revalidate: true, ..
        }) => Decision::ServeStaleAndRefresh,
        Some(Freshness::Stale {
            revalidate: false,
            if_error,
        }) => Decision::Fill {
            stale_on_error: if_error,
        },
        Some(Freshness::Expired) | None => Decision::Fill {
            stale_on_error: false,
        },
    }
}

/// What stale-if-error answers when a fetch failed at `now` with `lock`:
/// what the store holds then (`now_stored`: an entry purged since the
/// lookup must not come back, and one stored since is fresher), if its
/// freshness allows serving it on an error. Both layers call it.
pub fn stale_if_error<V>(
    now_stored: Option<Cached<V>>,
    now: Micros,
    w: Windows,
    lock: LockOutcome,
) -> Option<Answer<V>> {
    now_stored
        .filter(|e| freshness(e.stored_at, now, w).servable_on_error())
        .map(|e| Answer::stored(e, now, Some(StaleReason::UpstreamError), Some(lock)))
}

/// Options of a layer.
#[derive(Clone, Copy, Debug)]
pub struct LayerOptions {
    /// TTL, SWR and SIE windows.
    pub windows: Windows,
    /// One upstream fill per key at a time.
    pub coalesce: bool,
    /// How long a request waits for another's fill before fetching itself.
    pub lock_timeout: Duration,
}

/// What an upstream fetch produced.
#[derive(Clone, Debug)]
pub struct Fetched<V> {
    /// The answer.
    pub value: V,
    /// Whether it may be stored and shared.
    pub cacheable: bool,
    /// Content entries it was built from.
    pub tags: Vec<Tag>,
    /// Its size in bytes.
    pub size: u64,
    /// How old it already was when it arrived (an upstream cache's `Age`,
    /// corrected as HTTP says): its age in this layer counts from there,
    /// so it is stored as if fetched that long ago. Zero for an answer
    /// the upstream made just now.
    pub initial_age: Micros,
    /// Store it under this key instead of the one it was looked up under:
    /// an HTTP cache learns from the answer which request headers it varies
    /// on, and so the key its variant belongs under (`Vary`).
    pub store_as: Option<CacheKey>,
}

impl<V> Fetched<V> {
    /// A fresh answer of `size` bytes built from content entries `tags`,
    /// stored under the key it was looked up with.
    pub fn new(value: V, cacheable: bool, tags: Vec<Tag>, size: u64) -> Self {
        Fetched {
            value,
            cacheable,
            tags,
            size,
            initial_age: Micros::ZERO,
            store_as: None,
        }
    }
}

/// An upstream fetch that failed; the layer passes it on when it cannot
/// serve stale.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct FillError {
    /// HTTP status to answer with (502, 503, 504).
    pub status: u16,
    /// What failed, for the response body and logs.
    pub message: String,
}

/// One answer of the layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<V> {
    /// What to send.
    pub value: V,
    /// What the layer did.
    pub outcome: CacheOutcome,
    /// Seconds since the answer was stored (0 for fresh fetches).
    pub age: Micros,
    /// Why a stale entry was served.
    pub stale_reason: Option<StaleReason>,
    /// How a miss got its answer.
    pub lock: Option<LockOutcome>,
}

impl<V> Answer<V> {
    /// An answer from the store: `HIT` without a stale reason, `STALE`
    /// with one; its age counts from when the entry was stored.
    pub fn stored(
        e: Cached<V>,
        now: Micros,
        stale_reason: Option<StaleReason>,
        lock: Option<LockOutcome>,
    ) -> Self {
        Answer {
            value: e.value,
            outcome: if stale_reason.is_some() {
                CacheOutcome::Stale
            } else {
                CacheOutcome::Hit
            },
            age: now.saturating_sub(e.stored_at),
            stale_reason,
            lock,
        }
    }

    /// An answer fresh from upstream (`MISS` or `BYPASS`): age 0.
    pub fn fetched(value: V, outcome: CacheOutcome, lock: Option<LockOutcome>) -> Self {
        Answer {
            value,
            outcome,
            age: Micros::ZERO,
            stale_reason: None,
            lock,
        }
    }
}

/// What a fill produced: a fetch of this process's, or another replica's
/// entry found in the shared store (`found_stored_at` says when it was stored).
#[derive(Clone, Debug)]
struct Filled<V> {
    fetched: Fetched<V>,
    found_stored_at: Option<Micros>,
}

type FillResult<V> = Result<Filled<V>, FillError>;
type SharedFill<V> = futures::future::Shared<BoxFuture<'static, FillResult<V>>>;
/// Fills in flight: key to (fill id, the shared fill).
type Inflight<V> = Arc<Mutex<HashMap<CacheKey, (u64, SharedFill<V>)>>>;

/// A caching layer over store `S` of values `V` (cheap to clone: an `Arc`).
pub struct CacheLayer<V, S> {
    options: LayerOptions,
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    inflight: Inflight<V>,
    next_fill: AtomicU64,
    counters: LayerCounters,
    shared: Option<SharedLock>,
    health: Arc<StoreHealth>,
    /// The windows an entry carries itself (an HTTP cache's, from the
    /// headers it was stored with), over the layer's.
    entry_windows: Option<EntryWindows<V>>,
}

/// Reads the windows a stored value carries, if any (see
/// [`CacheLayer::with_entry_windows`]).
pub type EntryWindows<V> = fn(&V) -> Option<Windows>;

impl<V, S> CacheLayer<V, S>
where
    V: Clone + Send + Sync + 'static,
    S: Store<V>,
{
    /// A layer over `store`, judging freshness on `clock`.
    pub fn new(options: LayerOptions, store: Arc<S>, clock: Arc<dyn Clock>) -> Self {
        CacheLayer {
            options,
            store,
            clock,
            inflight: Arc::default(),
            next_fill: AtomicU64::new(0),
            counters: LayerCounters::default(),
            shared: None,
            health: Arc::default(),
            entry_windows: None,
        }
    }

    /// Judges each entry by the windows it carries (`windows_of` reads
    /// them from the stored value; `None` falls back to the layer's): an
    /// HTTP cache's lifetimes come from each response's headers. Reading
    /// them is a field access, so a hit costs what it did.
    #[must_use]
    pub fn with_entry_windows(mut self, windows_of: EntryWindows<V>) -> Self {
        self.entry_windows = Some(windows_of);
        self
    }

    /// The windows `value` is judged by.
    fn windows_of(&self, value: &V) -> Windows {
        self.entry_windows
            .and_then(|f| f(value))
            .unwrap_or(self.options.windows)
    }

    /// Coalesces across replicas as well: with `coalesce` on, a fill first
    /// takes the key's lock in the shared store (`locks`, on the same
    /// Redis and prefix as the store), or waits for the replica holding it
    /// — at most `options.wait` in all — and serves that replica's entry
    /// from the store. Without `coalesce` the lock is never taken.
    #[must_use]
    pub fn with_shared_lock(mut self, locks: RedisLocks, options: LockOptions) -> Self {
        self.shared = Some(SharedLock { locks, options });
        self
    }

    /// Fills and background refreshes under way (one per key at most): 0
    /// once the layer is idle, which tests and shutdowns wait for.
    pub fn fills_in_flight(&self) -> usize {
        self.inflight.lock().expect("inflight map").len()
    }

    /// When the store was unavailable to this layer, in time order (empty
    /// for a store that never fails, as the memory store).
    pub fn store_outages(&self) -> Vec<StoreOutage> {
        self.health.outages()
    }

    /// The layer's counters.
    pub fn counters(&self) -> &LayerCounters {
        &self.counters
    }

    /// The layer's store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Answers a request that must not use the cache (`BYPASS`).
    pub async fn bypass<F, Fut>(&self, fetch: F) -> Result<Answer<V>, FillError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched<V>, FillError>>,
    {
        self.counters.bypass.inc();
        self.counters.upstream_fetches.inc();
        let fetched = fetch().await.inspect_err(|_| {
            self.counters.fill_errors.inc();
        })?;
        Ok(Answer::fetched(fetched.value, CacheOutcome::Bypass, None))
    }

    /// Answers a request for `key`, fetching with `fetch` when needed.
    ///
    /// `fetch` runs in its own task, so a fill completes (and is stored)
    /// even if the request that started it goes away.
    pub async fn serve<F, Fut>(&self, key: CacheKey, fetch: F) -> Result<Answer<V>, FillError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        self.serve_with(key, |w| w, move |_| fetch()).await
    }

    /// [`CacheLayer::serve`] for a cache that revalidates and takes orders
    /// from the request: `narrow` turns the entry's windows into those this
    /// request allows (an HTTP request's `max-age`, `min-fresh`, `no-cache`
    /// narrow them), and `fetch` gets the stored value it replaces, if any,
    /// so it can ask the upstream whether that value still holds (a
    /// conditional request) instead of fetching it whole.
    pub async fn serve_with<N, F, Fut>(
        &self,
        key: CacheKey,
        narrow: N,
        fetch: F,
    ) -> Result<Answer<V>, FillError>
    where
        N: Fn(Windows) -> Windows,
        F: Fn(Option<V>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        let now = self.clock.now();
        let Some(entry) = self.lookup(key, now).await else {
            self.counters.store_bypass.inc();
            return self.bypass(|| fetch(None)).await;
        };
        let fetch = Arc::new(fetch);
        let windows = narrow(
            entry
                .as_ref()
                .map_or(self.options.windows, |e| self.windows_of(&e.value)),
        );
        match decide(entry.as_ref().map(|e| e.stored_at), now, windows) {
            Decision::Hit => {
                let e = entry.expect("a hit has an entry");
                self.counters.hits.inc();
                Ok(Answer::stored(e, now, None, None))
            }
            Decision::ServeStaleAndRefresh => {
                let e = entry.expect("stale has an entry");
                if self.start_refresh(key, &fetch, Some(e.value.clone())) {
                    self.counters.refreshes.inc();
                }
                self.counters.stale.inc();
                Ok(Answer::stored(
                    e,
                    now,
                    Some(StaleReason::Revalidating),
                    None,
                ))
            }
            Decision::Fill { stale_on_error } => {
                let held = entry.map(|e| e.value);
                let (result, lock) = self.fill(key, &fetch, held).await;
                match result {
                    Ok(filled) => {
                        let outcome = if filled.fetched.cacheable {
                            CacheOutcome::Miss
                        } else {
                            CacheOutcome::Bypass
                        };
                        self.counters.count(outcome);
                        // Another replica's fill, found in the shared store:
                        // this request waited for it.
                        let (lock, age) = match filled.found_stored_at {
                            Some(at) => (LockOutcome::Waited, self.clock.now().saturating_sub(at)),
                            None => (lock, filled.fetched.initial_age),
                        };
                        Ok(Answer {
                            value: filled.fetched.value,
                            outcome,
                            age,
                            stale_reason: None,
                            lock: Some(lock),
                        })
                    }
                    Err(err) => {
                        // Judge stale-if-error at the time of the failure, on
                        // what the store holds then: an entry purged since the
                        // lookup must not come back, and one stored since is
                        // fresher (the simulator judges it the same way).
                        let later = self.clock.now();
                        let now_stored = if stale_on_error {
                            let r = self.store.get(key).await;
                            self.health.record(later, self.clock.now(), &r);
                            r.unwrap_or_else(|e| {
                                tracing::debug!(error = %e, "store unavailable; no stale answer");
                                self.counters.store_errors.inc();
                                None
                            })
                        } else {
                            None
                        };
                        let fallback = now_stored.and_then(|e| {
                            let w = narrow(self.windows_of(&e.value));
                            stale_if_error(Some(e), later, w, lock)
                        });
                        if let Some(answer) = fallback {
                            self.counters.stale.inc();
                            self.counters.stale_if_error.inc();
                            Ok(answer)
                        } else {
                            self.counters.misses.inc();
                            Err(err)
                        }
                    }
                }
            }
        }
    }

    /// The store's entry for `key` (`Some(None)`: none), or `None` when the
    /// store is unavailable: it failed now, or failed less than
    /// [`STORE_RETRY`] ago and is left alone.
    async fn lookup(&self, key: CacheKey, now: Micros) -> Option<Option<Cached<V>>> {
        if self.health.skip(now) {
            return None;
        }
        match self.store.get(key).await {
            Ok(e) => {
                self.health.answered(now);
                Some(e)
            }
            Err(e) => {
                tracing::debug!(error = %e, "cache store unavailable; bypassing");
                self.health.failed(self.clock.now());
                self.counters.store_errors.inc();
                None
            }
        }
    }

    /// Drops every entry built from content entry `tag`. A purge the store
    /// fails is retried in the background (see [`PURGE_RETRY_FOR`]).
    pub async fn purge(&self, tag: Tag) -> usize {
        let at = self.clock.now();
        let r = self.store.purge_tag(tag, at).await;
        self.health.record(at, self.clock.now(), &r);
        match r {
            Ok(n) => {
                self.counters.purged.inc_by(n as u64);
                n
            }
            Err(e) => {
                tracing::warn!(error = %e, tag, "purge failed; retrying in the background");
                self.counters.store_errors.inc();
                self.retry_purge(tag, at);
                0
            }
        }
    }

    /// Retries a failed purge every [`STORE_RETRY`] for at most
    /// [`PURGE_RETRY_FOR`], with the barrier at the purge's own instant:
    /// a Redis that was hung or cut off, not restarted, still holds the
    /// purged pages and would serve them until their TTL.
    fn retry_purge(&self, tag: Tag, at: Micros) {
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let (counters, health) = (self.counters.clone(), self.health.clone());
        tokio::spawn(async move {
            let first = Instant::now();
            while purge_retry_due(first.elapsed()) {
                tokio::time::sleep(STORE_RETRY).await;
                let sent = clock.now();
                let r = store.purge_tag(tag, at).await;
                health.record(sent, clock.now(), &r);
                match r {
                    Ok(n) => {
                        counters.purged.inc_by(n as u64);
                        tracing::info!(tag, purged = n, "purge done on retry");
                        return;
                    }
                    Err(_) => {
                        counters.store_errors.inc();
                    }
                }
            }
            tracing::warn!(tag, "purge given up: the store stayed unavailable");
        });
    }

    /// Fills `key`: as the leader, as a waiter for the leader's fill, or
    /// alone when coalescing is off.
    async fn fill<F, Fut>(
        &self,
        key: CacheKey,
        fetch: &Arc<F>,
        held: Option<V>,
    ) -> (FillResult<V>, LockOutcome)
    where
        F: Fn(Option<V>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        if !self.options.coalesce {
            return (
                self.spawn_fill(key, fetch, held, None).await,
                LockOutcome::Unlocked,
            );
        }
        let (shared, leader) = {
            let mut map = self.inflight.lock().expect("inflight map");
            if let Some((_, s)) = map.get(&key) {
                (s.clone(), false)
            } else {
                let id = self.next_fill.fetch_add(1, Ordering::Relaxed);
                let s = self
                    .spawn_fill(key, fetch, held.clone(), Some(id))
                    .boxed()
                    .shared();
                map.insert(key, (id, s.clone()));
                (s, true)
            }
        };
        if leader {
            return (shared.await, LockOutcome::Leader);
        }
        match tokio::time::timeout(self.options.lock_timeout, shared).await {
            Ok(Ok(filled)) if filled.fetched.cacheable => {
                self.counters.coalesced.inc();
                (Ok(filled), LockOutcome::Waited)
            }
            // Another request's private or failed answer is not ours to use.
            Ok(_) => (
                self.spawn_fill(key, fetch, held, None).await,
                LockOutcome::Released,
            ),
            Err(_) => {
                self.counters.lock_timeouts.inc();
                (
                    self.spawn_fill(key, fetch, held, None).await,
                    LockOutcome::WaitTimeout,
                )
            }
        }
    }

    /// Starts a background refresh unless a fill of `key` is running.
    fn start_refresh<F, Fut>(&self, key: CacheKey, fetch: &Arc<F>, held: Option<V>) -> bool
    where
        F: Fn(Option<V>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        let mut map = self.inflight.lock().expect("inflight map");
        if map.contains_key(&key) {
            return false;
        }
        let id = self.next_fill.fetch_add(1, Ordering::Relaxed);
        let s = self.spawn_fill(key, fetch, held, Some(id)).boxed().shared();
        map.insert(key, (id, s.clone()));
        drop(map);
        // Drive it to completion even though no request awaits it.
        tokio::spawn(s.map(|_| ()));
        true
    }

    /// Spawns the upstream fetch for `key` and stores a cacheable answer.
    /// `held` is the stored value the fetch replaces (to revalidate it);
    /// `lock_id` names the in-flight entry to clear when done.
    fn spawn_fill<F, Fut>(
        &self,
        key: CacheKey,
        fetch: &Arc<F>,
        held: Option<V>,
        lock_id: Option<u64>,
    ) -> impl Future<Output = FillResult<V>> + Send + 'static
    where
        F: Fn(Option<V>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        let fetch = fetch.clone();
        let store = self.store.clone();
        let clock = self.clock.clone();
        let inflight = self.inflight.clone();
        let counters = self.counters.clone();
        let health = self.health.clone();
        let windows = self.options.windows;
        // Only a coalesced fill (a leader's or a refresh) takes the shared
        // lock; it counts its upstream fetch once it knows it fetches.
        let shared = lock_id.and(self.shared.clone());
        if shared.is_none() {
            counters.upstream_fetches.inc();
        }
        let task = tokio::spawn(async move {
            let mut guard = None;
            if let Some(shared) = &shared {
                match shared_lock(shared, key, &*store, &*clock, windows, &counters, &health).await
                {
                    Shared::Lead(g) => guard = Some(g),
                    Shared::Found(e) => {
                        counters.remote_fills.inc();
                        clear_inflight(&inflight, key, lock_id);
                        return Ok(Filled {
                            fetched: Fetched::new(e.value, true, Vec::new(), 0),
                            found_stored_at: Some(e.stored_at),
                        });
                    }
                    Shared::Alone => {}
                }
                counters.upstream_fetches.inc();
            }
            let fetched_at = clock.now();
            let result = fetch(held).await;
            match &result {
                Ok(f) if f.cacheable => {
                    let stored = Stored {
                        value: f.value.clone(),
                        stored_at: clock.now().saturating_sub(f.initial_age),
                        fetched_at,
                        tags: f.tags.iter().copied().collect(),
                        size: u32::try_from(f.size).unwrap_or(u32::MAX),
                    };
                    let sent = clock.now();
                    let put = store.put(f.store_as.unwrap_or(key), stored).await;
                    health.record(sent, clock.now(), &put);
                    match put {
                        Ok(PutOutcome::Stored { evicted }) => {
                            counters.evicted.inc_by(evicted as u64);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(error = %e, "cache store unavailable; answer not stored");
                            counters.store_errors.inc();
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    counters.fill_errors.inc();
                }
            }
            // After the put, so a replica that sees the lock gone finds the
            // entry. Bounded like every store call; if it fails, the lock
            // expires by itself.
            if let Some(g) = guard
                && let Err(e) = g.release().await
            {
                tracing::debug!(error = %e, "fill lock not released; it expires by itself");
            }
            clear_inflight(&inflight, key, lock_id);
            result.map(|fetched| Filled {
                fetched,
                found_stored_at: None,
            })
        });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(FillError {
                    status: 502,
                    message: format!("upstream fetch task failed: {e}"),
                })
            })
        }
    }
}

/// Forgets the in-flight fill `lock_id` of `key`, if it is still the listed one.
fn clear_inflight<V>(inflight: &Inflight<V>, key: CacheKey, lock_id: Option<u64>) {
    if let Some(id) = lock_id {
        let mut map = inflight.lock().expect("inflight map");
        if map.get(&key).is_some_and(|(i, _)| *i == id) {
            map.remove(&key);
        }
    }
}

/// Takes the cross-replica lock of `key`, or waits for the replica that
/// holds it and looks in the store for its entry; at most
/// `shared.options.wait` in all (plus one store call's timeout).
async fn shared_lock<V, S>(
    shared: &SharedLock,
    key: CacheKey,
    store: &S,
    clock: &dyn Clock,
    windows: Windows,
    counters: &LayerCounters,
    health: &StoreHealth,
) -> Shared<V>
where
    V: Clone,
    S: Store<V>,
{
    let deadline = Instant::now() + shared.options.wait;
    let failed = |e: &StoreError| {
        tracing::debug!(error = %e, "shared fill lock unavailable; filling without it");
        counters.store_errors.inc();
        health.failed(clock.now());
        Shared::Alone
    };
    loop {
        let options = LockOptions {
            wait: deadline.saturating_duration_since(Instant::now()),
            ..shared.options
        };
        match shared.locks.lock(key, options).await {
            Ok(LockAttempt::Leader(g)) => return Shared::Lead(g),
            Ok(LockAttempt::WaitTimeout) => {
                counters.lock_timeouts.inc();
                return Shared::Alone;
            }
            // The holder let go: its entry, if it stored a fresh one; else
            // (it failed, its answer was private, a purge barred it) try to
            // take the lock again, within what is left of the wait.
            Ok(LockAttempt::Released) => match store.get(key).await {
                Ok(Some(e)) if decide(Some(e.stored_at), clock.now(), windows) == Decision::Hit => {
                    return Shared::Found(e);
                }
                Ok(_) => {}
                Err(e) => return failed(&e),
            },
            Err(e) => return failed(&e),
        }
    }
}
