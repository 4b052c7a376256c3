//! A cache store in Redis, for several origin replicas sharing one cache
//! (as self-hosted Next.js does with a Redis cache handler), and a lock that
//! lets one replica fill a key while the others wait.
//!
//! It keeps the two guarantees of [`Store`] that the memory store keeps —
//! a put never replaces an entry fetched later (`KeptNewer`), and a purge of
//! a tag bars entries whose fetch began at or before it (`PurgedMeanwhile`)
//! — across replicas: each put and each purge is one Lua script, which Redis
//! runs atomically, so no replica's write can land between the check and the
//! write of another.
//!
//! Keys, under a prefix (`ttlab` by default) that keeps runs apart:
//!
//! | key | type | what |
//! |---|---|---|
//! | `P:e:KEY` | hash | an entry: `f` fetched at, `s` stored at (run-clock µs), `v` the encoded value, `t` its tags (`3,7`), `z` its size |
//! | `P:t:TAG` | set | the entry keys carrying `TAG` (the tag index) |
//! | `P:purged` | hash | `TAG` → the latest purge instant of that tag (the purge barrier) |
//! | `P:l:KEY` | string | a fill lock: a random token, with a short expiry |
//!
//! Freshness stays the layer's business, judged on its own clock from the
//! instants stored with the entry; Redis expires an entry and its tag sets
//! only as a safety net, some time after the layer could last serve it
//! ([`RedisOptions::safety_net`]), so a store nobody purges does not grow
//! without end. Bounds (`max_entries`, `max_bytes`) are Redis's own
//! `maxmemory` and eviction policy, not this type's: a put never evicts.
//!
//! Every call is bounded by [`RedisOptions::timeout`] and fails with a
//! [`StoreError`] when Redis is down, slow or unreachable; the caching layer
//! then bypasses the cache and counts a store error. The connection manager
//! reconnects by itself when Redis returns.
//!
//! The scripts touch keys they compute from the prefix (an evicted entry's
//! other tag sets), so this store is for a single Redis server (or a
//! primary with replicas), not Redis Cluster. See `docs/decisions.md`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue};
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use thiserror::Error;
use ttlab_scenarios::Micros;

use super::freshness::Windows;
use super::key::CacheKey;
use super::store::{Cached, PutOutcome, Store, StoreError, Stored, Tag};
use crate::response::PageResponse;

/// How long Redis keeps an entry past the last instant the layer could
/// serve it: room for a run clock that drifts from Redis's own clock.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(30);

/// Options of a Redis store.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prefix of every key, so several runs or layers can share one Redis.
    pub prefix: String,
    /// Redis-side expiry of an entry (and its tag sets): a safety net beyond
    /// the layer's own freshness rules, see [`RedisOptions::safety_net`].
    pub expire_after: Duration,
    /// The longest any one call may take, connecting included: past it the
    /// call fails with a [`StoreError`] and the layer bypasses the cache.
    pub timeout: Duration,
}

impl RedisOptions {
    /// Options for `url` with the default prefix, a 250 ms timeout and a
    /// safety net for an entry that is never servable (set
    /// `expire_after` from the layer's windows with [`Self::safety_net`]).
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            prefix: "ttlab".to_owned(),
            expire_after: SAFETY_MARGIN,
            timeout: Duration::from_millis(250),
        }
    }

    /// Redis-side expiry for a layer with windows `w`: the longest an entry
    /// can still be served (ttl + the longer stale window) plus
    /// [`SAFETY_MARGIN`].
    pub fn safety_net(w: Windows) -> Duration {
        super::freshness::lifetime(w).to_duration() + SAFETY_MARGIN
    }
}

/// A value that can be kept in Redis: its bytes, and back.
pub trait Codec: Sized {
    /// Appends the value's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// The value these bytes encode.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// Bytes that do not encode a value (another version wrote them, say).
#[derive(Debug, Error)]
#[error("cannot decode a stored value: {0}")]
pub struct CodecError(pub String);

impl Codec for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let b: [u8; 8] = bytes
            .try_into()
            .map_err(|_| CodecError(format!("{} bytes for a u64", bytes.len())))?;
        Ok(u64::from_be_bytes(b))
    }
}

impl Codec for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| CodecError(e.to_string()))
    }
}

/// Version byte of [`PageResponse`]'s encoding, so a later layout is told
/// apart rather than misread.
const PAGE_V1: u8 = 1;
/// [`PAGE_V1`] followed by the windows the page's own headers gave it
/// (three big-endian `u64` microseconds: ttl, swr, sie), for a layer that
/// follows HTTP.
const PAGE_V2: u8 = 2;

/// A page as the origin's layer stores it: status, content headers, the
/// `x-cache` chain behind, body. The cookies of the request that fetched
/// it are left out on purpose: they are sent only to that request, never
/// from a stored copy, and one visitor's cookies have no place in a cache
/// that other replicas read.
impl Codec for Arc<PageResponse> {
    fn encode(&self, out: &mut Vec<u8>) {
        fn field(out: &mut Vec<u8>, b: &[u8]) {
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        out.push(if self.windows.is_some() {
            PAGE_V2
        } else {
            PAGE_V1
        });
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&(self.headers.len() as u32).to_be_bytes());
        for (k, v) in &self.headers {
            field(out, k.as_str().as_bytes());
            field(out, v.as_bytes());
        }
        match &self.upstream_cache {
            Some(c) => {
                out.push(1);
                field(out, c.as_bytes());
            }
            None => out.push(0),
        }
        field(out, &self.body);
        if let Some(w) = self.windows {
            for d in [w.ttl, w.swr, w.sie] {
                out.extend_from_slice(&d.0.to_be_bytes());
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader(bytes);
        let version = r.take(1)?[0];
        if version != PAGE_V1 && version != PAGE_V2 {
            return Err(CodecError(format!("page encoding version {version}")));
        }
        let status = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes"));
        let n = r.u32()?;
        let mut headers = Vec::with_capacity((n as usize).min(64));
        for _ in 0..n {
            let k = HeaderName::from_bytes(r.field()?).map_err(|e| CodecError(e.to_string()))?;
            let v = HeaderValue::from_bytes(r.field()?).map_err(|e| CodecError(e.to_string()))?;
            headers.push((k, v));
        }
        let upstream_cache = match r.take(1)?[0] {
            0 => None,
            _ => Some(
                std::str::from_utf8(r.field()?)
                    .map_err(|e| CodecError(e.to_string()))?
                    .to_owned(),
            ),
        };
        let body = Bytes::copy_from_slice(r.field()?);
        let windows = if version == PAGE_V2 {
            let mut us = [Micros::ZERO; 3];
            for d in &mut us {
                *d = Micros(u64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes")));
            }
            Some(Windows {
                ttl: us[0],
                swr: us[1],
                sie: us[2],
            })
        } else {
            None
        };
        if !r.0.is_empty() {
            return Err(CodecError(format!("{} bytes after the page", r.0.len())));
        }
        Ok(Arc::new(PageResponse {
            status,
            headers,
            body,
            upstream_cache,
            set_cookies: Vec::new(),
            windows,
        }))
    }
}

/// A cursor over encoded bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError(format!(
                "truncated: {} bytes left, {n} wanted",
                self.0.len()
            )));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn field(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// The put, atomically: the purge barrier, then newer-kept, then the write
/// with its Redis-side expiry and the tag index.
///
/// KEYS: 1 the entry, 2 the barrier hash, 3.. the tag sets of the new entry.
/// ARGV: 1 fetched at, 2 stored at, 3 value, 4 expiry (ms), 5 tags as
/// `3,7`, 6 size, 7 the tag-set key prefix, 8.. the tags (as KEYS 3..).
///
/// Instants are compared as Lua numbers (doubles): exact below 2^53 µs,
/// 285 years of run time.
const PUT_LUA: &str = r"
local fetched = tonumber(ARGV[1])
for i = 3, #KEYS do
  local b = redis.call('HGET', KEYS[2], ARGV[5 + i])
  if b and fetched <= tonumber(b) then return 'purged' end
end
local old = redis.call('HMGET', KEYS[1], 'f', 't')
if old[1] then
  if tonumber(old[1]) > fetched then return 'newer' end
  if old[2] then
    for t in string.gmatch(old[2], '[^,]+') do
      redis.call('SREM', ARGV[7] .. t, KEYS[1])
    end
  end
end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 's', ARGV[2], 'v', ARGV[3], 't', ARGV[5], 'z', ARGV[6])
local px = tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], px)
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 'stored'
";

/// The purge, atomically: raise the tag's barrier to `now`, drop every
/// entry that still carries the tag (an index member whose entry expired or
/// was replaced without the tag is skipped), take the dropped entries out of
/// their other tags' sets, and drop the tag's set.
///
/// KEYS: 1 the tag set, 2 the barrier hash. ARGV: 1 tag, 2 now, 3 the
/// tag-set key prefix. Returns how many entries it dropped.
const PURGE_LUA: &str = r"
local now = tonumber(ARGV[2])
local b = redis.call('HGET', KEYS[2], ARGV[1])
if not b or tonumber(b) < now then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
local n = 0
for _, e in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local tags = redis.call('HGET', e, 't')
  if tags then
    local has = false
    for t in string.gmatch(tags, '[^,]+') do
      if t == ARGV[1] then has = true end
    end
    if has then
      for t in string.gmatch(tags, '[^,]+') do
        if t ~= ARGV[1] then redis.call('SREM', ARGV[3] .. t, e) end
      end
      redis.call('DEL', e)
      n = n + 1
    end
  end
end
redis.call('DEL', KEYS[1])
return n
";

/// Releases a lock only if it still holds this holder's token: a holder
/// whose lock expired must not release the next holder's.
const UNLOCK_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The connection and naming shared by a store and its locks.
struct Conn {
    con: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl Conn {
    fn open(options: &RedisOptions) -> Result<Self, StoreError> {
        // The connection manager spawns its connection task on the current
        // runtime, and panics without one: say so instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError(
                "a Redis store must be made inside a Tokio runtime".to_owned(),
            ));
        }
        let client = Client::open(options.url.as_str())
            .map_err(|e| StoreError(format!("redis url {:?}: {e}", options.url)))?;
        // Reconnect attempts back off from 50 ms to at most 1 s, so a Redis
        // that returns is found again within about a second; each call is
        // bounded by `timeout` whatever the manager is doing meanwhile.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(3);
        // Lazy: an origin starts (and bypasses its cache) while Redis is
        // still down, and connects when it comes.
        let con = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreError(format!("redis: {e}")))?;
        Ok(Conn {
            con,
            prefix: options.prefix.clone(),
            timeout: options.timeout,
        })
    }

    /// Runs one Redis call within the timeout.
    async fn call<T>(
        &self,
        what: &'static str,
        f: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut con = self.con.clone();
        match tokio::time::timeout(self.timeout, f(&mut con)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError(format!("redis {what}: {e}"))),
            Err(_) => Err(StoreError(format!(
                "redis {what}: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    fn entry_key(&self, key: CacheKey) -> String {
        format!("{}:e:{key}", self.prefix)
    }

    fn tag_prefix(&self) -> String {
        format!("{}:t:", self.prefix)
    }

    fn barrier_key(&self) -> String {
        format!("{}:purged", self.prefix)
    }

    fn lock_key(&self, key: CacheKey) -> String {
        format!("{}:l:{key}", self.prefix)
    }
}

/// A cache store in Redis, shared by every replica that names the same URL
/// and prefix. Values are kept as their [`Codec`] bytes.
pub struct RedisStore<V> {
    conn: Arc<Conn>,
    expire_after: Duration,
    put: Script,
    purge: Script,
    _values: PhantomData<fn() -> V>,
}

impl<V> RedisStore<V> {
    /// A store on `options.url`, made inside the Tokio runtime it will run
    /// on. It connects on first use (and again whenever the connection
    /// drops): only a malformed URL, or no runtime, fails here.
    pub fn new(options: &RedisOptions) -> Result<Self, StoreError> {
        Ok(RedisStore {
            conn: Arc::new(Conn::open(options)?),
            expire_after: options.expire_after,
            put: Script::new(PUT_LUA),
            purge: Script::new(PURGE_LUA),
            _values: PhantomData,
        })
    }

    /// Whether Redis answers now (a `PING` within the timeout).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn
            .call("PING", async |c| {
                redis::cmd("PING").query_async::<()>(c).await
            })
            .await
    }

    /// Entries held under this store's prefix. A `SCAN` over the keyspace:
    /// for tests and reports, not for a request's path.
    pub async fn entry_count(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        self.scan(&format!("{}:e:*", self.conn.prefix), async |keys| {
            n += keys.len();
            Ok(())
        })
        .await?;
        Ok(n)
    }

    /// Deletes every key under this store's prefix (entries, tag sets, the
    /// purge barrier, locks): a run's namespace once its stack stops, since
    /// the barrier hash has no expiry of its own. A `SCAN` and `UNLINK`s,
    /// each call bounded; returns how many keys went.
    pub async fn clear(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        let conn = &self.conn;
        self.scan(&format!("{}:*", self.conn.prefix), async |keys| {
            n += keys.len();
            conn.call("UNLINK", async |c| {
                redis::cmd("UNLINK").arg(&keys).query_async::<()>(c).await
            })
            .await
        })
        .await?;
        Ok(n)
    }

    /// Walks the keys matching `pattern` with `SCAN` (each call bounded),
    /// handing each non-empty batch to `each`.
    async fn scan(
        &self,
        pattern: &str,
        mut each: impl AsyncFnMut(Vec<String>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .conn
                .call("SCAN", async |c| {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(c)
                        .await
                })
                .await?;
            if !keys.is_empty() {
                each(keys).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// The cross-replica fill locks on this store's connection and prefix.
    pub fn locks(&self) -> RedisLocks {
        RedisLocks {
            conn: self.conn.clone(),
        }
    }
}

/// A Redis reply that names a put's outcome.
fn put_outcome(reply: &str) -> Result<PutOutcome, StoreError> {
    match reply {
        "stored" => Ok(PutOutcome::Stored { evicted: 0 }),
        "newer" => Ok(PutOutcome::KeptNewer),
        "purged" => Ok(PutOutcome::PurgedMeanwhile),
        other => Err(StoreError(format!("redis put: unexpected reply {other:?}"))),
    }
}

impl<V> Store<V> for RedisStore<V>
where
    V: Codec + Clone + Send + Sync + 'static,
{
    async fn get(&self, key: CacheKey) -> Result<Option<Cached<V>>, StoreError> {
        let k = self.conn.entry_key(key);
        let (fetched, stored, value): (Option<u64>, Option<u64>, Option<Vec<u8>>) = self
            .conn
            .call("HMGET", async |c| {
                redis::cmd("HMGET")
                    .arg(&k)
                    .arg("f")
                    .arg("s")
                    .arg("v")
                    .query_async(c)
                    .await
            })
            .await?;
        let (Some(fetched), Some(stored), Some(bytes)) = (fetched, stored, value) else {
            return Ok(None);
        };
        match V::decode(&bytes) {
            Ok(value) => Ok(Some(Cached {
                value,
                stored_at: Micros(stored),
                fetched_at: Micros(fetched),
            })),
            Err(e) => {
                // A miss, so the fill that follows overwrites it (its fetch
                // is later): better than bypassing this key until it expires.
                tracing::warn!(error = %e, key = %key, "undecodable cache entry; treated as a miss");
                Ok(None)
            }
        }
    }

    async fn put(&self, key: CacheKey, entry: Stored<V>) -> Result<PutOutcome, StoreError> {
        let mut value = Vec::new();
        entry.value.encode(&mut value);
        let tags = entry
            .tags
            .iter()
            .map(Tag::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let tag_prefix = self.conn.tag_prefix();
        let expire_ms = (self.expire_after.as_millis() as u64).max(1);
        let mut inv = self.put.prepare_invoke();
        inv.key(self.conn.entry_key(key))
            .key(self.conn.barrier_key());
        for t in &entry.tags {
            inv.key(format!("{tag_prefix}{t}"));
        }
        inv.arg(entry.fetched_at.0)
            .arg(entry.stored_at.0)
            .arg(value)
            .arg(expire_ms)
            .arg(tags)
            .arg(entry.size)
            .arg(&tag_prefix);
        for t in &entry.tags {
            inv.arg(*t);
        }
        let reply: String = self
            .conn
            .call("put", async |c| inv.invoke_async(c).await)
            .await?;
        put_outcome(&reply)
    }

    async fn purge_tag(&self, tag: Tag, now: Micros) -> Result<usize, StoreError> {
        let tag_prefix = self.conn.tag_prefix();
        let mut inv = self.purge.prepare_invoke();
        inv.key(format!("{tag_prefix}{tag}"))
            .key(self.conn.barrier_key())
            .arg(tag)
            .arg(now.0)
            .arg(&tag_prefix);
        self.conn
            .call("purge", async |c| inv.invoke_async(c).await)
            .await
    }
}

/// Options of a cross-replica fill lock.
#[derive(Clone, Copy, Debug)]
pub struct LockOptions {
    /// How long a lock lives if its holder never releases it (a replica
    /// that died mid-fill): longer than a fill takes, short enough that the
    /// others do not wait long for a dead one.
    pub ttl: Duration,
    /// The longest a request waits for another replica's fill before
    /// fetching itself (the layer's `lock_timeout`).
    pub wait: Duration,
    /// How often a waiter looks whether the lock is gone.
    pub poll: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            ttl: Duration::from_secs(5),
            wait: Duration::from_secs(2),
            poll: Duration::from_millis(10),
        }
    }
}

/// How a request fared with a key's fill lock.
#[derive(Debug)]
pub enum LockAttempt {
    /// It holds the lock: it fills the key, then releases it.
    Leader(LockGuard),
    /// Another replica held it and let go (released or expired) within the
    /// wait: look in the store again.
    Released,
    /// Another replica still held it when the wait ended: fetch without
    /// the lock.
    WaitTimeout,
}

/// Short `SET NX PX` locks in Redis, one per cache key, so that of several
/// replicas missing the same key only one fills it. A lock expires by
/// itself, so a replica that dies mid-fill blocks the others at most
/// [`LockOptions::ttl`]; every wait is bounded by [`LockOptions::wait`].
#[derive(Clone)]
pub struct RedisLocks {
    conn: Arc<Conn>,
}

/// Tokens tell holders apart: this process's id, a start instant and a
/// counter.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

fn token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
    )
}

impl RedisLocks {
    /// Locks on their own connection (a store's are [`RedisStore::locks`]).
    pub fn new(options: &RedisOptions) -> Result<Self, StoreError> {
        Ok(RedisLocks {
            conn: Arc::new(Conn::open(options)?),
        })
    }

    /// Takes the lock of `key` for `ttl` if nobody holds it.
    pub async fn try_lock(
        &self,
        key: CacheKey,
        ttl: Duration,
    ) -> Result<Option<LockGuard>, StoreError> {
        let lock_key = self.conn.lock_key(key);
        let token = token();
        let ms = (ttl.as_millis() as u64).max(1);
        let got: Option<String> = self
            .conn
            .call("SET NX", async |c| {
                redis::cmd("SET")
                    .arg(&lock_key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(c)
                    .await
            })
            .await?;
        Ok(got.map(|_| LockGuard {
            conn: self.conn.clone(),
            key: lock_key,
            token,
            released: false,
        }))
    }

    /// Takes the lock of `key`, or waits (at most `o.wait`) for its holder
    /// to let go.
    pub async fn lock(&self, key: CacheKey, o: LockOptions) -> Result<LockAttempt, StoreError> {
        let deadline = Instant::now() + o.wait;
        if let Some(g) = self.try_lock(key, o.ttl).await? {
            return Ok(LockAttempt::Leader(g));
        }
        let lock_key = self.conn.lock_key(key);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(LockAttempt::WaitTimeout);
            }
            tokio::time::sleep(o.poll.min(left)).await;
            let held: bool = self
                .conn
                .call("EXISTS", async |c| {
                    redis::cmd("EXISTS").arg(&lock_key).query_async(c).await
                })
                .await?;
            if !held {
                return Ok(LockAttempt::Released);
            }
        }
    }
}

/// A held fill lock. Release it with [`LockGuard::release`]; a guard
/// dropped unreleased releases in the background (or, without a runtime,
/// the lock expires by itself).
pub struct LockGuard {
    conn: Arc<Conn>,
    key: String,
    token: String,
    released: bool,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("key", &self.key)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    /// Releases the lock; false when it had expired (and maybe been taken
    /// by another replica, whose lock stays).
    pub async fn release(mut self) -> Result<bool, StoreError> {
        self.released = true;
        unlock(&self.conn, &self.key, &self.token).await
    }

    /// Forgets the lock without releasing it: it lives until its expiry,
    /// as when a replica dies mid-fill.
    pub fn abandon(mut self) {
        self.released = true;
    }
}

async fn unlock(conn: &Conn, key: &str, token: &str) -> Result<bool, StoreError> {
    let script = Script::new(UNLOCK_LUA);
    let mut inv = script.prepare_invoke();
    inv.key(key).arg(token);
    let n: u32 = conn
        .call("unlock", async |c| inv.invoke_async(c).await)
        .await?;
    Ok(n == 1)
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let conn = self.conn.clone();
            let key = std::mem::take(&mut self.key);
            let token = std::mem::take(&mut self.token);
            rt.spawn(async move {
                if let Err(e) = unlock(&conn, &key, &token).await {
                    tracing::debug!(error = %e, "lock release failed; it expires by itself");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_survives_its_encoding_without_its_cookies() {
        let page = Arc::new(PageResponse {
            status: 200,
            headers: vec![
                (
                    HeaderName::from_static("x-ttlab-variants"),
                    HeaderValue::from_static("0_1,a_0"),
                ),
                (
                    HeaderName::from_static("x-odd"),
                    HeaderValue::from_bytes(b"\xfe\xff").unwrap(),
                ),
            ],
            body: Bytes::from_static(b"<html>hello</html>"),
            upstream_cache: Some("cdn=MISS".to_owned()),
            set_cookies: vec!["a=1".to_owned()],
            windows: None,
        });
        let mut bytes = Vec::new();
        page.encode(&mut bytes);
        let back = <Arc<PageResponse>>::decode(&bytes).unwrap();
        assert_eq!(back.status, 200);
        assert_eq!(back.headers, page.headers);
        assert_eq!(back.body, page.body);
        assert_eq!(back.upstream_cache, page.upstream_cache);
        assert!(back.set_cookies.is_empty(), "cookies never stored");

        for cut in 0..bytes.len() {
            assert!(
                <Arc<PageResponse>>::decode(&bytes[..cut]).is_err(),
                "a page cut at {cut} bytes is refused, not misread"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(<Arc<PageResponse>>::decode(&longer).is_err());

        // A page stored by a layer that follows HTTP keeps its windows.
        let mut own = (*page).clone();
        own.windows = Some(Windows {
            ttl: Micros::from_secs(60),
            swr: Micros(1),
            sie: Micros(u64::MAX),
        });
        let mut bytes = Vec::new();
        Arc::new(own.clone()).encode(&mut bytes);
        let back = <Arc<PageResponse>>::decode(&bytes).unwrap();
        assert_eq!(back.windows, own.windows);
        assert_eq!(back.body, own.body);
        assert!(<Arc<PageResponse>>::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn simple_values_round_trip() {
        let mut b = Vec::new();
        u64::MAX.encode(&mut b);
        assert_eq!(u64::decode(&b).unwrap(), u64::MAX);
        assert!(u64::decode(&b[..7]).is_err());
        let mut b = Vec::new();
        "variant".to_owned().encode(&mut b);
        assert_eq!(String::decode(&b).unwrap(), "variant");
    }

    #[test]
    fn the_safety_net_outlives_every_window() {
        let w = Windows {
            ttl: Micros::from_secs(60),
            swr: Micros::from_secs(30),
            sie: Micros::from_secs(300),
        };
        assert_eq!(
            RedisOptions::safety_net(w),
            Duration::from_secs(360) + SAFETY_MARGIN
        );
    }

    #[tokio::test]
    async fn a_malformed_url_fails_at_once() {
        assert!(RedisStore::<u64>::new(&RedisOptions::new("not a url")).is_err());
    }

    #[test]
    fn outside_a_runtime_new_fails_instead_of_panicking() {
        let e = RedisStore::<u64>::new(&RedisOptions::new("redis://127.0.0.1:1/"))
            .err()
            .expect("no runtime");
        assert!(e.0.contains("Tokio runtime"), "{e}");
    }
}
