//! The reference model: the caching layer's rules written as plainly as
//! possible, with no concurrency — a vector of entries in eviction order,
//! a map of fills in flight, and one function per operation.
//!
//! It is written from `docs/architecture.md` and `docs/decisions.md`, not from the
//! layer's code: fresh while age < ttl; stale with a background refresh
//! while age < ttl + swr; stale on an upstream error while age < ttl + sie
//! (judged when the error arrives, on what the store holds then); one fill
//! per key when coalescing, whose cacheable answer its waiters share and
//! whose failed or private answer sends each waiter to fetch for itself;
//! a store that refuses a fill begun at or before a purge of one of its
//! tags and never replaces an entry fetched later with one fetched earlier;
//! least recently used out; and reclaiming — an entry older than ttl + the
//! longer stale window can never be served again, so a put that finds a
//! sweep due (one lifetime after the last sweep) first drops every such
//! entry.
//!
//! A [`Policy`] names each rule, so a test can break one (freshness with
//! `<=`, a key that drops a variant, FIFO eviction, …) and show that the
//! property guarding it fails.

use std::collections::BTreeMap;

use ttlab_scenarios::Micros;
use ttlab_ssr_origin::cache::{CacheKey, CacheOutcome, LockOutcome, StaleReason, Tag, Windows};

use crate::harness::{
    Config, Counts, FetchRec, FetchResult, KeyFn, Op, Req, RequestRec, Response, Runner, Served,
    Snapshot, TAGS, Trace, Val, drain, library_key, page_size, page_tags, run_ops,
};

/// How servable an entry of some age is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Servable {
    /// Serve it (`HIT`).
    Fresh,
    /// Serve it (`STALE`) and refresh in the background.
    Revalidate,
    /// Fetch; serve it only if the fetch fails.
    OnErrorOnly,
    /// Fetch.
    Expired,
}

/// The freshness rule, as `docs/architecture.md` states it.
pub fn reference_freshness(age: Micros, w: Windows) -> Servable {
    let (age, ttl, swr, sie) = (age.0, w.ttl.0, w.swr.0, w.sie.0);
    if age < ttl {
        Servable::Fresh
    } else if age < ttl.saturating_add(swr) {
        Servable::Revalidate
    } else if age < ttl.saturating_add(sie) {
        Servable::OnErrorOnly
    } else {
        Servable::Expired
    }
}

/// How long after it was stored an entry can still be served in some case:
/// the TTL, then the longer of the two stale windows.
pub fn reference_lifetime(w: Windows) -> Micros {
    Micros(w.ttl.0.saturating_add(w.swr.0.max(w.sie.0)))
}

/// How a store orders entries for eviction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Least recently used (read or written) goes first.
    Lru,
    /// First stored goes first; reads do not count.
    Fifo,
}

/// What a store does with entries that can never be served again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reclaim {
    /// A put that finds a sweep due (one lifetime after the last) drops them.
    Sweep,
    /// Keeps them until they are replaced, evicted or purged.
    Never,
}

/// How a purge bars fills that raced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barrier {
    /// A fill that began at or before the purge is not stored.
    AtOrBefore,
    /// Only fills that began strictly before the purge are refused.
    StrictlyBefore,
    /// No barrier: a fill that raced the purge stores its old page.
    None,
}

/// The rules of the model, each of which a test may break.
#[derive(Clone, Copy)]
pub struct Policy {
    /// The freshness rule.
    pub freshness: fn(Micros, Windows) -> Servable,
    /// The key rule.
    pub key: KeyFn,
    /// Whether the layer's `coalesce` option is honoured.
    pub coalesce: bool,
    /// Whether a put keeps an entry fetched later than the one offered.
    pub keep_newer: bool,
    /// The purge barrier.
    pub barrier: Barrier,
    /// Whether a failed fill with nothing stale to serve counts as a miss.
    pub count_failed_fills: bool,
    /// Entries allowed above `max_entries` before evicting (0 is right).
    pub entry_slack: u64,
    /// The eviction order.
    pub eviction: Eviction,
    /// What the store does with entries past their lifetime.
    pub reclaim: Reclaim,
}

impl Policy {
    /// The rules as designed.
    pub const REFERENCE: Policy = Policy {
        freshness: reference_freshness,
        key: library_key,
        coalesce: true,
        keep_newer: true,
        barrier: Barrier::AtOrBefore,
        count_failed_fills: true,
        entry_slack: 0,
        eviction: Eviction::Lru,
        reclaim: Reclaim::Sweep,
    };
}

#[derive(Clone, Debug)]
struct Entry {
    key: CacheKey,
    value: Val,
    stored_at: Micros,
    fetched_at: Micros,
    tags: Vec<Tag>,
    size: u64,
}

/// Someone waiting for a fill's answer.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    req: u32,
    /// `Waited` for a shared fill; otherwise the fetch is the waiter's own.
    lock: Option<LockOutcome>,
    /// A stale entry may answer if the fill fails.
    stale_on_error: bool,
}

#[derive(Clone, Debug)]
struct Fill {
    key: Option<CacheKey>,
    /// Listed as the key's fill in flight (coalescing and refresh).
    registered: bool,
    /// A fetch around the cache.
    bypass: bool,
    value: Val,
    waiters: Vec<Waiter>,
}

/// The model's state.
pub struct Model {
    p: Policy,
    cfg: Config,
    now: Micros,
    op: usize,
    versions: [u64; TAGS as usize],
    /// Eviction order: the front goes first.
    store: Vec<Entry>,
    purged_at: BTreeMap<Tag, Micros>,
    /// When the next sweep of entries past their lifetime is due.
    next_sweep: Micros,
    inflight: BTreeMap<CacheKey, u64>,
    fills: BTreeMap<u64, Fill>,
    next_fill: u64,
    /// Parked fetches: request id to fill.
    parked: BTreeMap<u32, u64>,
    counts: Counts,
    trace: Trace,
}

impl Model {
    /// A model with policy `p` and configuration `cfg`, empty, at time zero.
    pub fn new(p: &Policy, cfg: &Config) -> Model {
        Model {
            p: *p,
            cfg: *cfg,
            now: Micros::ZERO,
            op: 0,
            versions: [0; TAGS as usize],
            store: Vec::new(),
            purged_at: BTreeMap::new(),
            next_sweep: Micros::ZERO,
            inflight: BTreeMap::new(),
            fills: BTreeMap::new(),
            next_fill: 0,
            parked: BTreeMap::new(),
            counts: Counts::default(),
            trace: Trace::default(),
        }
    }
}

/// Runs `ops` (then the drain) through the model with policy `p`.
pub fn run(p: &Policy, cfg: &Config, ops: &[Op]) -> Trace {
    run_ops(Model::new(p, cfg), ops)
}

impl Runner for Model {
    fn apply(&mut self, op: Op) {
        self.trace.ops.push(op);
        let first = self.trace.responses.len();
        match op {
            Op::Request(r) => self.request(r),
            Op::Complete { pick, result } => self.complete(pick, result),
            Op::Advance(d) => self.now = self.now.saturating_add(d),
            Op::Purge(tag) => self.purge(tag),
            Op::Publish(tag) => self.versions[tag as usize] += 1,
        }
        self.trace.responses[first..].sort_by_key(|r| r.req);
        self.trace.fetches.sort_by_key(|f| (f.op, f.req));
        self.trace.after.push(Snapshot {
            len: self.store.len(),
            bytes: self.store.iter().map(|e| e.size).sum(),
            counts: self.counts,
        });
        self.op += 1;
    }

    fn parked(&self) -> Vec<u32> {
        self.parked.keys().copied().collect()
    }

    fn finish(mut self) -> Trace {
        drain(&mut self);
        self.trace
    }
}

impl Model {
    fn respond(&mut self, req: u32, answer: Result<Served, u16>) {
        self.trace.responses.push(Response {
            req,
            op: self.op,
            at: self.now,
            answer,
        });
    }

    fn age(&self, e: &Entry) -> Micros {
        self.now.saturating_sub(e.stored_at)
    }

    fn request(&mut self, r: Req) {
        let id = self.trace.requests.len() as u32;
        let key = (!r.bypass).then(|| (self.p.key)(self.cfg.strategy, r));
        self.trace.requests.push(RequestRec {
            id,
            op: self.op,
            at: self.now,
            req: r,
            key,
        });
        let Some(key) = key else {
            self.counts.bypass += 1;
            let w = Waiter {
                req: id,
                lock: None,
                stale_on_error: false,
            };
            self.start_fill(None, false, true, id, vec![w]);
            return;
        };
        let entry = self.get(key);
        let fresh = entry
            .as_ref()
            .map(|e| (self.p.freshness)(self.age(e), self.cfg.windows));
        match (entry, fresh) {
            (Some(e), Some(Servable::Fresh)) => {
                self.counts.hits += 1;
                let age = self.age(&e);
                self.respond(id, Ok(served(CacheOutcome::Hit, None, None, age, e.value)));
            }
            (Some(e), Some(Servable::Revalidate)) => {
                if !self.inflight.contains_key(&key) {
                    self.start_fill(Some(key), true, false, id, Vec::new());
                    self.counts.refreshes += 1;
                }
                self.counts.stale += 1;
                let age = self.age(&e);
                let reason = Some(StaleReason::Revalidating);
                self.respond(
                    id,
                    Ok(served(CacheOutcome::Stale, reason, None, age, e.value)),
                );
            }
            (_, fresh) => {
                let stale_on_error = fresh == Some(Servable::OnErrorOnly);
                let coalesce = self.cfg.coalesce && self.p.coalesce;
                if let (true, Some(fill)) = (coalesce, self.inflight.get(&key)) {
                    let w = Waiter {
                        req: id,
                        lock: Some(LockOutcome::Waited),
                        stale_on_error,
                    };
                    self.fills.get_mut(fill).unwrap().waiters.push(w);
                    return;
                }
                let lock = if coalesce {
                    LockOutcome::Leader
                } else {
                    LockOutcome::Unlocked
                };
                let w = Waiter {
                    req: id,
                    lock: Some(lock),
                    stale_on_error,
                };
                self.start_fill(Some(key), coalesce, false, id, vec![w]);
            }
        }
    }

    /// Request `req`'s fetch begins.
    fn start_fill(
        &mut self,
        key: Option<CacheKey>,
        registered: bool,
        bypass: bool,
        req: u32,
        waiters: Vec<Waiter>,
    ) {
        self.counts.upstream_fetches += 1;
        let r = self.trace.requests[req as usize].req;
        let value = Val {
            fetch: req,
            page: r.page,
            variants: r.content_variants(),
            version: page_tags(r.page)
                .iter()
                .map(|t| self.versions[*t as usize])
                .sum(),
            started: self.now,
            op: self.op,
        };
        let id = self.next_fill;
        self.next_fill += 1;
        if let (true, Some(k)) = (registered, key) {
            self.inflight.insert(k, id);
        }
        self.fills.insert(
            id,
            Fill {
                key,
                registered,
                bypass,
                value,
                waiters,
            },
        );
        self.parked.insert(req, id);
        self.trace.fetches.push(FetchRec {
            req,
            key,
            op: self.op,
            started: self.now,
            end: None,
        });
    }

    fn complete(&mut self, pick: usize, result: FetchResult) {
        if self.parked.is_empty() {
            return;
        }
        let (&req, &id) = self.parked.iter().nth(pick % self.parked.len()).unwrap();
        self.parked.remove(&req);
        let f = self
            .trace
            .fetches
            .iter_mut()
            .find(|f| f.req == req)
            .unwrap();
        f.end = Some((self.op, self.now, result));
        let fill = self.fills.remove(&id).unwrap();
        if fill.bypass {
            let answer = if result == FetchResult::Err {
                self.counts.fill_errors += 1;
                Err(503)
            } else {
                Ok(served(
                    CacheOutcome::Bypass,
                    None,
                    None,
                    Micros::ZERO,
                    fill.value,
                ))
            };
            self.respond(req, answer);
            return;
        }
        match (result, fill.key) {
            (FetchResult::Ok, Some(k)) => self.put(Entry {
                key: k,
                value: fill.value.clone(),
                stored_at: self.now,
                fetched_at: fill.value.started,
                tags: page_tags(fill.value.page),
                size: page_size(fill.value.page),
            }),
            (FetchResult::Err, _) => self.counts.fill_errors += 1,
            _ => {}
        }
        if let (true, Some(k)) = (fill.registered, fill.key)
            && self.inflight.get(&k) == Some(&id)
        {
            self.inflight.remove(&k);
        }
        for w in &fill.waiters {
            self.answer(*w, &fill, result);
        }
    }

    /// Answers one waiter of a fill that ended with `result`.
    fn answer(&mut self, w: Waiter, fill: &Fill, result: FetchResult) {
        if w.lock == Some(LockOutcome::Waited) {
            if result == FetchResult::Ok {
                self.counts.coalesced += 1;
                self.counts.misses += 1;
                let v = fill.value.clone();
                let s = served(CacheOutcome::Miss, None, w.lock, Micros::ZERO, v);
                self.respond(w.req, Ok(s));
            } else {
                // Not ours to use: fetch for ourselves, unlisted.
                let own = Waiter {
                    lock: Some(LockOutcome::Released),
                    ..w
                };
                self.start_fill(fill.key, false, false, w.req, vec![own]);
            }
            return;
        }
        let answer = match result {
            FetchResult::Ok => {
                self.counts.misses += 1;
                let v = fill.value.clone();
                Ok(served(CacheOutcome::Miss, None, w.lock, Micros::ZERO, v))
            }
            FetchResult::Uncacheable => {
                self.counts.bypass += 1;
                let v = fill.value.clone();
                Ok(served(CacheOutcome::Bypass, None, w.lock, Micros::ZERO, v))
            }
            FetchResult::Err => {
                // Stale-if-error, judged now, on what the store holds now.
                let fallback = match (w.stale_on_error, fill.key) {
                    (true, Some(k)) => self.get(k).filter(|e| self.servable_on_error(e)),
                    _ => None,
                };
                match fallback {
                    Some(e) => {
                        self.counts.stale += 1;
                        self.counts.stale_if_error += 1;
                        let age = self.age(&e);
                        let reason = Some(StaleReason::UpstreamError);
                        Ok(served(CacheOutcome::Stale, reason, w.lock, age, e.value))
                    }
                    None => {
                        if self.p.count_failed_fills {
                            self.counts.misses += 1;
                        }
                        Err(503)
                    }
                }
            }
        };
        self.respond(w.req, answer);
    }

    fn servable_on_error(&self, e: &Entry) -> bool {
        let w = self.cfg.windows;
        (self.p.freshness)(self.age(e), w) == Servable::Fresh
            || self.age(e).0 < w.ttl.0.saturating_add(w.sie.0)
    }

    /// A lookup: the entry, marked recently used.
    fn get(&mut self, key: CacheKey) -> Option<Entry> {
        let i = self.store.iter().position(|e| e.key == key)?;
        if self.p.eviction == Eviction::Lru {
            let e = self.store.remove(i);
            self.store.push(e);
            return self.store.last().cloned();
        }
        Some(self.store[i].clone())
    }

    fn put(&mut self, e: Entry) {
        if self.p.reclaim == Reclaim::Sweep && self.now >= self.next_sweep {
            let lifetime = reference_lifetime(self.cfg.windows);
            self.next_sweep = self.now.saturating_add(lifetime);
            let now = self.now;
            self.store
                .retain(|x| now.saturating_sub(x.stored_at) < lifetime);
        }
        let barred = e.tags.iter().any(|t| {
            self.purged_at.get(t).is_some_and(|p| match self.p.barrier {
                Barrier::AtOrBefore => e.fetched_at <= *p,
                Barrier::StrictlyBefore => e.fetched_at < *p,
                Barrier::None => false,
            })
        });
        if barred {
            return;
        }
        let old = self.store.iter().position(|x| x.key == e.key);
        if let Some(i) = old
            && self.p.keep_newer
            && self.store[i].fetched_at > e.fetched_at
        {
            return;
        }
        let b = self.cfg.bounds;
        if b.max_bytes.is_some_and(|m| e.size > m) {
            return;
        }
        match (old, self.p.eviction) {
            (Some(i), Eviction::Fifo) => self.store[i] = e,
            (Some(i), Eviction::Lru) => {
                self.store.remove(i);
                self.store.push(e);
            }
            (None, _) => self.store.push(e),
        }
        if b.max_entries
            .is_some_and(|m| self.store.len() as u64 > m + self.p.entry_slack)
        {
            self.store.remove(0);
            self.counts.evicted += 1;
        }
        while b
            .max_bytes
            .is_some_and(|m| self.store.iter().map(|e| e.size).sum::<u64>() > m)
        {
            self.store.remove(0);
            self.counts.evicted += 1;
        }
    }

    fn purge(&mut self, tag: Tag) {
        let barrier = self.purged_at.entry(tag).or_insert(self.now);
        *barrier = (*barrier).max(self.now);
        let before = self.store.len();
        self.store.retain(|e| !e.tags.contains(&tag));
        self.counts.purged += (before - self.store.len()) as u64;
    }
}

fn served(
    outcome: CacheOutcome,
    reason: Option<StaleReason>,
    lock: Option<LockOutcome>,
    age: Micros,
    value: Val,
) -> Served {
    Served {
        outcome,
        reason,
        lock,
        age,
        value,
    }
}
