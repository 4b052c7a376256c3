//! The bounded memory store's eviction policies other than LRU (which is
//! the `lru` crate's map, unchanged): FIFO, CLOCK, SIEVE, S3-FIFO and
//! W-TinyLFU, over one arena of entries linked into up to three queues.
//!
//! Hand-written rather than a crate's (see `docs/decisions.md`): the store
//! needs every policy deterministic (the simulator's reports are pinned
//! byte for byte), exact entry and byte bounds checked by the store itself,
//! removal of any key (purge by tag, reclaiming), and one code path for the
//! simulator and the servers.
//!
//! Policies measure their queue shares in entries of the store as it is
//! when it evicts (the store evicts only when full): S3-FIFO's small queue
//! is a tenth, W-TinyLFU's window a hundredth and its protected segment
//! four fifths of the main part — so one rule holds for an entry bound and a
//! byte bound alike.

use std::collections::VecDeque;

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use ttlab_scenarios::model::Eviction;

use super::key::CacheKey;

/// The end of a queue.
const NIL: u32 = u32::MAX;

/// A frequency counter's ceiling (S3-FIFO's 2-bit counter, CLOCK's and
/// SIEVE's one bit use 1).
const S3_MAX_FREQ: u8 = 3;

struct Node<V> {
    key: CacheKey,
    entry: V,
    /// Toward the queue's head (newer).
    prev: u32,
    /// Toward the queue's tail (older).
    next: u32,
    /// Which queue (S3-FIFO: 0 small, 1 main; W-TinyLFU: 0 window,
    /// 1 probation, 2 protected; others 0).
    queue: u8,
    /// Reads since insertion or the policy last looked (CLOCK and SIEVE's
    /// bit, S3-FIFO's counter).
    freq: u8,
}

#[derive(Clone, Copy)]
struct Queue {
    head: u32,
    tail: u32,
    len: u32,
}

const EMPTY: Queue = Queue {
    head: NIL,
    tail: NIL,
    len: 0,
};

/// S3-FIFO's ghost: keys recently evicted from the small queue, at most as
/// many as the store holds. A key enters main when it comes back while here.
/// It keeps 64 bits of each key (the key is a hash already; two keys of a
/// store sharing them is a chance of about n²/2⁶⁵) and a 32-bit sequence
/// number: 16 bytes in the queue and 16 in the map per key.
#[derive(Default)]
struct Ghost {
    order: VecDeque<(u64, u32)>,
    live: HashMap<u64, u32>,
    seq: u32,
}

impl Ghost {
    const fn print(key: CacheKey) -> u64 {
        key.0 as u64
    }

    fn push(&mut self, key: CacheKey, cap: usize) {
        // Wraps after 2^32 pushes; the queue holds far fewer, so a stale
        // pair never matches a live one.
        self.seq = self.seq.wrapping_add(1);
        let k = Self::print(key);
        self.live.insert(k, self.seq);
        self.order.push_back((k, self.seq));
        while self.live.len() > cap.max(1) {
            self.pop_oldest();
        }
        // Stale pairs (keys that left or came back) are dropped when they
        // outnumber the live ones: amortised, the order stays within twice.
        if self.order.len() > 2 * self.live.len() + 16 {
            let live = &self.live;
            self.order.retain(|(k, s)| live.get(k) == Some(s));
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((k, s)) = self.order.pop_front()
            && self.live.get(&k) == Some(&s)
        {
            self.live.remove(&k);
        }
    }

    /// Whether `key` was here (it leaves).
    fn take(&mut self, key: CacheKey) -> bool {
        self.live.remove(&Self::print(key)).is_some()
    }
}

/// W-TinyLFU's frequency estimate: a count-min sketch of four rows of
/// 4-bit counters (capped at 15), halved every ten times its width of
/// increments so old popularity fades.
pub struct Sketch {
    rows: [Vec<u8>; 4],
    mask: u64,
    added: u64,
    period: u64,
}

impl Sketch {
    /// A sketch for a store of `entries` entries: rows four counters per
    /// entry wide (`n`, the power of two at or above `entries`, at least 64,
    /// times four — fewer counters shared by popular and rare keys, fewer
    /// wrong admissions), halved every `10 n` increments (the sample
    /// W-TinyLFU ages over: ten accesses per cached entry).
    pub fn new(entries: u64) -> Self {
        let n = entries.max(64).next_power_of_two();
        let w = 4 * n;
        let row = || vec![0u8; usize::try_from(w).unwrap_or(usize::MAX)];
        Sketch {
            rows: [row(), row(), row(), row()],
            mask: w - 1,
            added: 0,
            period: 10 * n,
        }
    }

    /// Increments between halvings.
    pub const fn period(&self) -> u64 {
        self.period
    }

    fn slots(&self, key: CacheKey) -> [usize; 4] {
        // The key is a hash already; four independent-enough indexes
        // from its two halves.
        let lo = key.0 as u64;
        let hi = (key.0 >> 64) as u64;
        let mut out = [0; 4];
        for (i, o) in out.iter_mut().enumerate() {
            let h = lo
                .wrapping_add((i as u64).wrapping_mul(hi | 1))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            *o = ((h ^ (h >> 29)) & self.mask) as usize;
        }
        out
    }

    /// Counts one access of `key`.
    pub fn increment(&mut self, key: CacheKey) {
        let s = self.slots(key);
        for (row, i) in self.rows.iter_mut().zip(s) {
            if row[i] < 15 {
                row[i] += 1;
            }
        }
        self.added += 1;
        if self.added >= self.period {
            self.added = 0;
            for row in &mut self.rows {
                for c in row.iter_mut() {
                    *c /= 2;
                }
            }
        }
    }

    /// The estimate: the least of the key's counters.
    pub fn estimate(&self, key: CacheKey) -> u8 {
        let s = self.slots(key);
        self.rows
            .iter()
            .zip(s)
            .map(|(row, i)| row[i])
            .min()
            .unwrap_or(0)
    }
}

/// The store's map under a policy other than LRU.
pub(super) struct PolicyMap<V> {
    policy: Eviction,
    /// Node of each key: slots only (4 bytes each), the key is the node's.
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    nodes: Vec<Option<Node<V>>>,
    free: Vec<u32>,
    queues: [Queue; 3],
    /// SIEVE's hand: the next entry it looks at (`NIL`: the tail).
    hand: u32,
    ghost: Ghost,
    sketch: Option<Sketch>,
    /// Most entries (`None`: only a byte bound).
    cap: Option<usize>,
}

impl<V> PolicyMap<V> {
    /// An empty map evicting by `policy` (not LRU), holding at most `cap`
    /// entries when given.
    pub(super) fn new(policy: Eviction, cap: Option<usize>) -> Self {
        debug_assert!(policy != Eviction::Lru, "LRU is the lru crate's map");
        let sketch = (policy == Eviction::WTinyLfu)
            .then(|| Sketch::new(cap.map_or(1024, |c| c as u64).min(1 << 24)));
        // Reserved up front for an entry bound, as the LRU map does: the
        // bound is the size the store reaches, and growing by doubling
        // would hold up to twice the slots.
        let reserve = cap.unwrap_or(0);
        PolicyMap {
            policy,
            index: HashTable::with_capacity(reserve),
            hasher: DefaultHashBuilder::default(),
            nodes: Vec::with_capacity(reserve),
            free: Vec::new(),
            queues: [EMPTY; 3],
            hand: NIL,
            ghost: Ghost::default(),
            sketch,
            cap,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of `key`'s node.
    fn find(&self, key: &CacheKey) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(self.hasher.hash_one(key), |&i| {
                nodes[i as usize].as_ref().is_some_and(|n| n.key == *key)
            })
            .copied()
    }

    fn node(&self, i: u32) -> &Node<V> {
        self.nodes[i as usize].as_ref().expect("live node")
    }

    fn node_mut(&mut self, i: u32) -> &mut Node<V> {
        self.nodes[i as usize].as_mut().expect("live node")
    }

    /// Links node `i` at the head of queue `q`.
    fn push_head(&mut self, q: u8, i: u32) {
        let old = self.queues[q as usize].head;
        {
            let n = self.node_mut(i);
            n.queue = q;
            n.prev = NIL;
            n.next = old;
        }
        if old == NIL {
            self.queues[q as usize].tail = i;
        } else {
            self.node_mut(old).prev = i;
        }
        let qu = &mut self.queues[q as usize];
        qu.head = i;
        qu.len += 1;
    }

    /// Unlinks node `i` from its queue (SIEVE's hand steps toward the head
    /// if it pointed here).
    fn unlink(&mut self, i: u32) {
        let (q, prev, next) = {
            let n = self.node(i);
            (n.queue as usize, n.prev, n.next)
        };
        if self.hand == i {
            self.hand = prev;
        }
        if prev == NIL {
            self.queues[q].head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.queues[q].tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
        self.queues[q].len -= 1;
    }

    /// Unlinks and frees node `i`, returning its key and entry.
    fn remove_node(&mut self, i: u32) -> (CacheKey, V) {
        self.unlink(i);
        let key = self.node(i).key;
        if let Ok(e) = self
            .index
            .find_entry(self.hasher.hash_one(key), |&j| j == i)
        {
            e.remove();
        }
        let n = self.nodes[i as usize].take().expect("live node");
        self.free.push(i);
        (n.key, n.entry)
    }

    fn move_head(&mut self, q: u8, i: u32) {
        self.unlink(i);
        self.push_head(q, i);
    }

    /// The entry under `key`, recording the read as the policy does. For
    /// W-TinyLFU a read of a key not held counts too (its sketch sees every
    /// request).
    pub(super) fn get(&mut self, key: &CacheKey) -> Option<&V> {
        if let Some(s) = &mut self.sketch {
            s.increment(*key);
        }
        let i = self.find(key)?;
        match self.policy {
            Eviction::Lru | Eviction::Fifo => {}
            Eviction::Clock | Eviction::Sieve => self.node_mut(i).freq = 1,
            Eviction::S3Fifo => {
                let n = self.node_mut(i);
                n.freq = (n.freq + 1).min(S3_MAX_FREQ);
            }
            Eviction::WTinyLfu => match self.node(i).queue {
                0 => self.move_head(0, i),
                1 => {
                    self.move_head(2, i);
                    // The protected segment keeps at most four fifths of
                    // the main part: its oldest goes back on probation.
                    let main = self.queues[1].len + self.queues[2].len;
                    if self.queues[2].len * 5 > main * 4 {
                        let t = self.queues[2].tail;
                        self.move_head(1, t);
                    }
                }
                _ => self.move_head(2, i),
            },
        }
        Some(&self.node(i).entry)
    }

    pub(super) fn peek(&self, key: &CacheKey) -> Option<&V> {
        self.find(key).map(|i| &self.node(i).entry)
    }

    /// Inserts; returns the entry it replaced (which keeps its place and
    /// what the policy knows of its reads) or, at the entry bound, the one
    /// evicted to make room — chosen before the new entry joins, so a new
    /// entry is never its own victim.
    pub(super) fn push(&mut self, key: CacheKey, entry: V) -> Option<(CacheKey, V)> {
        if let Some(i) = self.find(&key) {
            let old = std::mem::replace(&mut self.node_mut(i).entry, entry);
            return Some((key, old));
        }
        let victim = if self.cap.is_some_and(|c| self.index.len() >= c) {
            self.pop_victim()
        } else {
            None
        };
        let node = Node {
            key,
            entry,
            prev: NIL,
            next: NIL,
            queue: 0,
            freq: 0,
        };
        let i = if let Some(i) = self.free.pop() {
            self.nodes[i as usize] = Some(node);
            i
        } else {
            self.nodes.push(Some(node));
            u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 entries")
        };
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index.insert_unique(hasher.hash_one(key), i, |&j| {
            hasher.hash_one(nodes[j as usize].as_ref().expect("live node").key)
        });
        let q = match self.policy {
            // Back from S3-FIFO's ghost: straight to main.
            Eviction::S3Fifo if self.ghost.take(key) => 1,
            _ => 0,
        };
        self.push_head(q, i);
        victim
    }

    pub(super) fn pop(&mut self, key: &CacheKey) -> Option<V> {
        let i = self.find(key)?;
        Some(self.remove_node(i).1)
    }

    /// Evicts one entry, chosen by the policy.
    pub(super) fn pop_victim(&mut self) -> Option<(CacheKey, V)> {
        if self.index.is_empty() {
            return None;
        }
        let i = match self.policy {
            Eviction::Lru | Eviction::Fifo => self.queues[0].tail,
            Eviction::Clock => self.clock_victim(),
            Eviction::Sieve => self.sieve_victim(),
            Eviction::S3Fifo => return self.s3_evict(),
            Eviction::WTinyLfu => self.tinylfu_victim(),
        };
        Some(self.remove_node(i))
    }

    fn clock_victim(&mut self) -> u32 {
        loop {
            let t = self.queues[0].tail;
            if self.node(t).freq == 0 {
                return t;
            }
            self.node_mut(t).freq = 0;
            self.move_head(0, t);
        }
    }

    fn sieve_victim(&mut self) -> u32 {
        let mut i = if self.hand == NIL {
            self.queues[0].tail
        } else {
            self.hand
        };
        while self.node(i).freq != 0 {
            self.node_mut(i).freq = 0;
            i = match self.node(i).prev {
                NIL => self.queues[0].tail,
                p => p,
            };
        }
        // `unlink` moves the hand to the victim's newer neighbour.
        self.hand = i;
        i
    }

    /// S3-FIFO: from the small queue while it holds a tenth of the store
    /// (an entry read there moves to main, its count reset; one never read
    /// leaves, its key to the ghost), else from main (an entry read since it
    /// last passed goes round again, one read fewer).
    fn s3_evict(&mut self) -> Option<(CacheKey, V)> {
        loop {
            let total = self.index.len() as u32;
            let small = self.queues[0];
            if small.len > 0 && (small.len * 10 >= total || self.queues[1].len == 0) {
                let t = small.tail;
                if self.node(t).freq > 0 {
                    self.node_mut(t).freq = 0;
                    self.move_head(1, t);
                    continue;
                }
                let (k, e) = self.remove_node(t);
                let cap = self.index.len();
                self.ghost.push(k, cap);
                return Some((k, e));
            }
            let t = self.queues[1].tail;
            if self.node(t).freq > 0 {
                self.node_mut(t).freq -= 1;
                self.move_head(1, t);
                continue;
            }
            return Some(self.remove_node(t));
        }
    }

    /// W-TinyLFU: when the window holds more than a hundredth of the store,
    /// its oldest entry (the candidate) meets the main part's victim (the
    /// oldest on probation, else the oldest protected) and the one the
    /// sketch estimates less frequent goes (the candidate on a tie); the
    /// survivor stays on probation. Otherwise the main part's victim goes.
    fn tinylfu_victim(&mut self) -> u32 {
        let total = self.index.len() as u32;
        // The first time the store fills, everything is in the window: all
        // but its share goes on probation, oldest first, so there is a main
        // part to duel with.
        if self.queues[1].len + self.queues[2].len == 0 {
            while self.queues[0].len > 1 && self.queues[0].len * 100 > total {
                let t = self.queues[0].tail;
                self.move_head(1, t);
            }
        }
        let window = self.queues[0];
        let main_victim = if self.queues[1].len > 0 {
            self.queues[1].tail
        } else {
            self.queues[2].tail
        };
        if window.len > 0 && (window.len * 100 > total || main_victim == NIL) {
            let cand = window.tail;
            if main_victim == NIL {
                return cand;
            }
            let sketch = self.sketch.as_ref().expect("W-TinyLFU has a sketch");
            let (fc, fv) = (
                sketch.estimate(self.node(cand).key),
                sketch.estimate(self.node(main_victim).key),
            );
            if fc > fv {
                self.move_head(1, cand);
                return main_victim;
            }
            return cand;
        }
        main_victim
    }

    /// Keys of the entries `which` picks.
    pub(super) fn keys_where(&self, which: impl Fn(&V) -> bool) -> Vec<CacheKey> {
        self.nodes
            .iter()
            .flatten()
            .filter(|n| which(&n.entry))
            .map(|n| n.key)
            .collect()
    }
}
