//! The world of the layer properties, the trace both runners produce, and
//! the runner of the real caching layer on a virtual clock.
//!
//! A small site: three pages, three experiences with two variants each,
//! four content entries (tags). A request names a page and a visitor's
//! variants; its upstream fetch builds a [`Val`] that says which request
//! fetched it, for which page and variants, from which content versions and
//! when. So every answer can be judged: whose page it is, how old, and
//! whether a purge should have removed it.
//!
//! Upstream fetches do not complete by themselves: each is parked until an
//! [`Op::Complete`] picks it (by request id, so the pick does not depend on
//! the order in which tokio happened to start fetches) and says how it ends.
//! After every operation the runner lets the runtime run until nothing moves
//! ([`settle`]), then records the answers that are complete and the layer's
//! counters and store size.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use ttlab_scenarios::model::KeyScope;
use ttlab_scenarios::{Clock, ManualClock, Micros, VariantSet};
use ttlab_ssr_origin::cache::{
    self, Answer, Bounds, CacheKey, CacheLayer, CacheOutcome, Fetched, FillError, KeyStrategy,
    LayerOptions, LockOutcome, MemoryStore, StaleReason, Tag, Windows,
};

use crate::model::{self, Policy};

/// Pages of the site.
pub const PAGES: u8 = 3;
/// Experiences (each with variants 0 and 1).
pub const EXPERIENCES: usize = 3;
/// Content entries, which are the purge tags.
pub const TAGS: Tag = 4;
/// One unit of virtual time (1 ms). Windows and advances are whole units, so
/// ages land exactly on window boundaries, where `<` and `<=` differ.
pub const U: u64 = 1_000;
/// How long a request waits for another's fill: never, in these tests.
pub const NO_LOCK_TIMEOUT: Duration = Duration::from_secs(3600);

/// The path of page `p`.
pub fn path(p: u8) -> &'static str {
    ["/", "/products/1", "/about"][usize::from(p)]
}

/// The experiences page `p`'s entries have variants for (bit i =
/// experience i). Experience 2 is on no page: keying on it (`all` scope)
/// only splits the cache.
pub fn page_mask(p: u8) -> u64 {
    [0b001, 0b011, 0b000][usize::from(p)]
}

/// The content entries page `p` is built from: its purge tags. Entry 3 is a
/// footer on two pages.
pub fn page_tags(p: u8) -> Vec<Tag> {
    match p {
        0 => vec![0, 3],
        1 => vec![1, 3],
        _ => vec![2],
    }
}

/// Bytes page `p` takes in a store.
pub fn page_size(p: u8) -> u64 {
    u64::from(p) + 1
}

/// One visitor request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Req {
    /// Which page.
    pub page: u8,
    /// The visitor's variant per experience.
    pub variants: [Option<u8>; EXPERIENCES],
    /// Goes around the cache (a per-visitor page or a Personalize fallback).
    pub bypass: bool,
}

impl Req {
    /// The visitor's variants.
    pub fn set(self) -> VariantSet {
        set_of(&self.variants)
    }

    /// What the page's content depends on: the variants of the page's
    /// experiences. An answer built for another projection is someone
    /// else's page.
    pub fn content_variants(self) -> VariantSet {
        self.set().project(page_mask(self.page))
    }
}

/// A variant set from one optional variant per experience.
pub fn set_of(slots: &[Option<u8>]) -> VariantSet {
    let mut s = VariantSet::none(slots.len());
    for (e, v) in slots.iter().enumerate() {
        s.set(e as u16, v.map(u16::from));
    }
    s
}

/// How a parked upstream fetch ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchResult {
    /// A cacheable answer.
    Ok,
    /// An answer that must not be stored or shared (`private`).
    Uncacheable,
    /// The upstream failed (503).
    Err,
}

/// One step of a generated sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A visitor request arrives.
    Request(Req),
    /// The parked fetch at index `pick` (modulo how many are parked, in
    /// request-id order) ends with `result`.
    Complete {
        /// Which parked fetch.
        pick: usize,
        /// How it ends.
        result: FetchResult,
    },
    /// The clock moves forward.
    Advance(Micros),
    /// The layer purges a tag (the publish webhook arrived).
    Purge(Tag),
    /// A content entry is published: fetches from now on see a new version.
    Publish(Tag),
}

/// A layer's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// TTL, SWR, SIE.
    pub windows: Windows,
    /// One fill per key at a time.
    pub coalesce: bool,
    /// What the key varies on.
    pub strategy: KeyStrategy,
    /// The store's bounds.
    pub bounds: Bounds,
}

impl Config {
    /// The layer's options: its windows and lock, and waits that never
    /// time out.
    pub fn layer_options(&self) -> LayerOptions {
        LayerOptions {
            windows: self.windows,
            coalesce: self.coalesce,
            lock_timeout: NO_LOCK_TIMEOUT,
        }
    }
}

/// What an upstream fetch builds: enough to judge any answer carrying it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Val {
    /// The request whose fetch built it.
    pub fetch: u32,
    /// For which page.
    pub page: u8,
    /// For which variants (projected to the page's experiences).
    pub variants: VariantSet,
    /// The page's content version when the fetch began (sum of its entries').
    pub version: u64,
    /// When the fetch began.
    pub started: Micros,
    /// In which operation it began.
    pub op: usize,
}

/// An answer that carried a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// `HIT`, `STALE`, `MISS`, `BYPASS`.
    pub outcome: CacheOutcome,
    /// Why stale.
    pub reason: Option<StaleReason>,
    /// How a miss got its answer.
    pub lock: Option<LockOutcome>,
    /// Age of the answer.
    pub age: Micros,
    /// The page.
    pub value: Val,
}

/// One answered request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Request id.
    pub req: u32,
    /// The operation during which the answer completed.
    pub op: usize,
    /// The clock then.
    pub at: Micros,
    /// The page, or the error status.
    pub answer: Result<Served, u16>,
}

/// One request as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRec {
    /// Request id (its index).
    pub id: u32,
    /// The operation that sent it.
    pub op: usize,
    /// When.
    pub at: Micros,
    /// What.
    pub req: Req,
    /// Its cache key (none for a bypass).
    pub key: Option<CacheKey>,
}

/// One upstream fetch (each request fetches at most once: as a leader, an
/// unlocked filler, a refresher, a released waiter, or around the cache).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRec {
    /// The request whose fetch function ran.
    pub req: u32,
    /// Its key (none for a bypass).
    pub key: Option<CacheKey>,
    /// The operation it began in.
    pub op: usize,
    /// When it began.
    pub started: Micros,
    /// When and how it ended, if it did.
    pub end: Option<(usize, Micros, FetchResult)>,
}

/// The layer's counters, as plain numbers.
pub use ttlab_ssr_origin::cache::LayerCounts as Counts;

/// The state after one operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Entries in the store.
    pub len: usize,
    /// Bytes in the store.
    pub bytes: u64,
    /// The counters.
    pub counts: Counts,
}

/// Everything one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The operations applied, the drain at the end included.
    pub ops: Vec<Op>,
    /// Requests by id.
    pub requests: Vec<RequestRec>,
    /// Answers in (operation, request id) order.
    pub responses: Vec<Response>,
    /// Fetches in the order they began (request-id order within one operation).
    pub fetches: Vec<FetchRec>,
    /// The state after each operation.
    pub after: Vec<Snapshot>,
}

impl Trace {
    /// The request of an answer.
    pub fn request(&self, id: u32) -> &RequestRec {
        &self.requests[id as usize]
    }

    /// The fetch a request made, if any.
    pub fn fetch_of(&self, req: u32) -> Option<&FetchRec> {
        self.fetches.iter().find(|f| f.req == req)
    }

    /// The fetch that ended in operation `op` (at most one does).
    pub fn ended_in(&self, op: usize) -> Option<&FetchRec> {
        self.fetches
            .iter()
            .find(|f| f.end.is_some_and(|(o, _, _)| o == op))
    }

    /// Answers that carried a page, with their request.
    pub fn served(&self) -> impl Iterator<Item = (&Response, &RequestRec, &Served)> {
        self.responses.iter().filter_map(|r| {
            r.answer
                .as_ref()
                .ok()
                .map(|s| (r, &self.requests[r.req as usize], s))
        })
    }
}

/// A key function: what a layer's caller computes from a request.
pub type KeyFn = fn(KeyStrategy, Req) -> CacheKey;

/// The library's key: `cache::key(path, cache::variance(..))`.
pub fn library_key(strategy: KeyStrategy, r: Req) -> CacheKey {
    cache::key(
        path(r.page),
        cache::variance(strategy, None, r.set(), page_mask(r.page)),
    )
}

/// Drains what is still parked at the end of a sequence, so counters can be
/// compared at rest: every parked fetch succeeds, oldest request first.
pub const DRAIN: Op = Op::Complete {
    pick: 0,
    result: FetchResult::Ok,
};

/// Most drain steps (each completes one fetch; a completion starts at most
/// one fetch per waiter, and there are fewer waiters than requests).
pub const MAX_DRAIN: usize = 1_000;

/// A runner of operation sequences: the real layer or the model.
pub trait Runner {
    /// Applies one operation.
    fn apply(&mut self, op: Op);
    /// Requests whose fetch is parked, in id order.
    fn parked(&self) -> Vec<u32>;
    /// Drains parked fetches and returns the trace.
    fn finish(self) -> Trace;
}

/// Applies `ops` and drains.
pub fn run_ops<R: Runner>(mut r: R, ops: &[Op]) -> Trace {
    for op in ops {
        r.apply(*op);
    }
    r.finish()
}

/// Applies the drain while fetches are parked.
pub fn drain<R: Runner>(r: &mut R) {
    for _ in 0..MAX_DRAIN {
        if r.parked().is_empty() {
            break;
        }
        r.apply(DRAIN);
    }
}

/// Enough scheduler rounds for any chain a completion starts (fill task →
/// waiters → their own fills → their fetches) to run to where it waits on a
/// parked fetch again: a chain is at most five rounds long; the margin costs
/// microseconds.
const SETTLE_ROUNDS: usize = 64;

async fn settle() {
    for _ in 0..SETTLE_ROUNDS {
        tokio::task::yield_now().await;
    }
}

#[derive(Default)]
struct Shared {
    op: usize,
    versions: [u64; TAGS as usize],
    parked: BTreeMap<u32, oneshot::Sender<FetchResult>>,
    fetches: Vec<FetchRec>,
}

type Fetch = BoxFuture<'static, Result<Fetched<Val>, FillError>>;

/// The upstream of the layer under test: fetches park until completed, and
/// are recorded.
#[derive(Clone, Default)]
pub struct Upstream(Arc<Mutex<Shared>>);

impl Upstream {
    /// The fetch function of request `id`: builds `req`'s page from the
    /// content as it is when called, then parks until completed.
    pub fn fetcher(
        &self,
        clock: Arc<dyn Clock>,
        id: u32,
        req: Req,
        key: Option<CacheKey>,
    ) -> impl Fn() -> Fetch + Send + Sync + 'static {
        let sh = self.0.clone();
        move || {
            let (rx, value) = {
                let mut s = sh.lock().unwrap();
                let started = clock.now();
                let value = Val {
                    fetch: id,
                    page: req.page,
                    variants: req.content_variants(),
                    version: page_tags(req.page)
                        .iter()
                        .map(|t| s.versions[*t as usize])
                        .sum(),
                    started,
                    op: s.op,
                };
                let (tx, rx) = oneshot::channel();
                s.parked.insert(id, tx);
                let op = s.op;
                s.fetches.push(FetchRec {
                    req: id,
                    key,
                    op,
                    started,
                    end: None,
                });
                (rx, value)
            };
            async move { fetched(value, rx.await.unwrap_or(FetchResult::Err)) }.boxed()
        }
    }

    /// Ends the parked fetch at `pick` (in request-id order), if any.
    pub fn complete(&self, pick: usize, result: FetchResult, op: usize, now: Micros) {
        let mut s = self.0.lock().unwrap();
        if s.parked.is_empty() {
            return;
        }
        let id = *s.parked.keys().nth(pick % s.parked.len()).unwrap();
        let tx = s.parked.remove(&id).unwrap();
        let f = s.fetches.iter_mut().find(|f| f.req == id).unwrap();
        f.end = Some((op, now, result));
        // The receiver lives as long as the fetch: sending cannot fail.
        let _ = tx.send(result);
    }

    /// Requests whose fetch is parked, in id order.
    pub fn parked(&self) -> Vec<u32> {
        self.0.lock().unwrap().parked.keys().copied().collect()
    }
}

/// The upstream's answer for a fetch that ended with `result`.
pub fn fetched(value: Val, result: FetchResult) -> Result<Fetched<Val>, FillError> {
    let page = value.page;
    match result {
        FetchResult::Err => Err(FillError {
            status: 503,
            message: "upstream failed".to_owned(),
        }),
        r => Ok(Fetched::new(
            value,
            r == FetchResult::Ok,
            page_tags(page),
            page_size(page),
        )),
    }
}

/// A layer's answer as a trace records it.
pub fn served(a: Result<Answer<Val>, FillError>) -> Result<Served, u16> {
    a.map(|a| Served {
        outcome: a.outcome,
        reason: a.stale_reason,
        lock: a.lock,
        age: a.age,
        value: a.value,
    })
    .map_err(|e| e.status)
}

type Layer = CacheLayer<Val, MemoryStore<Val>>;

/// The real layer (over the real memory store) on a virtual clock, on a
/// single-threaded runtime that runs only while an operation is applied.
pub struct LayerRun {
    rt: tokio::runtime::Runtime,
    cfg: Config,
    layer: Arc<Layer>,
    store: Arc<MemoryStore<Val>>,
    clock: Arc<ManualClock>,
    upstream: Upstream,
    running: BTreeMap<u32, JoinHandle<Result<Answer<Val>, FillError>>>,
    trace: Trace,
}

impl LayerRun {
    /// A layer with `cfg` over an empty store, at time zero.
    pub fn new(cfg: &Config) -> LayerRun {
        let clock = Arc::new(ManualClock::at(Micros::ZERO));
        let store = Arc::new(MemoryStore::new(cfg.bounds).reclaiming(cfg.windows));
        let layer = Arc::new(CacheLayer::new(
            cfg.layer_options(),
            store.clone(),
            clock.clone(),
        ));
        LayerRun {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap(),
            cfg: *cfg,
            layer,
            store,
            clock,
            upstream: Upstream::default(),
            running: BTreeMap::new(),
            trace: Trace::default(),
        }
    }
}

impl Runner for LayerRun {
    fn apply(&mut self, op: Op) {
        let i = self.trace.ops.len();
        self.trace.ops.push(op);
        self.upstream.0.lock().unwrap().op = i;
        let now = self.clock.now();
        let LayerRun {
            rt,
            cfg,
            layer,
            clock,
            upstream,
            running,
            trace,
            ..
        } = self;
        rt.block_on(async {
            match op {
                Op::Request(req) => {
                    let id = trace.requests.len() as u32;
                    let key = (!req.bypass).then(|| library_key(cfg.strategy, req));
                    trace.requests.push(RequestRec {
                        id,
                        op: i,
                        at: now,
                        req,
                        key,
                    });
                    let fetch = upstream.fetcher(clock.clone(), id, req, key);
                    let layer = layer.clone();
                    let task = match key {
                        Some(k) => tokio::spawn(async move { layer.serve(k, fetch).await }),
                        None => tokio::spawn(async move { layer.bypass(fetch).await }),
                    };
                    running.insert(id, task);
                }
                Op::Complete { pick, result } => upstream.complete(pick, result, i, now),
                Op::Advance(d) => clock.advance(d),
                Op::Purge(tag) => {
                    layer.purge(tag).await;
                }
                Op::Publish(tag) => upstream.0.lock().unwrap().versions[tag as usize] += 1,
            }
            settle().await;
            let done: Vec<u32> = running
                .iter()
                .filter(|(_, h)| h.is_finished())
                .map(|(id, _)| *id)
                .collect();
            for id in done {
                let answer = running.remove(&id).unwrap().await.unwrap();
                trace.responses.push(Response {
                    req: id,
                    op: i,
                    at: clock.now(),
                    answer: served(answer),
                });
            }
        });
        let fetches = self.upstream.0.lock().unwrap().fetches.clone();
        self.trace.fetches = fetches;
        // Fetches that began in one operation began at one instant; their
        // order is tokio's business, so keep them in request-id order.
        self.trace.fetches.sort_by_key(|f| (f.op, f.req));
        self.trace.after.push(Snapshot {
            len: self.store.len(),
            bytes: self.store.bytes(),
            counts: self.layer.counters().snapshot(),
        });
    }

    fn parked(&self) -> Vec<u32> {
        self.upstream.parked()
    }

    fn finish(mut self) -> Trace {
        drain(&mut self);
        self.trace
    }
}

/// Runs `ops` (then the drain) through the real layer with `cfg`.
pub fn run_layer(cfg: &Config, ops: &[Op]) -> Trace {
    run_ops(LayerRun::new(cfg), ops)
}

/// Runs `ops` through the real layer and the reference model, and requires
/// the two to agree on everything: each answer, fetch, counter and store size.
pub fn run_both(cfg: &Config, ops: &[Op]) -> Result<Trace, TestCaseError> {
    let real = run_layer(cfg, ops);
    let reference = model::run(&Policy::REFERENCE, cfg, ops);
    agree(&real, &reference)?;
    Ok(real)
}

/// The first difference between two traces, as a test failure.
pub fn agree(real: &Trace, reference: &Trace) -> Result<(), TestCaseError> {
    prop_assert_eq!(&real.ops, &reference.ops, "the drain differs");
    for (i, _) in real.ops.iter().enumerate() {
        let at = |t: &Trace| -> Vec<Response> {
            t.responses.iter().filter(|r| r.op == i).cloned().collect()
        };
        prop_assert_eq!(
            at(real),
            at(reference),
            "answers after op {} ({:?}): layer vs model",
            i,
            real.ops[i]
        );
        let began = |t: &Trace| -> Vec<FetchRec> {
            t.fetches.iter().filter(|f| f.op == i).cloned().collect()
        };
        prop_assert_eq!(
            began(real),
            began(reference),
            "fetches begun in op {} ({:?}): layer vs model",
            i,
            real.ops[i]
        );
        prop_assert_eq!(
            real.after[i],
            reference.after[i],
            "state after op {} ({:?}): layer vs model",
            i,
            real.ops[i]
        );
    }
    prop_assert_eq!(&real.requests, &reference.requests);
    Ok(())
}

/// The key strategies of variant-keyed layers.
pub fn variant_strategies() -> [KeyStrategy; 2] {
    [
        KeyStrategy::UrlVariants(KeyScope::All),
        KeyStrategy::UrlVariants(KeyScope::Page),
    ]
}

/// A [`Val`] as the Redis store keeps it, so the contention property runs
/// over Redis too: fixed-width fields, then the variant slots.
impl cache::Codec for Val {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.fetch.to_be_bytes());
        out.push(self.page);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.started.0.to_be_bytes());
        out.extend_from_slice(&(self.op as u64).to_be_bytes());
        out.push(self.variants.len() as u8);
        out.extend_from_slice(self.variants.as_slots());
    }

    fn decode(b: &[u8]) -> Result<Self, cache::redis_store::CodecError> {
        let bad = || cache::redis_store::CodecError(format!("{} bytes for a Val", b.len()));
        if b.len() < 30 || b.len() != 30 + usize::from(b[29]) {
            return Err(bad());
        }
        let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let mut variants = VariantSet::none(usize::from(b[29]));
        for (e, slot) in b[30..].iter().enumerate() {
            let v = slot.checked_sub(1).map(u16::from);
            variants.set(u16::try_from(e).map_err(|_| bad())?, v);
        }
        Ok(Val {
            fetch: u32::from_be_bytes(b[0..4].try_into().expect("4 bytes")),
            page: b[4],
            version: u64_at(5),
            started: Micros(u64_at(13)),
            op: usize::try_from(u64_at(21)).map_err(|_| bad())?,
            variants,
        })
    }
}
