//! A store chosen when the layer is made, from the scenario's `backend`:
//! the embedded memory store or a Redis store shared by replicas. One type
//! for both, so the origin and the proxies keep one layer type.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use ttlab_scenarios::{Clock, Micros};

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

    /// The memory store, if that is the backend.
    pub fn memory(&self) -> Option<&MemoryStore<V>> {
        match self {
            AnyStore::Memory(m) => Some(m),
            AnyStore::Redis(_) => None,
        }
    }
}

/// How often a server's memory store is asked whether a sweep of entries
/// past their lifetime is due ([`MemoryStore::reclaim_due`]): a store that
/// no longer receives puts is still reclaimed, within a lifetime and a tick.
pub const RECLAIM_TICK: Duration = Duration::from_millis(250);

impl<V: Clone + Send + Sync + 'static> AnyStore<V> {
    /// Starts the reclaiming ticker of a memory store on `clock` (the
    /// layer's own clock), in the current Tokio runtime; it ends once the
    /// store is dropped. Nothing for Redis (its entries expire there) or
    /// outside a runtime.
    pub fn spawn_reclaimer(self: &Arc<Self>, clock: Arc<dyn Clock>) {
        let (AnyStore::Memory(_), Ok(rt)) = (&**self, tokio::runtime::Handle::try_current()) else {
            return;
        };
        let store = Arc::downgrade(self);
        rt.spawn(async move {
            let mut tick = tokio::time::interval(RECLAIM_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(store) = store.upgrade() else {
                    return;
                };
                if let Some(m) = store.memory() {
                    let n = m.reclaim_due(clock.now());
                    if n > 0 {
                        tracing::debug!(
                            reclaimed = n,
                            left = m.len(),
                            "cache entries past their lifetime reclaimed"
                        );
                    }
                }
            }
        });
    }
}

/// A memory store's size, bounds and reclaimed entries, read from the store
/// on each scrape of `/metrics` (registered under the layer's label): what
/// shows that a layer's memory stays within its bounds and shrinks back
/// once its entries can no longer be served.
pub struct StoreMetrics<V>(pub Arc<AnyStore<V>>);

impl<V> std::fmt::Debug for StoreMetrics<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StoreMetrics")
            .field(&self.0.backend_name())
            .finish()
    }
}

impl<V: Clone + Send + Sync + 'static> Collector for StoreMetrics<V> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(m) = self.0.memory() else {
            return Ok(());
        };
        let bounds = m.bounds();
        let gauges = [
            ("cache_store_entries", "Entries held", Some(m.len() as u64)),
            (
                "cache_store_bytes",
                "Bytes held (sum of entry sizes)",
                Some(m.bytes()),
            ),
            ("cache_store_max_entries", "Entry bound", bounds.max_entries),
            ("cache_store_max_bytes", "Byte bound", bounds.max_bytes),
        ];
        for (name, help, value) in gauges {
            let Some(v) = value else { continue };
            let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        let c = ConstCounter::new(m.reclaimed());
        c.encode(encoder.encode_descriptor(
            "cache_reclaimed",
            "Entries dropped because they could never be served again",
            None,
            c.metric_type(),
        )?)
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
