//! A store chosen when the layer is made, from the scenario's `backend`:
//! the embedded memory store or a Redis store shared by replicas. One type
//! for both, so the origin and the proxies keep one layer type.

use ttlab_scenarios::Micros;

use super::key::CacheKey;
use super::redis_store::{Codec, RedisStore};
use super::store::{Cached, MemoryStore, PutOutcome, Store, StoreError, Stored, Tag};

/// The memory store or a Redis store, behind one [`Store`].
pub enum AnyStore<V> {
    /// In process (`backend = "memory"`).
    Memory(MemoryStore<V>),
    /// In Redis, shared by every replica with the same URL and prefix
    /// (`backend = "redis"`).
    Redis(RedisStore<V>),
}

impl<V> AnyStore<V> {
    /// The Redis store, if that is the backend.
    pub fn redis(&self) -> Option<&RedisStore<V>> {
        match self {
            AnyStore::Memory(_) => None,
            AnyStore::Redis(r) => Some(r),
        }
    }

    /// The backend's name as scenarios write it: `memory` or `redis`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            AnyStore::Memory(_) => "memory",
            AnyStore::Redis(_) => "redis",
        }
    }
}

impl<V> Store<V> for AnyStore<V>
where
    V: Codec + Clone + Send + Sync + 'static,
{
    async fn get(&self, key: CacheKey) -> Result<Option<Cached<V>>, StoreError> {
        match self {
            AnyStore::Memory(m) => m.get(key).await,
            AnyStore::Redis(r) => r.get(key).await,
        }
    }

    async fn put(&self, key: CacheKey, entry: Stored<V>) -> Result<PutOutcome, StoreError> {
        match self {
            AnyStore::Memory(m) => m.put(key, entry).await,
            AnyStore::Redis(r) => r.put(key, entry).await,
        }
    }

    async fn purge_tag(&self, tag: Tag, now: Micros) -> Result<usize, StoreError> {
        match self {
            AnyStore::Memory(m) => m.purge_tag(tag, now).await,
            AnyStore::Redis(r) => r.purge_tag(tag, now).await,
        }
    }
}
