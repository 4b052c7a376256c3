//! A caching layer: look up, serve fresh or stale, fill on a miss with one
//! upstream fetch per key at a time (the cache lock), refresh in the
//! background within stale-while-revalidate, fall back to stale within
//! stale-if-error, purge by tag — and count every outcome.
//!
//! The decisions are the pure function [`decide`] over the entry's
//! freshness, shared with the simulator; this type adds the concurrency.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use ttlab_scenarios::{Clock, Micros};

use super::freshness::{Freshness, Windows, freshness};
use super::key::CacheKey;
use super::outcome::{CacheOutcome, LayerCounters, LockOutcome, StaleReason};
use super::store::{Cached, PutOutcome, Store, Stored, Tag};

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
        .map(|e| Answer {
            value: e.value,
            outcome: CacheOutcome::Stale,
            age: now.saturating_sub(e.stored_at),
            stale_reason: Some(StaleReason::UpstreamError),
            lock: Some(lock),
        })
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

type FillResult<V> = Result<(Fetched<V>, Micros), FillError>;
type SharedFill<V> = Shared<BoxFuture<'static, FillResult<V>>>;
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
}

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
        }
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
        Ok(Answer {
            value: fetched.value,
            outcome: CacheOutcome::Bypass,
            age: Micros::ZERO,
            stale_reason: None,
            lock: None,
        })
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
        let now = self.clock.now();
        let entry = match self.store.get(key).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cache store unavailable; bypassing");
                self.counters.store_errors.inc();
                return self.bypass(fetch).await;
            }
        };
        let fetch = Arc::new(fetch);
        match decide(
            entry.as_ref().map(|e| e.stored_at),
            now,
            self.options.windows,
        ) {
            Decision::Hit => {
                let e = entry.expect("a hit has an entry");
                self.counters.hits.inc();
                Ok(Answer {
                    value: e.value.clone(),
                    outcome: CacheOutcome::Hit,
                    age: now.saturating_sub(e.stored_at),
                    stale_reason: None,
                    lock: None,
                })
            }
            Decision::ServeStaleAndRefresh => {
                let e = entry.expect("stale has an entry");
                if self.start_refresh(key, &fetch) {
                    self.counters.refreshes.inc();
                }
                self.counters.stale.inc();
                Ok(Answer {
                    value: e.value.clone(),
                    outcome: CacheOutcome::Stale,
                    age: now.saturating_sub(e.stored_at),
                    stale_reason: Some(StaleReason::Revalidating),
                    lock: None,
                })
            }
            Decision::Fill { stale_on_error } => {
                let (result, lock) = self.fill(key, &fetch).await;
                match result {
                    Ok((fetched, _)) => {
                        let outcome = if fetched.cacheable {
                            CacheOutcome::Miss
                        } else {
                            CacheOutcome::Bypass
                        };
                        self.counters.count(outcome);
                        Ok(Answer {
                            value: fetched.value,
                            outcome,
                            age: Micros::ZERO,
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
                            self.store.get(key).await.unwrap_or_else(|e| {
                                tracing::warn!(error = %e, "store unavailable; no stale answer");
                                self.counters.store_errors.inc();
                                None
                            })
                        } else {
                            None
                        };
                        let fallback =
                            stale_if_error(now_stored, later, self.options.windows, lock);
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

    /// Drops every entry built from content entry `tag`.
    pub async fn purge(&self, tag: Tag) -> usize {
        match self.store.purge_tag(tag, self.clock.now()).await {
            Ok(n) => {
                self.counters.purged.inc_by(n as u64);
                n
            }
            Err(e) => {
                tracing::warn!(error = %e, tag, "purge failed");
                self.counters.store_errors.inc();
                0
            }
        }
    }

    /// Fills `key`: as the leader, as a waiter for the leader's fill, or
    /// alone when coalescing is off.
    async fn fill<F, Fut>(&self, key: CacheKey, fetch: &Arc<F>) -> (FillResult<V>, LockOutcome)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        if !self.options.coalesce {
            return (
                self.spawn_fill(key, fetch, None).await,
                LockOutcome::Unlocked,
            );
        }
        let (shared, leader) = {
            let mut map = self.inflight.lock().expect("inflight map");
            if let Some((_, s)) = map.get(&key) {
                (s.clone(), false)
            } else {
                let id = self.next_fill.fetch_add(1, Ordering::Relaxed);
                let s = self.spawn_fill(key, fetch, Some(id)).boxed().shared();
                map.insert(key, (id, s.clone()));
                (s, true)
            }
        };
        if leader {
            return (shared.await, LockOutcome::Leader);
        }
        match tokio::time::timeout(self.options.lock_timeout, shared).await {
            Ok(Ok((fetched, at))) if fetched.cacheable => {
                self.counters.coalesced.inc();
                (Ok((fetched, at)), LockOutcome::Waited)
            }
            // Another request's private or failed answer is not ours to use.
            Ok(_) => (
                self.spawn_fill(key, fetch, None).await,
                LockOutcome::Released,
            ),
            Err(_) => {
                self.counters.lock_timeouts.inc();
                (
                    self.spawn_fill(key, fetch, None).await,
                    LockOutcome::WaitTimeout,
                )
            }
        }
    }

    /// Starts a background refresh unless a fill of `key` is running.
    fn start_refresh<F, Fut>(&self, key: CacheKey, fetch: &Arc<F>) -> bool
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        let mut map = self.inflight.lock().expect("inflight map");
        if map.contains_key(&key) {
            return false;
        }
        let id = self.next_fill.fetch_add(1, Ordering::Relaxed);
        let s = self.spawn_fill(key, fetch, Some(id)).boxed().shared();
        map.insert(key, (id, s.clone()));
        drop(map);
        // Drive it to completion even though no request awaits it.
        tokio::spawn(s.map(|_| ()));
        true
    }

    /// Spawns the upstream fetch for `key` and stores a cacheable answer.
    /// `lock_id` names the in-flight entry to clear when done.
    fn spawn_fill<F, Fut>(
        &self,
        key: CacheKey,
        fetch: &Arc<F>,
        lock_id: Option<u64>,
    ) -> impl Future<Output = FillResult<V>> + Send + 'static
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fetched<V>, FillError>> + Send + 'static,
    {
        let fetch = fetch.clone();
        let store = self.store.clone();
        let clock = self.clock.clone();
        let inflight = self.inflight.clone();
        let counters = self.counters.clone();
        counters.upstream_fetches.inc();
        let task = tokio::spawn(async move {
            let fetched_at = clock.now();
            let result = fetch().await;
            match &result {
                Ok(f) if f.cacheable => {
                    let stored = Stored {
                        value: f.value.clone(),
                        stored_at: clock.now(),
                        fetched_at,
                        tags: f.tags.iter().copied().collect(),
                        size: u32::try_from(f.size).unwrap_or(u32::MAX),
                    };
                    match store.put(key, stored).await {
                        Ok(PutOutcome::Stored { evicted }) => {
                            counters.evicted.inc_by(evicted as u64);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "cache store unavailable; answer not stored");
                            counters.store_errors.inc();
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    counters.fill_errors.inc();
                }
            }
            if let Some(id) = lock_id {
                let mut map = inflight.lock().expect("inflight map");
                if map.get(&key).is_some_and(|(i, _)| *i == id) {
                    map.remove(&key);
                }
            }
            result.map(|f| (f, fetched_at))
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
