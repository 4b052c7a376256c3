//! Where a caching layer keeps entries: one trait, and the embedded
//! in-memory store (bounded by entries and/or bytes; what goes out is the
//! bounds' [`Eviction`] policy: least recently used by default, the `lru`
//! crate's map, or one of [`super::policy`]'s).
//!
//! Freshness is not the store's business: an entry carries when it was
//! stored and fetched, and the layer judges it with
//! [`super::freshness`] on its own clock — so the simulator runs the same
//! store on virtual time. The store does keep two guarantees of its own:
//! a purge of a tag also bars entries fetched at or before it from being
//! stored after it (a fill that raced the purge: one begun in the purge's
//! own instant may have read the old content), and a put never replaces an entry
//! fetched later with one fetched earlier.
//!
//! The memory store is lean on purpose (the simulator holds every key of a
//! long run): an entry is its key (16 bytes, 8-aligned), its value, when it
//! was stored, when its fetch began as a 4-byte offset from that, its size,
//! and a 4-byte id of its tag list — the lists themselves are interned
//! store-wide (`TagLists`: a page's keys all carry the page's list), kept
//! while some entry uses them. No tag → keys index: a purge scans the
//! entries, and only when some live entry carries the tag (a count per tag
//! says so): purges are rare next to lookups, and the scan costs nothing per
//! entry at rest. See `docs/decisions.md` and `docs/performance.md`.
//!
//! Two things keep a memory store from growing without end. Its bounds
//! (every server layer built from a scenario has them:
//! [`Bounds::or_defaults`]; the simulator's stores have a ceiling,
//! [`MemoryStore::with_ceiling`]), and reclaiming: an entry older than its
//! layer's [`lifetime`] (ttl + the longer stale window) can never be served
//! again, so a sweep drops every such entry — at most once per lifetime of
//! the layer's own clock, run by a put that finds one due (and, in servers,
//! by a ticker that calls [`MemoryStore::reclaim_due`] while no puts come).
//! See `docs/decisions.md`.

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use hashbrown::HashTable;
use lru::{DefaultHasher as DefaultHashBuilder, LruCache};
use smallvec::SmallVec;
use thiserror::Error;
use ttlab_scenarios::Micros;

use super::freshness::{Windows, lifetime, servable_ever};
use super::key::CacheKey;
use super::policy::PolicyMap;
pub use ttlab_scenarios::model::Eviction;

/// A purge tag: the index of a content entry the page was built from.
pub type Tag = u32;

/// An entry's tags: inline up to four (a page's usual entry count).
pub type Tags = SmallVec<[Tag; 4]>;

/// An entry to store, with the metadata the layer needs.
#[derive(Clone, Debug)]
pub struct Stored<V> {
    /// What the layer serves.
    pub value: V,
    /// When it was stored (its age counts from here).
    pub stored_at: Micros,
    /// When the upstream fetch that produced it began.
    pub fetched_at: Micros,
    /// Content entries it was built from.
    pub tags: Tags,
    /// Bytes it takes, for `max_bytes` (saturates at 4 GiB).
    pub size: u32,
}

/// What a lookup finds: the value and the instants freshness is judged by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cached<V> {
    /// What the layer serves.
    pub value: V,
    /// When it was stored.
    pub stored_at: Micros,
    /// When the upstream fetch that produced it began.
    pub fetched_at: Micros,
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
pub trait Store<V: Clone>: Send + Sync + 'static {
    /// The entry under `key`, if any.
    fn get(
        &self,
        key: CacheKey,
    ) -> impl Future<Output = Result<Option<Cached<V>>, StoreError>> + Send;
    /// Stores `entry` under `key`, within the store's bounds.
    fn put(
        &self,
        key: CacheKey,
        entry: Stored<V>,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;
    /// Drops every entry tagged `tag`; returns how many. Entries with this
    /// tag whose fetch began at or before `now` are refused from now on.
    fn purge_tag(
        &self,
        tag: Tag,
        now: Micros,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// The entry bound of a layer whose scenario sets none: a page takes a
/// few KiB, so this is more distinct pages than the shipped scenarios make
/// in a run, and well under a server's memory.
pub const DEFAULT_MAX_ENTRIES: u64 = 50_000;

/// The byte bound (sum of entry sizes) of a layer whose scenario sets none:
/// 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Bounds of a memory store. `None` leaves that dimension unbounded, which
/// the store supports for tests and benchmarks; every layer made from a
/// scenario takes [`Bounds::or_defaults`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Most entries.
    pub max_entries: Option<u64>,
    /// Most bytes (sum of entry sizes).
    pub max_bytes: Option<u64>,
    /// Which entry goes when a bound is reached (LRU by default).
    pub eviction: Eviction,
}

impl Bounds {
    /// The bounds a layer runs with: what the scenario set, and
    /// [`DEFAULT_MAX_ENTRIES`] / [`DEFAULT_MAX_BYTES`] for what it did not —
    /// the one place the defaults apply, for servers and the simulator
    /// alike.
    pub fn or_defaults(max_entries: Option<u64>, max_bytes: Option<u64>) -> Bounds {
        Bounds {
            max_entries: Some(max_entries.unwrap_or(DEFAULT_MAX_ENTRIES)),
            max_bytes: Some(max_bytes.unwrap_or(DEFAULT_MAX_BYTES)),
            eviction: Eviction::Lru,
        }
    }

    /// These bounds, evicting by `eviction`.
    #[must_use]
    pub const fn evicting(mut self, eviction: Eviction) -> Bounds {
        self.eviction = eviction;
        self
    }

    /// Whether anything is bounded.
    pub const fn any(&self) -> bool {
        self.max_entries.is_some() || self.max_bytes.is_some()
    }
}

/// A key as the memory store's maps hold it: [`CacheKey`]'s 128 bits,
/// 8-aligned (a `u128` is 16-aligned, which rounds a 40-byte slot up
/// to 48). Ordered and hashed as [`CacheKey`] is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SlotKey {
    hi: u64,
    lo: u64,
}

impl std::hash::Hash for SlotKey {
    /// As [`CacheKey`] hashes: its low 64 bits (the key is a hash already).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.lo);
    }
}

impl From<CacheKey> for SlotKey {
    #[allow(clippy::cast_possible_truncation)] // the two halves, on purpose
    fn from(k: CacheKey) -> Self {
        SlotKey {
            hi: (k.0 >> 64) as u64,
            lo: k.0 as u64,
        }
    }
}

impl From<SlotKey> for CacheKey {
    fn from(k: SlotKey) -> Self {
        CacheKey((u128::from(k.hi) << 64) | u128::from(k.lo))
    }
}

/// [`Entry::fetched`] of an entry whose fetch began more than an `i32` of
/// microseconds (about 35 minutes) away from when it was stored: its
/// instant is in `Inner::far`.
const FAR: i32 = i32::MIN;

/// An entry as the memory store holds it: [`Stored`] in 20 bytes plus the
/// value (24 with the simulator's 4-byte page id), so a [`DenseMap`] slot
/// with its key is 40 bytes.
struct Entry<V> {
    value: V,
    stored_at: Micros,
    /// `fetched_at − stored_at` in microseconds (negative for a fetch that
    /// began before the entry's age counts from, the usual case; positive
    /// when an upstream's `Age` put `stored_at` before the fetch). Exact:
    /// a difference that does not fit is [`FAR`] and the instant is kept
    /// beside the map.
    fetched: i32,
    /// Its tag list's id in the store's [`TagLists`].
    tags: u32,
    /// Bytes, as [`Stored::size`].
    size: u32,
}

impl<V> Entry<V> {
    /// The fetch instant, when it is held in the entry.
    fn near_fetch(&self) -> Option<Micros> {
        (self.fetched != FAR)
            .then(|| Micros(self.stored_at.0.wrapping_add_signed(self.fetched.into())))
    }
}

/// `fetched_at − stored_at` as [`Entry::fetched`] holds it, or `None` when
/// it does not fit.
fn fetch_offset(stored_at: Micros, fetched_at: Micros) -> Option<i32> {
    i32::try_from(i128::from(fetched_at.0) - i128::from(stored_at.0))
        .ok()
        .filter(|&d| d != FAR)
}

/// The tag lists a store's entries carry, each held once (interned): an
/// entry keeps a 4-byte id instead of its list, since every key of a page
/// (its variants, its visitors) carries the page's list. A list lives while
/// some entry carries it; its id is then reused. Id 0 is the empty list.
struct TagLists {
    /// By id: the list and how many entries carry it (0: a free id).
    lists: Vec<(Box<[Tag]>, u32)>,
    /// Ids of live lists, by their tags' hash.
    index: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    free: Vec<u32>,
    /// Live lists per tag, so a purge of a tag nobody carries is free.
    per_tag: HashMap<Tag, u32>,
}

impl TagLists {
    fn new() -> Self {
        TagLists {
            lists: vec![(Box::default(), 0)],
            index: HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            free: Vec::new(),
            per_tag: HashMap::new(),
        }
    }

    /// The id of `tags`, counting one more entry that carries it.
    fn acquire(&mut self, tags: &[Tag]) -> u32 {
        if tags.is_empty() {
            return 0;
        }
        let hash = self.hasher.hash_one(tags);
        let lists = &mut self.lists;
        if let Some(&id) = self.index.find(hash, |&i| *lists[i as usize].0 == *tags) {
            lists[id as usize].1 += 1;
            return id;
        }
        for t in tags {
            *self.per_tag.entry(*t).or_insert(0) += 1;
        }
        let list = (Box::from(tags), 1);
        let id = if let Some(id) = self.free.pop() {
            lists[id as usize] = list;
            id
        } else {
            lists.push(list);
            u32::try_from(lists.len() - 1).expect("fewer than 2^32 tag lists")
        };
        let hasher = &self.hasher;
        self.index
            .insert_unique(hash, id, |&i| hasher.hash_one(&*lists[i as usize].0));
        id
    }

    /// One entry fewer carries list `id`; the last one frees it.
    fn release(&mut self, id: u32) {
        if id == 0 {
            return;
        }
        let live = &mut self.lists[id as usize].1;
        *live -= 1;
        if *live > 0 {
            return;
        }
        let list = std::mem::take(&mut self.lists[id as usize].0);
        for t in &list {
            if let Some(n) = self.per_tag.get_mut(t) {
                *n -= 1;
                if *n == 0 {
                    self.per_tag.remove(t);
                }
            }
        }
        if let Ok(e) = self
            .index
            .find_entry(self.hasher.hash_one(&*list), |&i| i == id)
        {
            e.remove();
        }
        self.free.push(id);
    }

    fn get(&self, id: u32) -> &[Tag] {
        &self.lists[id as usize].0
    }

    /// Whether some live entry carries `tag`.
    fn carries(&self, tag: Tag) -> bool {
        self.per_tag.contains_key(&tag)
    }
}

/// The unbounded store's map: entries side by side in one vector, found
/// through a hash table of their 4-byte positions. Against a hash map with
/// entries inline (a bucket of key and entry, 40 bytes, in a table that
/// doubles when 7/8 full, so between 46 and 94 bytes an entry by where the
/// count falls), the table's buckets are 4 bytes and the vector grows by an
/// eighth: at most 45 + 11.5 bytes an entry at any count, for one more
/// memory access per lookup. Removal moves the last entry into the hole.
struct DenseMap<V> {
    index: HashTable<u32>,
    slots: Vec<(SlotKey, Entry<V>)>,
    hasher: DefaultHashBuilder,
}

impl<V> DenseMap<V> {
    /// The vector's growth when full: an eighth of what it holds, at least
    /// this many entries.
    const MIN_GROWTH: usize = 64;

    fn new() -> Self {
        DenseMap {
            index: HashTable::new(),
            slots: Vec::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn find(&self, key: SlotKey) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(self.hasher.hash_one(key), |&i| slots[i as usize].0 == key)
            .map(|&i| i as usize)
    }

    fn get(&self, key: SlotKey) -> Option<&Entry<V>> {
        self.find(key).map(|i| &self.slots[i].1)
    }

    /// Inserts; returns the entry it replaced.
    fn insert(&mut self, key: SlotKey, entry: Entry<V>) -> Option<Entry<V>> {
        if let Some(i) = self.find(key) {
            return Some(std::mem::replace(&mut self.slots[i].1, entry));
        }
        if self.slots.len() == self.slots.capacity() {
            self.slots
                .reserve_exact((self.slots.len() / 8).max(Self::MIN_GROWTH));
        }
        let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 entries");
        self.slots.push((key, entry));
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hasher.hash_one(key), i, |&j| {
            hasher.hash_one(slots[j as usize].0)
        });
        None
    }

    fn remove(&mut self, key: SlotKey) -> Option<Entry<V>> {
        let slots = &self.slots;
        let i = self
            .index
            .find_entry(self.hasher.hash_one(key), |&i| slots[i as usize].0 == key)
            .ok()?
            .remove()
            .0;
        let last = u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 entries");
        let (_, entry) = self.slots.swap_remove(i as usize);
        if i != last {
            // The last entry moved into the hole: point its bucket there.
            let moved = self.slots[i as usize].0;
            if let Some(at) = self
                .index
                .find_mut(self.hasher.hash_one(moved), |&j| j == last)
            {
                *at = i;
            }
        }
        Some(entry)
    }

    fn iter(&self) -> impl Iterator<Item = &(SlotKey, Entry<V>)> {
        self.slots.iter()
    }

    /// Every entry, leaving the map empty.
    fn take(&mut self) -> Vec<(SlotKey, Entry<V>)> {
        self.index.clear();
        std::mem::take(&mut self.slots)
    }
}

/// The map of a memory store: in recency order when something can be
/// evicted, a plain [`DenseMap`] when nothing ever is — or, with a ceiling,
/// not before the ceiling is reached.
enum Map<V> {
    Lru(LruCache<SlotKey, Entry<V>>),
    Plain(DenseMap<V>),
    /// Any other eviction policy ([`super::policy`]).
    Policy(Box<PolicyMap<Entry<V>>>),
}

impl<V> Map<V> {
    fn len(&self) -> usize {
        match self {
            Map::Lru(m) => m.len(),
            Map::Plain(m) => m.len(),
            Map::Policy(m) => m.len(),
        }
    }

    /// The entry under `key`, marked recently used.
    fn get(&mut self, key: CacheKey) -> Option<&Entry<V>> {
        match self {
            Map::Lru(m) => m.get(&key.into()),
            Map::Plain(m) => m.get(key.into()),
            Map::Policy(m) => m.get(&key),
        }
    }

    fn peek(&self, key: CacheKey) -> Option<&Entry<V>> {
        match self {
            Map::Lru(m) => m.peek(&key.into()),
            Map::Plain(m) => m.get(key.into()),
            Map::Policy(m) => m.peek(&key),
        }
    }

    /// Inserts; returns the entry it replaced or, at capacity, the least
    /// recently used one it evicted.
    fn push(&mut self, key: CacheKey, entry: Entry<V>) -> Option<(CacheKey, Entry<V>)> {
        match self {
            Map::Lru(m) => m.push(key.into(), entry).map(|(k, e)| (k.into(), e)),
            Map::Plain(m) => m.insert(key.into(), entry).map(|old| (key, old)),
            Map::Policy(m) => m.push(key, entry),
        }
    }

    /// Evicts one entry: the policy's victim.
    fn pop_victim(&mut self) -> Option<(CacheKey, Entry<V>)> {
        match self {
            Map::Lru(m) => m.pop_lru().map(|(k, e)| (k.into(), e)),
            Map::Plain(_) => None,
            Map::Policy(m) => m.pop_victim(),
        }
    }

    fn pop(&mut self, key: CacheKey) -> Option<Entry<V>> {
        match self {
            Map::Lru(m) => m.pop(&key.into()),
            Map::Plain(m) => m.remove(key.into()),
            Map::Policy(m) => m.pop(&key),
        }
    }

    /// Keys of the entries `which` picks.
    fn keys_where(&self, which: impl Fn(&Entry<V>) -> bool) -> Vec<CacheKey> {
        match self {
            Map::Lru(m) => m
                .iter()
                .filter(|(_, e)| which(e))
                .map(|(k, _)| (*k).into())
                .collect(),
            Map::Plain(m) => m
                .iter()
                .filter(|(_, e)| which(e))
                .map(|(k, _)| (*k).into())
                .collect(),
            Map::Policy(m) => m.keys_where(which),
        }
    }

    /// From the plain map to an LRU map of at most `cap` entries, the
    /// entries in the order they were stored (the plain map keeps no
    /// recency): once, when a ceiling is reached.
    fn make_lru(&mut self, cap: NonZeroUsize) {
        let Map::Plain(map) = self else {
            return;
        };
        let mut entries = map.take();
        entries.sort_unstable_by_key(|(k, e)| (e.stored_at, *k));
        let mut lru = LruCache::new(cap);
        for (k, e) in entries {
            lru.push(k, e);
        }
        *self = Map::Lru(lru);
    }
}

struct Inner<V> {
    lru: Map<V>,
    /// Boxed: a server's store sits in an enum beside the Redis store's
    /// handle, and only puts and purges reach the lists.
    tags: Box<TagLists>,
    /// Fetch instants of the entries whose [`Entry::fetched`] is [`FAR`].
    far: HashMap<CacheKey, Micros>,
    purged_at: HashMap<Tag, Micros>,
    bytes: u64,
    /// When the next sweep of entries past their lifetime is due.
    next_sweep: Micros,
    /// Entries dropped because they could never be served again.
    reclaimed: u64,
}

impl<V> Inner<V> {
    /// Bookkeeping for the entry that left the map from under `key`
    /// (replaced, evicted, purged).
    fn forget(&mut self, key: CacheKey, old: &Entry<V>) {
        self.bytes -= u64::from(old.size);
        self.tags.release(old.tags);
        if old.fetched == FAR {
            self.far.remove(&key);
        }
    }

    /// When the fetch of `e`, held under `key`, began.
    fn fetched_at(&self, key: CacheKey, e: &Entry<V>) -> Micros {
        e.near_fetch()
            .unwrap_or_else(|| self.far.get(&key).copied().unwrap_or(e.stored_at))
    }

    /// Drops every entry that can never be served again at `now`, if a
    /// sweep is due (one per lifetime of the layer's clock: each entry is
    /// looked at a bounded number of times, and a put pays one comparison
    /// when none is due). Returns how many it dropped.
    fn sweep_if_due(&mut self, w: Windows, now: Micros) -> usize {
        if now < self.next_sweep {
            return 0;
        }
        self.sweep(w, now)
    }

    /// Drops every entry that can never be served again at `now`; the next
    /// sweep is due one lifetime later.
    fn sweep(&mut self, w: Windows, now: Micros) -> usize {
        self.next_sweep = now.saturating_add(lifetime(w));
        let dead = self.lru.keys_where(|e| !servable_ever(e.stored_at, now, w));
        for &k in &dead {
            if let Some(old) = self.lru.pop(k) {
                self.forget(k, &old);
            }
        }
        self.reclaimed += dead.len() as u64;
        dead.len()
    }
}

/// The embedded store: a map under a mutex, bounded by entries and bytes
/// (the bounds' eviction policy chooses what goes), reclaiming entries past
/// their lifetime.
pub struct MemoryStore<V> {
    inner: Mutex<Inner<V>>,
    bounds: Bounds,
    /// The layer's windows, when the store reclaims entries past them.
    reclaim: Option<Windows>,
    /// Most entries of a store without bounds (see [`MemoryStore::with_ceiling`]).
    ceiling: Option<NonZeroUsize>,
}

impl<V: Clone> MemoryStore<V> {
    /// An empty store with these bounds, keeping entries until they are
    /// replaced, evicted or purged (see [`MemoryStore::reclaiming`]).
    pub fn new(bounds: Bounds) -> Self {
        let cap = bounds
            .max_entries
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let lru = match (bounds.max_entries, bounds.max_bytes) {
            (None, None) => Map::Plain(DenseMap::new()),
            _ if bounds.eviction != Eviction::Lru => Map::Policy(Box::new(PolicyMap::new(
                bounds.eviction,
                cap.filter(|&c| c > 0),
            ))),
            (Some(n), _) => match NonZeroUsize::new(usize::try_from(n).unwrap_or(usize::MAX)) {
                Some(n) => Map::Lru(LruCache::new(n)),
                None => Map::Lru(LruCache::unbounded()),
            },
            (None, Some(_)) => Map::Lru(LruCache::unbounded()),
        };
        MemoryStore {
            inner: Mutex::new(Inner {
                lru,
                tags: Box::new(TagLists::new()),
                far: HashMap::new(),
                purged_at: HashMap::new(),
                bytes: 0,
                next_sweep: Micros::ZERO,
                reclaimed: 0,
            }),
            bounds,
            reclaim: None,
            ceiling: None,
        }
    }

    /// This store without bounds, but holding at most `entries` entries:
    /// it keeps the plain map (the simulator's fast path: no recency to
    /// keep) until a put would pass the ceiling; then it first reclaims
    /// (with [`MemoryStore::reclaiming`]) and, if that is not enough, turns
    /// into an LRU map of `entries`, the entries it holds ordered by when
    /// they were stored, evicting least recently used from then on. For a
    /// store with bounds it changes nothing.
    #[must_use]
    pub fn with_ceiling(mut self, entries: u64) -> Self {
        self.ceiling = NonZeroUsize::new(usize::try_from(entries).unwrap_or(usize::MAX));
        self
    }

    /// This store, also dropping entries that a layer with windows `w` can
    /// never serve again (older than [`lifetime`]`(w)`): a put sweeps them
    /// when a sweep is due, at most once per lifetime of the clock the
    /// entries' instants come from; [`MemoryStore::reclaim_due`] does the
    /// same without a put.
    #[must_use]
    pub fn reclaiming(mut self, w: Windows) -> Self {
        self.reclaim = Some(w);
        self
    }

    /// The store's bounds.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Entries dropped so far because they could never be served again.
    pub fn reclaimed(&self) -> u64 {
        self.lock().reclaimed
    }

    /// Sweeps entries past their lifetime at `now` if a sweep is due (see
    /// [`MemoryStore::reclaiming`]); returns how many it dropped. Servers
    /// call it on a timer so an idle store is reclaimed too.
    pub fn reclaim_due(&self, now: Micros) -> usize {
        match self.reclaim {
            Some(w) => self.lock().sweep_if_due(w, now),
            None => 0,
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
    pub fn get_now(&self, key: CacheKey) -> Option<Cached<V>> {
        Self::get_in(&mut self.lock(), key)
    }

    /// [`MemoryStore::get_now`] for the store's only user (the simulator):
    /// no lock to take.
    pub fn get_exclusive(&mut self, key: CacheKey) -> Option<Cached<V>> {
        let inner = self
            .inner
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::get_in(inner, key)
    }

    fn get_in(inner: &mut Inner<V>, key: CacheKey) -> Option<Cached<V>> {
        let e = inner.lru.get(key)?;
        let (value, stored_at) = (e.value.clone(), e.stored_at);
        let fetched_at = match e.near_fetch() {
            Some(at) => at,
            None => inner.far.get(&key).copied().unwrap_or(stored_at),
        };
        Some(Cached {
            value,
            stored_at,
            fetched_at,
        })
    }

    /// Stores `entry` under `key`, evicting least recently used entries to
    /// stay within the bounds.
    pub fn put_now(&self, key: CacheKey, entry: Stored<V>) -> PutOutcome {
        let mut inner = self.lock();
        if let Some(w) = self.reclaim {
            inner.sweep_if_due(w, entry.stored_at);
        }
        if entry.tags.iter().any(|t| {
            inner
                .purged_at
                .get(t)
                .is_some_and(|p| entry.fetched_at <= *p)
        }) {
            return PutOutcome::PurgedMeanwhile;
        }
        if let Some(old) = inner.lru.peek(key)
            && inner.fetched_at(key, old) > entry.fetched_at
        {
            return PutOutcome::KeptNewer;
        }
        if self
            .bounds
            .max_bytes
            .is_some_and(|m| u64::from(entry.size) > m)
        {
            return PutOutcome::TooLarge;
        }
        if let (Some(cap), Map::Plain(map)) = (self.ceiling, &inner.lru)
            && map.len() >= cap.get()
            && map.find(key.into()).is_none()
        {
            if let Some(w) = self.reclaim {
                inner.sweep(w, entry.stored_at);
            }
            if inner.lru.len() >= cap.get() {
                inner.lru.make_lru(cap);
            }
        }
        let fetched = fetch_offset(entry.stored_at, entry.fetched_at);
        let held = Entry {
            value: entry.value,
            stored_at: entry.stored_at,
            fetched: fetched.unwrap_or(FAR),
            tags: inner.tags.acquire(&entry.tags),
            size: entry.size,
        };
        inner.bytes += u64::from(entry.size);
        let mut evicted = 0;
        if let Some((old_key, old)) = inner.lru.push(key, held) {
            // Either the previous entry under this key, or the LRU victim.
            inner.forget(old_key, &old);
            if old_key != key {
                evicted += 1;
            }
        }
        // After the replaced entry's bookkeeping, which drops its own.
        if fetched.is_none() {
            inner.far.insert(key, entry.fetched_at);
        }
        while self.bounds.max_bytes.is_some_and(|m| inner.bytes > m) {
            let Some((victim_key, victim)) = inner.lru.pop_victim() else {
                break;
            };
            inner.forget(victim_key, &victim);
            evicted += 1;
        }
        PutOutcome::Stored { evicted }
    }

    /// Drops every entry tagged `tag`, and bars entries fetched at or before
    /// `now` (in the purge's own instant a fill may have begun before it).
    pub fn purge_now(&self, tag: Tag, now: Micros) -> usize {
        let mut inner = self.lock();
        let barrier = inner.purged_at.entry(tag).or_insert(now);
        *barrier = (*barrier).max(now);
        if !inner.tags.carries(tag) {
            return 0;
        }
        let inner = &mut *inner;
        let lists = &inner.tags;
        let keys = inner.lru.keys_where(|e| lists.get(e.tags).contains(&tag));
        for &k in &keys {
            if let Some(old) = inner.lru.pop(k) {
                inner.forget(k, &old);
            }
        }
        keys.len()
    }
}

impl<V: Clone + Send + Sync + 'static> Store<V> for MemoryStore<V> {
    async fn get(&self, key: CacheKey) -> Result<Option<Cached<V>>, StoreError> {
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

    fn entry(fetched: u64, tags: &[Tag], size: u32) -> Stored<u32> {
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
            ..Bounds::default()
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
            ..Bounds::default()
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
        // A fill that began before the purge, or in its instant, may not
        // store; one after may.
        for fetched in [99, 100] {
            assert_eq!(
                s.put_now(CacheKey(4), entry(fetched, &[8], 1)),
                PutOutcome::PurgedMeanwhile
            );
        }
        assert_eq!(
            s.put_now(CacheKey(4), entry(101, &[8], 1)),
            PutOutcome::Stored { evicted: 0 }
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s.bytes(), 2);
    }

    #[test]
    fn a_ceiling_reclaims_first_then_turns_the_plain_map_lru() {
        // Lifetime 10: entries stored at 0 are dead at 10.
        let w = Windows {
            ttl: Micros(10),
            swr: Micros::ZERO,
            sie: Micros::ZERO,
        };
        let s = MemoryStore::new(Bounds::default())
            .reclaiming(w)
            .with_ceiling(3);
        let put = |k, t| s.put_now(CacheKey(k), at(t, t));
        put(1, 0); // the first sweep; the next is due at 10
        put(2, 1);
        put(3, 2);
        // At the ceiling, and a sweep is due: 1 (age 10) goes, room made.
        assert_eq!(put(9, 10), PutOutcome::Stored { evicted: 0 });
        assert_eq!((s.len(), s.reclaimed()), (3, 1));
        // At the ceiling, no sweep due (next at 20), but 2 and 3 are dead:
        // the ceiling sweeps before it evicts anything live.
        assert_eq!(put(4, 12), PutOutcome::Stored { evicted: 0 });
        assert_eq!((s.len(), s.reclaimed()), (2, 3));
        put(5, 13);
        // At the ceiling with nothing dead: it turns LRU, in the order the
        // entries were stored, and evicts 9.
        assert_eq!(put(6, 14), PutOutcome::Stored { evicted: 1 });
        assert!(s.get_now(CacheKey(9)).is_none());
        // From then on, least recently used: 4 was read, so 5 goes.
        assert!(s.get_now(CacheKey(4)).is_some());
        assert_eq!(put(7, 15), PutOutcome::Stored { evicted: 1 });
        assert!(s.get_now(CacheKey(5)).is_none());
        assert_eq!(s.len(), 3);
        // Replacing a key at the ceiling evicts nothing.
        assert_eq!(put(7, 16), PutOutcome::Stored { evicted: 0 });
    }

    #[test]
    fn default_bounds_fill_what_the_scenario_left_open() {
        assert_eq!(
            Bounds::or_defaults(None, None),
            Bounds {
                max_entries: Some(DEFAULT_MAX_ENTRIES),
                max_bytes: Some(DEFAULT_MAX_BYTES),
                ..Bounds::default()
            }
        );
        assert_eq!(
            Bounds::or_defaults(Some(7), None),
            Bounds {
                max_entries: Some(7),
                max_bytes: Some(DEFAULT_MAX_BYTES),
                ..Bounds::default()
            }
        );
        assert!(!Bounds::default().any());
    }

    fn at(stored: u64, fetched: u64) -> Stored<u32> {
        Stored {
            stored_at: Micros(stored),
            ..entry(fetched, &[1], 10)
        }
    }

    #[test]
    fn entries_past_their_lifetime_are_reclaimed_once_a_sweep_is_due() {
        // Lifetime 10 + max(5, 2) = 15.
        let w = Windows {
            ttl: Micros(10),
            swr: Micros(5),
            sie: Micros(2),
        };
        let s = MemoryStore::new(Bounds::default()).reclaiming(w);
        s.put_now(CacheKey(1), at(0, 0)); // sweeps (nothing), next due at 15
        s.put_now(CacheKey(2), at(10, 10));
        // 14 is before the next sweep: nothing reclaimed, 1 still held (and
        // still servable stale until 15).
        s.put_now(CacheKey(3), at(14, 14));
        assert_eq!((s.len(), s.reclaimed()), (3, 0));
        // At 15 a sweep is due: 1 (age 15) can never be served again; 2 and
        // 3 can. The next sweep is due at 30.
        assert_eq!(s.reclaim_due(Micros(15)), 1);
        assert_eq!((s.len(), s.bytes(), s.reclaimed()), (2, 20, 1));
        assert_eq!(s.reclaim_due(Micros(29)), 0, "not due before 30");
        assert_eq!(s.len(), 2);
        // A put at 30 sweeps first: 2 (age 20) and 3 (age 16) go, and the
        // tag count follows (a purge of tag 1 then finds only the new one).
        assert_eq!(
            s.put_now(CacheKey(4), at(30, 30)),
            PutOutcome::Stored { evicted: 0 }
        );
        assert_eq!((s.len(), s.bytes(), s.reclaimed()), (1, 10, 3));
        assert_eq!(s.purge_now(1, Micros(31)), 1);
        assert!(s.is_empty());
    }

    #[test]
    fn a_store_without_reclaiming_keeps_what_it_holds() {
        let s = MemoryStore::new(Bounds::default());
        s.put_now(CacheKey(1), at(0, 0));
        s.put_now(CacheKey(2), at(1_000_000, 1_000_000));
        assert_eq!(s.reclaim_due(Micros(u64::MAX)), 0);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn fetch_instants_come_back_exact_near_and_far() {
        let s = MemoryStore::new(Bounds::default());
        let hour = 3_600_000_000;
        // Near: a fetch that began 2 s before the store; one whose upstream
        // said the answer was already 35 minutes old (stored before fetched;
        // an offset holds up to about 35.8). Far: a fetch an hour before the
        // store, two hours after, and the widest gap there is.
        let cases = [
            (1, Micros(hour), Micros(hour - 2_000_000)),
            (2, Micros(0), Micros(35 * 60 * 1_000_000)),
            (3, Micros(2 * hour), Micros(hour)),
            (4, Micros(hour), Micros(3 * hour)),
            (5, Micros(u64::MAX), Micros(0)),
        ];
        for (k, stored_at, fetched_at) in cases {
            let e = Stored {
                stored_at,
                ..entry(fetched_at.0, &[1], 1)
            };
            s.put_now(CacheKey(k), e);
            let got = s.get_now(CacheKey(k)).unwrap();
            assert_eq!(
                (got.stored_at, got.fetched_at),
                (stored_at, fetched_at),
                "{k}"
            );
        }
        assert_eq!(
            s.lock().far.len(),
            3,
            "the far ones are kept beside the map"
        );
        // A far entry is still newer than an older fetch, and older than a
        // newer one; replacing it drops its far instant.
        let older = Stored {
            stored_at: Micros(3 * hour),
            ..entry(hour - 1, &[1], 1)
        };
        assert_eq!(s.put_now(CacheKey(3), older), PutOutcome::KeptNewer);
        assert_eq!(
            s.put_now(CacheKey(3), entry(hour + 1, &[1], 1)),
            PutOutcome::Stored { evicted: 0 }
        );
        assert_eq!(s.get_now(CacheKey(3)).unwrap().fetched_at, Micros(hour + 1));
        assert_eq!(s.purge_now(1, Micros(0)), 5);
        assert!(s.lock().far.is_empty(), "purged entries drop theirs");
    }

    #[test]
    fn tag_lists_are_held_once_and_freed_with_their_last_entry() {
        let s = MemoryStore::new(Bounds::default());
        for k in 0..3 {
            s.put_now(CacheKey(k), entry(0, &[7, 8], 1));
        }
        s.put_now(CacheKey(3), entry(0, &[9], 1));
        s.put_now(CacheKey(4), entry(0, &[], 1));
        let live = |s: &MemoryStore<u32>| {
            let inner = s.lock();
            let mut l: Vec<_> = inner
                .tags
                .lists
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| (t.to_vec(), *n))
                .collect();
            l.sort();
            (l, inner.tags.index.len(), inner.tags.per_tag.len())
        };
        assert_eq!(live(&s), (vec![(vec![7, 8], 3), (vec![9], 1)], 2, 3));
        // Replacing a key with another list moves it; the old list lives
        // on while other keys carry it.
        s.put_now(CacheKey(0), entry(1, &[9], 1));
        assert_eq!(live(&s), (vec![(vec![7, 8], 2), (vec![9], 2)], 2, 3));
        assert_eq!(s.purge_now(8, Micros(0)), 2);
        assert_eq!(live(&s), (vec![(vec![9], 2)], 1, 1));
        assert_eq!(s.purge_now(7, Micros(0)), 0, "nobody carries 7 any more");
        // A freed id is reused, and a list interned again is found again.
        s.put_now(CacheKey(5), entry(1, &[8, 7], 1));
        s.put_now(CacheKey(6), entry(1, &[8, 7], 1));
        assert_eq!(s.lock().tags.lists.len(), 3, "the empty list, [9], [8, 7]");
        assert_eq!(live(&s), (vec![(vec![8, 7], 2), (vec![9], 2)], 2, 3));
        assert_eq!(s.purge_now(7, Micros(1)), 2);
        assert_eq!(s.purge_now(9, Micros(1)), 2);
        assert_eq!(live(&s), (vec![], 0, 0));
        assert_eq!(s.len(), 1, "the untagged entry");
    }

    #[test]
    fn the_dense_map_finds_what_it_holds_through_inserts_and_removals() {
        // Against std's map, over inserts, replacements and removals in a
        // scrambled order (each removal moves the last entry into the hole).
        let mut dense = DenseMap::new();
        let mut model = HashMap::new();
        let held = |v: u32| Entry {
            value: v,
            stored_at: Micros(0),
            fetched: 0,
            tags: 0,
            size: 1,
        };
        for step in 0..20_000u64 {
            let k = SlotKey::from(CacheKey(u128::from(step.wrapping_mul(7_919) % 3_001)));
            let v = u32::try_from(step).unwrap();
            if step % 3 == 0 {
                assert_eq!(dense.remove(k).map(|e| e.value), model.remove(&k), "{step}");
            } else {
                assert_eq!(
                    dense.insert(k, held(v)).map(|e| e.value),
                    model.insert(k, v),
                    "{step}"
                );
            }
            assert_eq!(dense.len(), model.len());
        }
        for (k, v) in &model {
            assert_eq!(dense.get(*k).map(|e| e.value), Some(*v));
        }
        assert_eq!(dense.iter().count(), model.len());
        let all = dense.take();
        assert_eq!((all.len(), dense.len()), (model.len(), 0));
        assert!(dense.get(all[0].0).is_none());
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
