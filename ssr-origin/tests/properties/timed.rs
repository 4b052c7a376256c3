//! Timed traces: requests at given instants whose fetches take given
//! latencies, and purges. One runs on the virtual clock through any
//! [`Runner`] (the real layer or the model), turned into operations by an
//! event queue; on the system clock, with real sleeps ([`run_real`]); or
//! through the simulator's [`SteppedLayer`], driven by an event queue of
//! its own as the simulator drives it ([`run_stepped`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use ttlab_scenarios::{Clock, Micros, SystemClock};
use ttlab_ssr_origin::cache::{
    Answer, CacheLayer, CacheOutcome, Lookup, MemoryStore, Reply, StaleReason, SteppedLayer, Tag,
};

use crate::harness::{
    Config, Counts, FetchResult, Op, Req, Runner, Trace, Val, fetched, library_key, page_size,
    page_tags, served,
};

/// One timed request: when, what, how long its fetch takes and how it ends
/// (if the request fetches at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedReq {
    /// When it arrives, in ticks.
    pub at: u64,
    /// What.
    pub req: Req,
    /// Its fetch's latency, in ticks.
    pub latency: u64,
    /// How its fetch ends.
    pub result: FetchResult,
}

/// A timed trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timed {
    /// Requests in time order.
    pub requests: Vec<TimedReq>,
    /// Purges: (tick, tag).
    pub purges: Vec<(u64, Tag)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Request(u32),
    Purge(Tag),
    Complete(u32),
}

/// Events by instant, at one instant in the order they were queued.
struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
}

impl Queue {
    /// The queue of `t`'s requests (named by their rank in time order) and
    /// purges, a tick being `tick`; and the requests' indices in time order.
    fn of(t: &Timed, tick: Micros) -> (Queue, Vec<usize>) {
        let mut q = Queue {
            heap: BinaryHeap::new(),
            seq: 0,
        };
        let mut order: Vec<usize> = (0..t.requests.len()).collect();
        order.sort_by_key(|i| t.requests[*i].at);
        for (id, i) in order.iter().enumerate() {
            q.push(t.requests[*i].at * tick.0, Ev::Request(id as u32));
        }
        for (at, tag) in &t.purges {
            q.push(at * tick.0, Ev::Purge(*tag));
        }
        (q, order)
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    fn pop(&mut self) -> Option<(u64, Ev)> {
        self.heap.pop().map(|Reverse((at, _, ev))| (at, ev))
    }
}

/// Runs `t` on a virtual clock through `r`, a tick being `tick`: each
/// request at its instant, each fetch completed `latency` after it began
/// (events at one instant in the order they were scheduled: requests and
/// purges first).
pub fn run_virtual<R: Runner>(mut r: R, t: &Timed, tick: Micros) -> Trace {
    let (mut queue, order) = Queue::of(t, tick);
    let mut now = 0;
    let mut scheduled = BTreeSet::new();
    while let Some((at, ev)) = queue.pop() {
        if at > now {
            r.apply(Op::Advance(Micros(at - now)));
            now = at;
        }
        match ev {
            Ev::Request(id) => r.apply(Op::Request(t.requests[order[id as usize]].req)),
            Ev::Purge(tag) => r.apply(Op::Purge(tag)),
            Ev::Complete(id) => {
                let pick = r.parked().iter().position(|p| *p == id).expect("parked");
                let result = t.requests[order[id as usize]].result;
                r.apply(Op::Complete { pick, result });
            }
        }
        for id in r.parked() {
            if scheduled.insert(id) {
                let latency = t.requests[order[id as usize]].latency;
                queue.push(now + latency * tick.0, Ev::Complete(id));
            }
        }
    }
    r.finish()
}

/// What one request got: outcome, stale reason and the request whose fetch
/// built the page; or the error status.
pub type Got = Result<(CacheOutcome, Option<StaleReason>, u32), u16>;

/// What each request of a virtual run got, by request id.
pub fn got(t: &Trace) -> BTreeMap<u32, Got> {
    t.responses
        .iter()
        .map(|r| {
            (
                r.req,
                r.answer
                    .as_ref()
                    .map(|s| (s.outcome, s.reason, s.value.fetch))
                    .map_err(|e| *e),
            )
        })
        .collect()
}

/// The page request `id`'s fetch builds, begun at `start` µs.
fn page_of(id: u32, tr: TimedReq, start: u64) -> Val {
    Val {
        fetch: id,
        page: tr.req.page,
        variants: tr.req.content_variants(),
        version: 0,
        started: Micros(start),
        op: 0,
    }
}

/// What a layer's answer tells of the run.
fn got_of(a: Result<Answer<Val>, u16>) -> Got {
    a.map(|a| (a.outcome, a.stale_reason, a.value.fetch))
}

/// Runs `t` through the simulator's [`SteppedLayer`] on a virtual clock, a
/// tick being `tick`, in the simulator's way: an event queue of requests,
/// purges and fetch completions (at one instant in the order they were
/// queued: requests and purges first, then fetches in the order they
/// began). Each fetch belongs to the request whose lookup, refresh or
/// refetch started it and takes that request's latency and result, as in
/// the other runners. Returns each request's answer and the counters.
pub fn run_stepped(cfg: &Config, t: &Timed, tick: Micros) -> (BTreeMap<u32, Got>, Counts) {
    let mut layer: SteppedLayer<Val, u16> =
        SteppedLayer::new(cfg.windows, cfg.coalesce, cfg.bounds);
    let (mut queue, order) = Queue::of(t, tick);
    let timed = |id: u32| t.requests[order[id as usize]];
    // Fetch id to (the request it belongs to, when it began).
    let mut fetches = BTreeMap::new();
    let mut got = BTreeMap::new();
    while let Some((now, ev)) = queue.pop() {
        let now_us = Micros(now);
        let mut began = Vec::new();
        match ev {
            Ev::Request(id) => {
                let req = timed(id).req;
                if req.bypass {
                    began.push((layer.bypass(now_us, id), id));
                } else {
                    match layer.lookup(now_us, library_key(cfg.strategy, req), id) {
                        Lookup::Hit(a) => {
                            got.insert(id, got_of(Ok(a)));
                        }
                        Lookup::Stale { answer, refresh } => {
                            got.insert(id, got_of(Ok(answer)));
                            began.extend(refresh.map(|f| (f, id)));
                        }
                        Lookup::Waiting => {}
                        Lookup::Fetch(f) => began.push((f, id)),
                    }
                }
            }
            Ev::Purge(tag) => {
                layer.purge(now_us, tag);
            }
            Ev::Complete(f) => {
                let (id, start): (u32, u64) = fetches.remove(&f).expect("a fetch in flight");
                let tr = timed(id);
                let value = page_of(id, tr, start);
                let result = match tr.result {
                    FetchResult::Err => Err(503),
                    _ => Ok(value),
                };
                let cacheable = tr.result == FetchResult::Ok;
                let mut c = layer.complete(now_us, f, result, cacheable, |v| {
                    (
                        page_tags(v.page).into_iter().collect(),
                        u32::try_from(page_size(v.page)).unwrap(),
                    )
                });
                while let Some((who, reply)) = layer.next_reply(now_us, &mut c) {
                    match reply {
                        Reply::Done(a) => {
                            got.insert(who, got_of(a));
                        }
                        Reply::Refetch(f) => began.push((f, who)),
                    }
                }
            }
        }
        for (f, id) in began {
            fetches.insert(f, (id, now));
            queue.push(now + timed(id).latency * tick.0, Ev::Complete(f));
        }
    }
    (got, *layer.counts())
}

/// A real-time run's answers and counters, and how late the latest event
/// ran against its schedule.
pub struct RealRun {
    /// By request id.
    pub got: BTreeMap<u32, Got>,
    /// The layer's counters at the end.
    pub counts: Counts,
    /// The largest delay of an event behind its nominal instant.
    pub lateness: Duration,
}

/// Runs `t` on the system clock, a tick being `tick`: the same layer, the
/// driver sleeping until each event's instant, each fetch sleeping until
/// its nominal end. A fetch's nominal start is its start rounded to the
/// nearest tick, so delays do not add up along a chain of fetches (valid
/// while every delay is under half a tick, which [`RealRun::lateness`]
/// tells).
pub fn run_real(cfg: &Config, t: &Timed, tick: Duration) -> RealRun {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(real(cfg, t, tick))
}

/// When each event ran, against its nominal instant.
#[derive(Default)]
struct Lateness(Mutex<Duration>);

impl Lateness {
    fn note(&self, nominal: u64, now: Micros) {
        let d = Duration::from_micros(now.0.saturating_sub(nominal));
        let mut l = self.0.lock().unwrap();
        *l = (*l).max(d);
    }
}

/// Request `id`'s fetch on the system clock: sleeps until its nominal end.
fn sleeper(
    clock: &Arc<dyn Clock>,
    late: &Arc<Lateness>,
    open: &Arc<Mutex<usize>>,
    base: tokio::time::Instant,
    tick_us: u64,
    id: u32,
    tr: TimedReq,
) -> impl Fn() -> futures::future::BoxFuture<
    'static,
    Result<ttlab_ssr_origin::cache::Fetched<Val>, ttlab_ssr_origin::cache::FillError>,
> + Send
+ Sync
+ 'static {
    let (clock, late, open) = (clock.clone(), late.clone(), open.clone());
    move || {
        let now = clock.now();
        let start = (now.0 + tick_us / 2) / tick_us * tick_us;
        let due = start + tr.latency * tick_us;
        let value = page_of(id, tr, start);
        let (clock, late, open) = (clock.clone(), late.clone(), open.clone());
        *open.lock().unwrap() += 1;
        async move {
            tokio::time::sleep_until(base + Duration::from_micros(due)).await;
            late.note(due, clock.now());
            *open.lock().unwrap() -= 1;
            fetched(value, tr.result)
        }
        .boxed()
    }
}

async fn real(cfg: &Config, t: &Timed, tick: Duration) -> RealRun {
    let base = tokio::time::Instant::now();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::starting_at(base.into_std()));
    let store = Arc::new(MemoryStore::new(cfg.bounds).reclaiming(cfg.windows));
    let layer = Arc::new(CacheLayer::new(cfg.layer_options(), store, clock.clone()));
    let tick_us = Micros::from_duration(tick).0;
    let late = Arc::new(Lateness::default());
    let fetches_open = Arc::new(Mutex::new(0usize));
    let mut order: Vec<usize> = (0..t.requests.len()).collect();
    order.sort_by_key(|i| t.requests[*i].at);
    let mut events: Vec<(u64, Ev)> = order
        .iter()
        .enumerate()
        .map(|(id, i)| (t.requests[*i].at, Ev::Request(id as u32)))
        .chain(t.purges.iter().map(|(at, tag)| (*at, Ev::Purge(*tag))))
        .collect();
    events.sort();
    let mut running = BTreeMap::new();
    for (at, ev) in events {
        let nominal = at * tick_us;
        tokio::time::sleep_until(base + Duration::from_micros(nominal)).await;
        late.note(nominal, clock.now());
        match ev {
            Ev::Request(id) => {
                let tr = t.requests[order[id as usize]];
                let key = (!tr.req.bypass).then(|| library_key(cfg.strategy, tr.req));
                let fetch = sleeper(&clock, &late, &fetches_open, base, tick_us, id, tr);
                let layer = layer.clone();
                let task = match key {
                    Some(k) => tokio::spawn(async move { layer.serve(k, fetch).await }),
                    None => tokio::spawn(async move { layer.bypass(fetch).await }),
                };
                running.insert(id, task);
            }
            Ev::Purge(tag) => {
                layer.purge(tag).await;
            }
            Ev::Complete(_) => unreachable!("fetches complete by themselves"),
        }
    }
    let mut got = BTreeMap::new();
    for (id, task) in running {
        let answer = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("every request is answered within its fetches' latencies")
            .unwrap();
        got.insert(
            id,
            served(answer).map(|s| (s.outcome, s.reason, s.value.fetch)),
        );
    }
    // Background refreshes have no request to wait for: wait for them.
    for _ in 0..3000 {
        if *fetches_open.lock().unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::task::yield_now().await;
    let lateness = *late.0.lock().unwrap();
    RealRun {
        got,
        counts: layer.counters().snapshot(),
        lateness,
    }
}
