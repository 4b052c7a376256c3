//! Where a caching layer keeps entries: one trait, and the embedded
//! in-memory store (bounded by entries and/or bytes, least recently used out).
//!
//! Freshness is not the store's business: an entry carries when it was
//! stored and fetched, and the layer judges it with
//! [`super::freshness`] on its own clock — so the simulator runs the same
//! store on virtual time. The store does keep two guarantees of its own:
//! a purge of a tag also bars entries fetched before it from being stored
//! after it (a fill that raced the purge), and a put never replaces an entry
//! fetched later with one fetched earlier.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use thiserror::Error;
use ttlab_scenarios::Micros;

use super::key::CacheKey;

/// A purge tag: the index of a content entry the page was built from.
pub type Tag = u32;

/// A stored entry with the metadata the layer needs.
#[derive(Debug)]
pub struct Stored<V> {
    /// What the layer serves.
    pub value: V,
    /// When it was stored (its age counts from here).
    pub stored_at: Micros,
    /// When the upstream fetch that produced it began.
    pub fetched_at: Micros,
    /// Content entries it was built from.
    pub tags: Box<[Tag]>,
    /// Bytes it takes, for `max_bytes`.
    pub size: u64,
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; `evicted` entries made room.
    Stored {
        /// Entries evicted.
        evicted: usize,
    },
    /// Not stored: the store holds an entry fetched later.
    KeptNewer,
    /// Not stored: a tag was purged after the fetch began.
    PurgedMeanwhile,
    /// Not stored: larger than the whole byte budget.
    TooLarge,
}

/// A store could not answer (a remote store's connection, say).
#[derive(Debug, Error)]
#[error("cache store unavailable: {0}")]
pub struct StoreError(pub String);

/// The operations a caching layer needs from a store.
pub trait Store<V>: Send + Sync + 'static {
    /// The entry under `key`, if any.
    fn get(
        &self,
        key: CacheKey,
    ) -> impl Future<Output = Result<Option<Arc<Stored<V>>>, StoreError>> + Send;
    /// Stores `entry` under `key`, within the store's bounds.
    fn put(
        &self,
        key: CacheKey,
        entry: Stored<V>,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;
    /// Drops every entry tagged `tag`; returns how many. Entries fetched
    /// before `now` with this tag are refused from now on.
    fn purge_tag(
        &self,
        tag: Tag,
        now: Micros,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// Bounds of a memory store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Most entries.
    pub max_entries: Option<u64>,
    /// Most bytes (sum of entry sizes).
    pub max_bytes: Option<u64>,
}

struct Inner<V> {
    lru: LruCache<CacheKey, Arc<Stored<V>>>,
    tags: HashMap<Tag, HashSet<CacheKey>>,
    purged_at: HashMap<Tag, Micros>,
    bytes: u64,
}

/// The embedded store: an LRU map under a mutex, with a tag index for purge.
pub struct MemoryStore<V> {
    inner: Mutex<Inner<V>>,
    bounds: Bounds,
}

impl<V> MemoryStore<V> {
    /// An empty store with these bounds.
    pub fn new(bounds: Bounds) -> Self {
        let lru = match bounds
            .max_entries
            .and_then(|n| NonZeroUsize::new(usize::try_from(n).unwrap_or(usize::MAX)))
        {
            Some(n) => LruCache::new(n),
            None => LruCache::unbounded(),
        };
        MemoryStore {
            inner: Mutex::new(Inner {
                lru,
                tags: HashMap::new(),
                purged_at: HashMap::new(),
                bytes: 0,
            }),
            bounds,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock leaves consistent data (every
        // mutation completes before it can panic), so recover from poison.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.lock().lru.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// The entry under `key`, marking it recently used.
    pub fn get_now(&self, key: CacheKey) -> Option<Arc<Stored<V>>> {
        self.lock().lru.get(&key).cloned()
    }

    /// Stores `entry` under `key`, evicting least recently used entries to
    /// stay within the bounds.
    pub fn put_now(&self, key: CacheKey, entry: Stored<V>) -> PutOutcome {
        let mut inner = self.lock();
        if entry.tags.iter().any(|t| {
            inner
                .purged_at
                .get(t)
                .is_some_and(|p| entry.fetched_at < *p)
        }) {
            return PutOutcome::PurgedMeanwhile;
        }
        if let Some(old) = inner.lru.peek(&key) {
            if old.fetched_at > entry.fetched_at {
                return PutOutcome::KeptNewer;
            }
        }
        if self.bounds.max_bytes.is_some_and(|m| entry.size > m) {
            return PutOutcome::TooLarge;
        }
        let entry = Arc::new(entry);
        for t in &entry.tags {
            inner.tags.entry(*t).or_default().insert(key);
        }
        inner.bytes += entry.size;
        let mut evicted = 0;
        if let Some((old_key, old)) = inner.lru.push(key, entry) {
            // Either the previous entry under this key, or the LRU victim.
            Self::forget(&mut inner, old_key, &old, old_key == key);
            if old_key != key {
                evicted += 1;
            }
        }
        while self.bounds.max_bytes.is_some_and(|m| inner.bytes > m) {
            let Some((k, victim)) = inner.lru.pop_lru() else {
                break;
            };
            Self::forget(&mut inner, k, &victim, false);
            evicted += 1;
        }
        PutOutcome::Stored { evicted }
    }

    /// Bookkeeping for an entry that left the map (replaced or evicted).
    fn forget(inner: &mut Inner<V>, key: CacheKey, old: &Stored<V>, replaced: bool) {
        inner.bytes -= old.size;
        if replaced {
            // The new entry under the same key re-registered its own tags;
            // drop the key only from tags the new entry does not carry.
            let current: HashSet<Tag> = inner
                .lru
                .peek(&key)
                .map(|e| e.tags.iter().copied().collect())
                .unwrap_or_default();
            for t in old.tags.iter().filter(|t| !current.contains(t)) {
                remove_tag_key(&mut inner.tags, *t, key);
            }
        } else {
            for t in &old.tags {
                remove_tag_key(&mut inner.tags, *t, key);
            }
        }
    }

    /// Drops every entry tagged `tag`, and bars entries fetched before `now`.
    pub fn purge_now(&self, tag: Tag, now: Micros) -> usize {
        let mut inner = self.lock();
        let barrier = inner.purged_at.entry(tag).or_insert(now);
        *barrier = (*barrier).max(now);
        let keys = inner.tags.remove(&tag).unwrap_or_default();
        let mut purged = 0;
        for k in keys {
            if let Some(old) = inner.lru.pop(&k) {
                inner.bytes -= old.size;
                for t in old.tags.iter().filter(|t| **t != tag) {
                    remove_tag_key(&mut inner.tags, *t, k);
                }
                purged += 1;
            }
        }
        purged
    }
}

fn remove_tag_key(tags: &mut HashMap<Tag, HashSet<CacheKey>>, tag: Tag, key: CacheKey) {
    if let Some(set) = tags.get_mut(&tag) {
        set.remove(&key);
        if set.is_empty() {
            tags.remove(&tag);
        }
    }
}

impl<V: Send + Sync + 'static> Store<V> for MemoryStore<V> {
    async fn get(&self, key: CacheKey) -> Result<Option<Arc<Stored<V>>>, StoreError> {
        Ok(self.get_now(key))
    }

    async fn put(&self, key: CacheKey, entry: Stored<V>) -> Result<PutOutcome, StoreError> {
        Ok(self.put_now(key, entry))
    }

    async fn purge_tag(&self, tag: Tag, now: Micros) -> Result<usize, StoreError> {
        Ok(self.purge_now(tag, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fetched: u64, tags: &[Tag], size: u64) -> Stored<u32> {
        Stored {
            value: 0,
            stored_at: Micros(fetched),
            fetched_at: Micros(fetched),
            tags: tags.into(),
            size,
        }
    }

    #[test]
    fn lru_bound_on_entries() {
        let s = MemoryStore::new(Bounds {
            max_entries: Some(2),
            max_bytes: None,
        });
        s.put_now(CacheKey(1), entry(0, &[], 1));
        s.put_now(CacheKey(2), entry(0, &[], 1));
        assert!(
            s.get_now(CacheKey(1)).is_some(),
            "touch 1: 2 is now least recent"
        );
        assert_eq!(
            s.put_now(CacheKey(3), entry(0, &[], 1)),
            PutOutcome::Stored { evicted: 1 }
        );
        assert!(s.get_now(CacheKey(2)).is_none());
        assert!(s.get_now(CacheKey(1)).is_some());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn byte_bound_evicts_until_it_fits() {
        let s = MemoryStore::new(Bounds {
            max_entries: None,
            max_bytes: Some(100),
        });
        for k in 0..4 {
            s.put_now(CacheKey(k), entry(0, &[], 30));
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.bytes(), 90);
        assert_eq!(
            s.put_now(CacheKey(9), entry(0, &[], 80)),
            PutOutcome::Stored { evicted: 3 }
        );
        assert_eq!(s.bytes(), 80);
        assert_eq!(
            s.put_now(CacheKey(10), entry(0, &[], 101)),
            PutOutcome::TooLarge
        );
    }

    #[test]
    fn purge_by_tag_and_the_purge_barrier() {
        let s = MemoryStore::new(Bounds::default());
        s.put_now(CacheKey(1), entry(0, &[7, 8], 1));
        s.put_now(CacheKey(2), entry(0, &[8], 1));
        s.put_now(CacheKey(3), entry(0, &[9], 1));
        assert_eq!(s.purge_now(8, Micros(100)), 2);
        assert!(s.get_now(CacheKey(1)).is_none());
        assert!(s.get_now(CacheKey(3)).is_some());
        assert_eq!(
            s.purge_now(7, Micros(100)),
            0,
            "key 1 left tag 7's index with the purge of 8"
        );
        // A fill that began before the purge may not store; one after may.
        assert_eq!(
            s.put_now(CacheKey(4), entry(99, &[8], 1)),
            PutOutcome::PurgedMeanwhile
        );
        assert_eq!(
            s.put_now(CacheKey(4), entry(100, &[8], 1)),
            PutOutcome::Stored { evicted: 0 }
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s.bytes(), 2);
    }

    #[test]
    fn older_fetch_never_replaces_newer() {
        let s = MemoryStore::new(Bounds::default());
        s.put_now(CacheKey(1), entry(50, &[1], 1));
        assert_eq!(
            s.put_now(CacheKey(1), entry(40, &[1], 1)),
            PutOutcome::KeptNewer
        );
        assert_eq!(s.get_now(CacheKey(1)).unwrap().fetched_at, Micros(50));
        assert_eq!(
            s.put_now(CacheKey(1), entry(60, &[2], 5)),
            PutOutcome::Stored { evicted: 0 }
        );
        assert_eq!(s.bytes(), 5, "the replaced entry's bytes are released");
        assert_eq!(
            s.purge_now(1, Micros(70)),
            0,
            "the replacement dropped tag 1"
        );
        assert_eq!(s.purge_now(2, Micros(70)), 1);
    }
}
