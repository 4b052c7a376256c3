//! The cache library: keys, freshness, stores, the caching layer with its
//! cache lock, and the named outcomes. Pure rules here are shared by the
//! origin, the CDN and edge layers, and the simulator.

pub mod backend;
pub mod freshness;
pub mod http;
pub mod key;
pub mod layer;
pub mod outcome;
pub mod policy;
pub mod redis_store;
pub mod stated;
pub mod stepped;
pub mod store;

pub use backend::{AnyStore, RECLAIM_TICK, StoreMetrics};
pub use freshness::{Freshness, Windows, freshness, lifetime, servable_ever};
pub use key::{CacheKey, KeyStrategy, Variance, canonical_query, key, variance};
pub use layer::{
    Answer, CacheLayer, Decision, Fetched, FillError, LayerOptions, PURGE_RETRY_FOR, STORE_RETRY,
    StoreOutage, decide,
};
pub use outcome::{CacheOutcome, LayerCounters, LockOutcome, StaleReason};
// The plain counts a layer snapshots into (shared with the report model).
pub use redis_store::{
    Codec, CodecError, LockAttempt, LockGuard, LockOptions, RedisLocks, RedisOptions, RedisStore,
};
pub use stepped::{Completion, FetchId, Lookup, Polled, Purged, Reply, Slab, SteppedLayer};
pub use store::{
    Bounds, Cached, DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, Eviction, MemoryStore, PutOutcome,
    Store, StoreError, Stored, Tag, Tags,
};
pub use ttlab_scenarios::LayerCounts;
