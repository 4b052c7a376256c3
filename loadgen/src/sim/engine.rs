//! The discrete-event engine of one architecture.
//!
//! The caching layer is the cache library's [`SteppedLayer`]: the real
//! layer's decisions (lookup, the cache lock, SWR, SIE, purge) as a state
//! machine driven by this queue's events, tested answer for answer against
//! the real layer on the system clock (property 7 of the suite in
//! `ssr-origin/tests/properties`). This file adds what lies around it:
//! arrivals, Personalize, the origin's fetches and renders, judging.
//!
//! Built for speed (the target: millions of simulated requests a second on one
//! core): requests live in a slab and are named by `u32` in the event
//! queue, the cache stores interned page ids, distributions are prepared
//! once, and the truth is read through the checker's per-visitor memo. A
//! request in the steady state allocates nothing.

use std::cmp::Reverse;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use dary_heap::QuaternaryHeap;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use ttlab_reports::{ArchReport, ArrivalCounts, LayerReport, OriginLoad, StoreOutage};
use ttlab_scenarios::model::{
    ArchitectureConfig, CachePolicy, EntryIdx, PageIdx, Scenario, replica_of,
};
use ttlab_scenarios::topology::PersonalizeAt;
use ttlab_scenarios::upstream::{FaultOutcome, Sampler, TokenBucket};
use ttlab_scenarios::world::{EventKind, VisitorIdx};
use ttlab_scenarios::{Micros, VariantSet, World};
use ttlab_ssr_origin::cache::stated;
use ttlab_ssr_origin::cache::{
    self, Bounds, CacheOutcome, Completion, FetchId, KeyStrategy, LayerCounts, Lookup, Polled,
    Purged, Reply, Slab, SteppedLayer, Windows,
};

use super::control::SimControl;
use super::pages::{PageId, PageSizer, Pages, Served};
use crate::check::{Checker, TruthMemo, judge_in_order};
use crate::live::{Live, load_since};
use crate::record::Recorder;
use crate::report::arch_report;
use crate::schedule::Schedule;
use crate::script::{PagePicker, Session};

/// "No such request / no user": the end of a waiter list, an open-loop request.
const NONE: u32 = u32::MAX;

/// Most entries a simulated layer holds when its scenario sets no bounds.
/// Servers default to [`cache::DEFAULT_MAX_ENTRIES`] with an LRU map from
/// the start; the simulator keeps its plain map (no recency list on its hot
/// path) up to this ceiling, which no shipped scenario reaches (none makes
/// more than 20,000 requests to one architecture; every stored entry took
/// one), and 1,000,000 entries of a page id are about 100 MB.
pub const SIM_MAX_ENTRIES: u64 = 1_000_000;

/// The caching layer of `arch` on the virtual clock: the scenario's bounds
/// and eviction policy when it sets any bound (the servers' store), else a store held to
/// [`SIM_MAX_ENTRIES`]; both reclaim entries past their lifetime.
///
/// Under `policy = "http"` a CDN or edge takes its windows from what the
/// origin states in its headers, read back by the same parser the servers
/// run (`stated::followed`); the second value is false when those headers
/// let it store nothing.
fn sim_layer(arch: &ArchitectureConfig, s: &Scenario) -> (SteppedLayer<PageId, u16>, bool) {
    let c = &arch.cache;
    let bounds = Bounds {
        max_entries: c.max_entries,
        max_bytes: c.max_bytes,
        eviction: c.eviction,
    };
    let mut windows: Windows = c.into();
    let mut stores = true;
    let front_caches = arch.topology().front.is_some_and(|f| f.key.is_some());
    if c.policy == CachePolicy::Http && front_caches {
        match stated::followed(windows) {
            Some(w) => windows = w,
            None => stores = false,
        }
    }
    let layer = SteppedLayer::new(windows, c.coalesce, bounds);
    let layer = if bounds.any() {
        layer
    } else {
        layer.with_ceiling(SIM_MAX_ENTRIES)
    };
    let replicas = u16::try_from(layer_replicas(arch)).unwrap_or(u16::MAX);
    let layer = layer
        .with_replicas(replicas)
        .with_store_outages(s.store_outages_of(arch));
    (layer, stores)
}

/// How many layers hold `arch`'s cache, each over the shared store with
/// its own in-process state: every origin replica's where the origin
/// caches (visitors spread over them by [`replica_of`]), the one CDN or
/// edge otherwise.
fn layer_replicas(arch: &ArchitectureConfig) -> u32 {
    if arch.topology().front.is_some() {
        1
    } else {
        arch.cache.origin_replicas.max(1)
    }
}

/// One visitor request in flight.
#[derive(Clone, Copy, Debug)]
struct Req {
    visitor: VisitorIdx,
    page: PageIdx,
    sent: Micros,
    /// Closed loop: the goose-like user (`NONE` for open-loop arrivals) and
    /// its think time after this view.
    user: u32,
    think: Micros,
    /// The visitor's variants as Personalize answered (before the cache), or
    /// `None` when the call failed (fallback) or is made later (CDN).
    variants: Option<VariantSet>,
    /// Personalize failed before the cache: serve base content.
    fallback: bool,
}

/// What happens at an instant; requests and fills are named by slab index.
#[derive(Clone, Copy, Debug)]
enum Ev {
    /// Closed loop: user `u` sends its next page view.
    UserTurn(u32),
    /// A request reaches the caching layer (after Personalize, where that comes first).
    Lookup(u32),
    /// An upstream fetch of the layer's completes (the origin rendered, or
    /// failed with a status); `cacheable` when it may be stored and shared.
    FillDone {
        fetch: FetchId,
        result: Result<PageId, u16>,
        cacheable: bool,
    },
    /// A publish webhook purges pages built from an entry.
    Purge(EntryIdx),
    /// A purge the store failed is tried again; `at` is the publish's
    /// instant, the purge's barrier.
    PurgeRetry { entry: EntryIdx, at: Micros },
    /// A fetch waiting for another origin replica's fill lock polls it;
    /// `req` (in `polling`) is the request it would fetch for.
    LockPoll { fetch: FetchId, req: u32 },
}

/// A queued event: ordered by time, then by when it was queued, packed as
/// `time << 64 | seq` so that ordering is one integer compare.
struct Queued(u128, Ev);

impl Queued {
    fn at(&self) -> Micros {
        Micros((self.0 >> 64) as u64)
    }
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

#[derive(Clone, Copy, Default)]
/// The origin's load (the layer counts its own outcomes).
struct Counts {
    origin_requests: u64,
    renders: u64,
    personalize_calls: u64,
    delivery_calls: u64,
}

/// The scenario's distributions, prepared once.
struct Samplers {
    personalize: Sampler,
    delivery: Sampler,
    render: Sampler,
}

/// Each upstream's rate limit on simulated time: the very token bucket the
/// mocks keep on the run clock, so a burst of misses that the real mock
/// answers with 429 fails here too.
struct Buckets {
    personalize: Option<TokenBucket>,
    delivery: Option<TokenBucket>,
}

impl Buckets {
    /// Whether a call at `t` finds the API's bucket empty (it is answered
    /// 429 at once).
    fn limited(bucket: &mut Option<TokenBucket>, t: Micros) -> bool {
        bucket.as_mut().is_some_and(|b| b.try_take(t).is_err())
    }
}

/// Where each architecture asks Personalize, and who counts as the origin:
/// the [`Topology`]'s answers, read once per run.
#[derive(Clone, Copy)]
struct Shape {
    /// Personalize is asked before the cache (the origin or the edge keys on variants).
    personalize_first: bool,
    /// Every visitor request reaches the origin (its cache is inside).
    origin_sees_all: bool,
    /// The origin behind a CDN asks Personalize when it renders.
    personalize_on_fill: bool,
}

struct Sim<'w> {
    world: &'w World,
    s: &'w Scenario,
    arch: &'w ArchitectureConfig,
    shape: Shape,
    strategy: Option<KeyStrategy>,
    /// The caching layer's name in reports (with `strategy`, from the topology).
    cache_name: Option<&'static str>,
    samplers: Samplers,
    buckets: Buckets,
    rng: Pcg64Mcg,
    queue: QuaternaryHeap<Reverse<Queued>>,
    /// Events known before the run starts (publish purges), latest first:
    /// popped from the end beside the queue, in the order their keys give,
    /// so they do not deepen the queue every request goes through.
    planned: Vec<Queued>,
    seq: u64,
    /// Open loop: the planned visits (Poisson arrivals or a trace), popped
    /// beside the queue.
    schedule: Option<Schedule>,
    /// Visits the schedule gave out (all sent: the simulator's pool has no bound).
    visits: u64,
    layer: SteppedLayer<PageId, u16>,
    /// Whether the layer may store pages at all (see [`sim_layer`]).
    stores: bool,
    /// Origin replicas holding the layer, each with its own in-process
    /// state over the shared store (see [`layer_replicas`]).
    layer_replicas: u32,
    reqs: Slab<Req>,
    /// What fetches waiting for a replica's fill lock would fetch for (a
    /// refresh's request is answered meanwhile).
    polling: Slab<Req>,
    pages: Pages,
    /// Scratch for a fill's entries.
    served: Vec<Served>,
    counts: Counts,
    recorder: Recorder,
    checker: Checker<&'w World>,
    memo: TruthMemo,
    picker: PagePicker,
    /// Closed-loop users (ids `0..users`) and open visits with pages left.
    sessions: Slab<Session>,
    control: Option<&'w SimControl>,
    /// Where frames go, and this architecture's index there.
    live: Option<(&'w Live, usize)>,
    /// The virtual µs at which the next frame is due (`u64::MAX` without a
    /// sink: then the loop's check never fires).
    next_frame: u64,
    /// The virtual µs at which warm-up ends and the counters are read
    /// (`u64::MAX` once read, or without warm-up).
    warm_at: u64,
    /// `min(next_frame, warm_at)`: the one compare per event.
    next_check: u64,
    /// The counters when warm-up ended, taken off the headline ones.
    warm: (Counts, LayerCounts),
    /// Counts at the last frame, to count one second's worth.
    framed: (Counts, LayerCounts),
    /// The virtual time simulated: the scenario's duration, or where a stop
    /// (Ctrl-C) cut it short — the report's `elapsed_s`.
    ran_until: Micros,
}

/// Simulates one architecture of the world's scenario.
pub fn simulate_arch(world: &Arc<World>, arch: &ArchitectureConfig) -> ArchReport {
    simulate_arch_with(world, arch, None)
}

/// [`simulate_arch`] under `control`: adds the virtual microseconds it
/// simulates to its progress as it goes, and stops early (reporting what
/// ran) when asked to.
pub fn simulate_arch_with(
    world: &Arc<World>,
    arch: &ArchitectureConfig,
    control: Option<&SimControl>,
) -> ArchReport {
    simulate_arch_live(world, arch, control, None)
}

/// [`simulate_arch_with`], publishing one frame per virtual second into
/// `live` as architecture number `live.1`.
pub(super) fn simulate_arch_live(
    world: &Arc<World>,
    arch: &ArchitectureConfig,
    control: Option<&SimControl>,
    live: Option<(&Live, usize)>,
) -> ArchReport {
    let w: &World = world;
    let s = w.scenario();
    let topology = arch.topology();
    let strategy = topology.cache_key();
    let shape = Shape {
        personalize_first: matches!(topology.personalize_at, PersonalizeAt::BeforeLookup),
        origin_sees_all: topology.origin_sees_every_request(),
        personalize_on_fill: matches!(topology.personalize_at, PersonalizeAt::OnFill),
    };
    let checker = Checker::new(w);
    let memo = checker.memo();
    let warmup_s = ttlab_reports::markers::warmup_seconds(s.warmup);
    let mut recorder = Recorder::default().warming(warmup_s);
    if live.is_some() {
        recorder.start_tap();
    }
    let (layer, stores) = sim_layer(arch, s);
    let mut sim = Sim {
        world: w,
        s,
        arch,
        shape,
        strategy,
        cache_name: topology.cache_name(),
        samplers: Samplers {
            personalize: s.faults.personalize.latency.sampler(),
            delivery: s.faults.delivery.latency.sampler(),
            render: s.origin.render_time.sampler(),
        },
        buckets: Buckets {
            personalize: s.faults.personalize.rate_limit.map(TokenBucket::new),
            delivery: s.faults.delivery.rate_limit.map(TokenBucket::new),
        },
        rng: Pcg64Mcg::seed_from_u64(s.seed ^ 0x5173_0001),
        queue: QuaternaryHeap::new(),
        planned: Vec::new(),
        seq: 0,
        schedule: Schedule::of(w),
        visits: 0,
        layer,
        stores,
        layer_replicas: layer_replicas(arch),
        reqs: Slab::new(),
        polling: Slab::new(),
        // Pages are weighed only where bytes are bounded: nothing else
        // reads their size.
        pages: if arch.cache.max_bytes.is_some() {
            Pages::sized(PageSizer::new(world.clone(), arch))
        } else {
            Pages::default()
        },
        served: Vec::new(),
        counts: Counts::default(),
        recorder,
        checker,
        memo,
        picker: PagePicker::new(s),
        sessions: Slab::new(),
        control,
        live,
        next_frame: if live.is_some() { 1_000_000 } else { u64::MAX },
        warm_at: match warmup_s {
            0 => u64::MAX,
            w => w as u64 * 1_000_000,
        },
        next_check: 0,
        warm: (Counts::default(), LayerCounts::default()),
        framed: (Counts::default(), LayerCounts::default()),
        ran_until: s.duration,
    };
    sim.run();
    sim.report()
}

impl Sim<'_> {
    fn push(&mut self, at: Micros, ev: Ev) {
        let q = self.queued(at, ev);
        self.queue.push(Reverse(q));
    }

    /// `ev` at `at`, numbered: its place among events of the same instant.
    fn queued(&mut self, at: Micros, ev: Ev) -> Queued {
        self.seq += 1;
        Queued(u128::from(at.0) << 64 | u128::from(self.seq), ev)
    }

    /// The instant of the next queued or planned event.
    fn next_queued_at(&self) -> Option<Micros> {
        let queued = self.queue.peek().map(|Reverse(q)| q.0);
        let planned = self.planned.last().map(|q| q.0);
        let key = match (queued, planned) {
            (Some(q), Some(p)) => q.min(p),
            (q, p) => q.or(p)?,
        };
        Some(Micros((key >> 64) as u64))
    }

    /// The next queued or planned event (keys are unique: one order).
    fn pop_queued(&mut self) -> Option<Queued> {
        match (self.queue.peek(), self.planned.last()) {
            (Some(Reverse(q)), Some(p)) if p.0 < q.0 => self.planned.pop(),
            (None, Some(_)) => self.planned.pop(),
            _ => self.queue.pop().map(|Reverse(q)| q),
        }
    }

    /// The origin load of the second `t` falls in, in the recorder's
    /// series (bounded like the rest of it).
    fn load_at(&mut self, t: Micros) -> &mut OriginLoad {
        &mut self.recorder.series.at((t.0 / 1_000_000) as usize).origin
    }

    fn run(&mut self) {
        if let Some(users) = self.s.traffic.users() {
            for u in 0..users {
                let id = self.sessions.insert(Session::new(self.world, u, users));
                // Users start evenly over the first second, as goose starts them.
                let start = Micros(u64::from(u) * 1_000_000 / u64::from(users.max(1)));
                self.push(start, Ev::UserTurn(id));
            }
        }
        if self.arch.arch.caches() && self.arch.cache.purge_on_publish {
            let publishes: Vec<(Micros, EntryIdx)> = self
                .world
                .events()
                .iter()
                .filter_map(|e| match e.kind {
                    EventKind::Publish { entry, .. } => Some((e.at, entry)),
                    _ => None,
                })
                .collect();
            for (at, entry) in publishes {
                let q = self.queued(at, Ev::Purge(entry));
                self.planned.push(q);
            }
            self.planned.sort_unstable_by_key(|q| Reverse(q.0));
        }
        // Progress in virtual time, published every few thousand events.
        let mut reported = Micros::ZERO;
        let mut steps = 0u32;
        let end = self.s.duration;
        if self.control.is_some_and(SimControl::stopped) {
            // Stopped before this architecture began: it simulated nothing.
            self.ran_until = Micros::ZERO;
            self.last_frame();
            return;
        }
        loop {
            // Open-loop arrivals form their own ordered stream beside the
            // queue (one less queue operation per request); at a tie the
            // queued event goes first, as it was queued earlier.
            if let Some(a) = self.schedule.as_ref().and_then(Schedule::peek)
                && self.next_queued_at().is_none_or(|q| a < q)
            {
                if a.0 >= self.next_check {
                    self.checkpoints(a);
                }
                self.arrival();
                continue;
            }
            let Some(q) = self.pop_queued() else {
                break;
            };
            let (t, ev) = (q.at(), q.1);
            if t.0 >= self.next_check {
                self.checkpoints(t);
            }
            match ev {
                Ev::UserTurn(u) => self.user_turn(t, u),
                Ev::Lookup(r) => self.lookup(t, r),
                Ev::FillDone {
                    fetch,
                    result,
                    cacheable,
                } => self.fill_done(t, fetch, result, cacheable),
                // One replica gets the webhook and purges the shared store.
                Ev::Purge(entry) => self.purge(t, entry, t),
                Ev::PurgeRetry { entry, at } => self.purge(t, entry, at),
                Ev::LockPoll { fetch, req } => self.lock_poll(t, fetch, req),
            }
            steps += 1;
            if steps == 4096 {
                steps = 0;
                if let Some(c) = self.control {
                    let now = t.min(end).max(reported);
                    c.progress.fetch_add(now.0 - reported.0, Ordering::Relaxed);
                    reported = now;
                    while c.paused() && !c.stopped() {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    if c.stopped() {
                        self.ran_until = now;
                        self.last_frame();
                        return;
                    }
                }
            }
        }
        if let Some(c) = self.control {
            c.progress
                .fetch_add(end.0.saturating_sub(reported.0), Ordering::Relaxed);
        }
        self.last_frame();
    }

    /// Purges pages built from `entry` at `t`, for a publish at `at`; a
    /// purge the store failed is tried again when the layer says.
    fn purge(&mut self, t: Micros, entry: EntryIdx, at: Micros) {
        if let Purged::Retry(next) = self.layer.purge_on(0, t, entry, at) {
            self.push(next, Ev::PurgeRetry { entry, at });
        }
    }

    /// Fetch `f`, waiting for another replica's fill lock, polls at `t`:
    /// again later, runs for `req`, or answers its waiters with the entry
    /// the other replica stored.
    fn lock_poll(&mut self, t: Micros, f: FetchId, req: u32) {
        match self.layer.poll(t, f) {
            Polled::Again(at) => self.push(at, Ev::LockPoll { fetch: f, req }),
            Polled::Run => {
                let r = self.polling.remove(req);
                self.fetch(t, r, f);
            }
            Polled::Found(mut done) => {
                self.polling.remove(req);
                self.answer_waiters(t, &mut done);
            }
        }
    }

    /// What falls due when `t` crosses `next_check`: the end of warm-up
    /// (the counters read) and the live view's frames.
    #[cold]
    fn checkpoints(&mut self, t: Micros) {
        if t.0 >= self.warm_at {
            self.warm = (self.counts, *self.layer.counts());
            self.warm_at = u64::MAX;
        }
        if t.0 >= self.next_frame {
            self.frames_until(t);
        }
        self.next_check = self.next_frame.min(self.warm_at);
    }

    /// Publishes a frame for every second that ended at or before `t`
    /// (events come in time order, so those seconds are complete). Called
    /// only when `t` crosses `next_frame`: once per virtual second.
    #[cold]
    fn frames_until(&mut self, t: Micros) {
        let Some((live, arch)) = self.live else {
            return;
        };
        while t.0 >= self.next_frame {
            let second = (self.next_frame / 1_000_000 - 1) as u32;
            let tap = self.recorder.take_tap().unwrap_or_default();
            let (c, l) = (self.counts, *self.layer.counts());
            let (before, before_l) = self.framed;
            let origin = |c: &Counts| OriginLoad {
                requests: c.origin_requests,
                renders: c.renders,
                personalize_calls: c.personalize_calls,
                delivery_calls: c.delivery_calls,
            };
            let frame = tap.into_frame(
                arch,
                second,
                load_since(&origin(&c), &origin(&before)),
                self.strategy.map(|_| l.since(&before_l)),
            );
            live.push(frame);
            self.framed = (c, l);
            self.next_frame += 1_000_000;
        }
    }

    /// Publishes the second in progress when the run ends or stops.
    fn last_frame(&mut self) {
        if self.live.is_some() {
            self.frames_until(Micros(self.next_frame));
        }
    }

    /// The next planned visit arrives: its first page view, and the rest of
    /// its pages as turns of a slot that is freed after the last.
    fn arrival(&mut self) {
        let Some(visit) = self
            .schedule
            .as_mut()
            .and_then(|s| s.next_visit(self.world))
        else {
            return;
        };
        self.visits += 1;
        let mut session = visit.session;
        let (visitor, page, think) = session.next(self.world, &self.picker);
        let user = if session.left() > 0 {
            self.sessions.insert(session)
        } else {
            NONE
        };
        self.request(visit.at, visitor, page, user, think);
    }

    fn user_turn(&mut self, t: Micros, u: u32) {
        if t >= self.s.duration {
            return;
        }
        let session = &mut self.sessions[u];
        let (visitor, page, think) = session.next(self.world, &self.picker);
        let user = if session.left() == 0 && self.s.traffic.users().is_none() {
            // An open visit's last page: its slot is free for the next.
            self.sessions.remove(u);
            NONE
        } else {
            u
        };
        self.request(t, visitor, page, user, think);
    }

    /// A visitor request at `t`: Personalize first where the architecture
    /// asks it before the cache, then the lookup.
    fn request(&mut self, t: Micros, visitor: VisitorIdx, page: PageIdx, user: u32, think: Micros) {
        let mut req = Req {
            visitor,
            page,
            sent: t,
            user,
            think,
            variants: None,
            fallback: false,
        };
        if self.shape.origin_sees_all {
            self.counts.origin_requests += 1;
            self.load_at(t).requests += 1;
        }
        let mut at = t;
        if self.shape.personalize_first {
            let (lat, variants) = self.personalize(t, visitor);
            at = Micros(t.0 + lat.0);
            req.fallback = variants.is_none();
            req.variants = variants;
        }
        let r = self.reqs.insert(req);
        self.push(at, Ev::Lookup(r));
    }

    /// A Personalize call at `t`: its latency (within the origin's budget)
    /// and the variants, or `None` when it failed or ran out of budget.
    fn personalize(&mut self, t: Micros, visitor: VisitorIdx) -> (Micros, Option<VariantSet>) {
        self.counts.personalize_calls += 1;
        self.load_at(t).personalize_calls += 1;
        let f = &self.s.faults.personalize;
        let budget = self.s.origin.personalize_timeout;
        if Buckets::limited(&mut self.buckets.personalize, t) {
            // Rate limited: a 429 at once, and the fallback.
            return (Micros::ZERO, None);
        }
        let lat = self.samplers.personalize.sample(&mut self.rng);
        match f.decide(t, self.rng.random()) {
            FaultOutcome::Pass if lat < budget => {
                let answered = Micros(t.0 + lat.0);
                let truth = self
                    .checker
                    .variants_memo(&mut self.memo, visitor, answered);
                (lat, Some(truth))
            }
            FaultOutcome::Error(_) if lat < budget => (lat, None),
            _ => (budget, None),
        }
    }

    fn lookup(&mut self, t: Micros, r: u32) {
        let req = self.reqs[r];
        let page = &self.s.content.pages[req.page as usize];
        // No cache, or a request a shared key must not store (fallbacks and
        // per-visitor pages, which the origin marks private): around the
        // cache, the origin renders it.
        let strategy = match self.strategy {
            Some(s) if !(req.fallback || page.visitor_fragment && s.shared()) => s,
            _ => {
                let f = self.layer.bypass(t, r);
                self.fetch(t, req, f);
                return;
            }
        };
        // Only a per-visitor key reads the uid (the visitor list is large).
        let uid = matches!(strategy, KeyStrategy::UrlVisitor).then(|| self.world.uid(req.visitor));
        let uid = uid.as_ref().map(ttlab_scenarios::world::Uid::as_str);
        let variants = req
            .variants
            .unwrap_or_else(|| VariantSet::none(self.s.experiences.len()));
        let mask = self.world.page_experience_mask(req.page);
        let key = cache::key(&page.path, cache::variance(strategy, uid, variants, mask));
        let replica = replica_of(req.visitor, self.layer_replicas) as u16;
        match self.layer.lookup_on(replica, t, key, r) {
            Lookup::Hit(a) => self.respond(t, r, Ok(a.value), true),
            Lookup::Stale { answer, refresh } => {
                // The refresh renders what this request would have.
                if let Some(f) = refresh {
                    self.fetch(t, req, f);
                }
                self.respond(t, r, Ok(answer.value), true);
            }
            Lookup::Waiting => {}
            Lookup::Fetch(f) => self.fetch(t, req, f),
        }
    }

    /// Runs the layer's fetch `f` for `req` at `t`: the origin renders its
    /// page (asking Personalize first behind a CDN), and the fetch completes
    /// when the slowest Delivery call and the render are done.
    fn fetch(&mut self, t: Micros, req: Req, f: FetchId) {
        if let Some(at) = self.layer.lock_poll_at(f) {
            // Another replica fills the key: poll its lock first.
            let p = self.polling.insert(req);
            self.push(at, Ev::LockPoll { fetch: f, req: p });
            return;
        }
        let mut lat = Micros::ZERO;
        let mut variants = req.variants;
        let mut fallback = req.fallback;
        if !self.shape.origin_sees_all {
            self.counts.origin_requests += 1;
            self.load_at(t).requests += 1;
        }
        if self.shape.personalize_on_fill {
            // The origin behind the CDN asks Personalize for the requester.
            let (took, answer) = self.personalize(t, req.visitor);
            lat = took;
            fallback = answer.is_none();
            variants = answer;
        }
        let none = VariantSet::none(self.s.experiences.len());
        let projected = variants
            .unwrap_or(none)
            .project(self.world.page_experience_mask(req.page));
        let page = &self.s.content.pages[req.page as usize];
        let delivery = &self.s.faults.delivery;
        let budget = self.s.origin.delivery_timeout;
        let fetch_at = Micros(t.0 + lat.0);
        let mut slowest = Micros::ZERO;
        let mut failed = None;
        self.served.clear();
        for e in &page.entries {
            if Buckets::limited(&mut self.buckets.delivery, fetch_at) {
                // Rate limited: a 429 at once fails the page.
                failed.get_or_insert(FaultOutcome::Error(429).visitor_status().expect("an error"));
                let served = self.world.served_variant(*e, &projected);
                self.served
                    .push((*e, served, self.world.entry_version(*e, served, fetch_at)));
                continue;
            }
            let drawn = self.samplers.delivery.sample(&mut self.rng);
            let outcome = delivery
                .decide(fetch_at, self.rng.random())
                .within(drawn, budget);
            if let Some(status) = outcome.visitor_status() {
                failed.get_or_insert(status);
            }
            let took = if outcome == FaultOutcome::Timeout {
                budget
            } else {
                drawn
            };
            slowest = slowest.max(took);
            let served = self.world.served_variant(*e, &projected);
            self.served.push((
                *e,
                served,
                self.world
                    .entry_version(*e, served, Micros(fetch_at.0 + took.0)),
            ));
        }
        let delivery_calls = page.entries.len() as u64;
        self.counts.delivery_calls += delivery_calls;
        self.load_at(t).delivery_calls += delivery_calls;
        lat = Micros(lat.0 + slowest.0);
        let visitor_fragment = page.visitor_fragment;
        let result = match failed {
            Some(status) => Err(status),
            None => {
                self.counts.renders += 1;
                self.load_at(t).renders += 1;
                lat = Micros(lat.0 + self.samplers.render.sample(&mut self.rng).0);
                let greets = visitor_fragment.then_some(req.visitor);
                let checker = &self.checker;
                let mask = self.world.page_experience_mask(req.page);
                Ok(self
                    .pages
                    .intern(req.page, &projected, &self.served, greets, fallback, |e| {
                        checker.page_facts(e, projected, mask)
                    }))
            }
        };
        let cacheable = self.stores && !fallback && !visitor_fragment && result.is_ok();
        self.push(
            Micros(t.0 + lat.0),
            Ev::FillDone {
                fetch: f,
                result,
                cacheable,
            },
        );
    }

    /// Fetch `f` completed at `t`: the layer stores a cacheable page and
    /// says what each waiting request gets.
    fn fill_done(&mut self, t: Micros, f: FetchId, result: Result<PageId, u16>, cacheable: bool) {
        let pages = &self.pages;
        let mut done = self.layer.complete(t, f, result, cacheable, |p| {
            (
                pages.entries(*p).iter().map(|e| e.0).collect(),
                pages.size(*p),
            )
        });
        self.answer_waiters(t, &mut done);
    }

    /// Answers each request waiting on a completed fetch at `t`.
    fn answer_waiters(&mut self, t: Micros, done: &mut Completion<PageId, u16>) {
        while let Some((r, reply)) = self.layer.next_reply(t, done) {
            match reply {
                Reply::Done(Ok(a)) => {
                    let from_cache = matches!(a.outcome, CacheOutcome::Hit | CacheOutcome::Stale);
                    self.respond(t, r, Ok(a.value), from_cache);
                }
                Reply::Done(Err(status)) => self.respond(t, r, Err(status), false),
                // The page it waited for was not for sharing: it fetches itself.
                Reply::Refetch(again) => self.fetch(t, self.reqs[r], again),
            }
        }
    }

    /// Answers request `r` at `at`, judges and records it, and frees it.
    fn respond(&mut self, at: Micros, r: u32, page: Result<PageId, u16>, from_cache: bool) {
        let req = self.reqs.remove(r);
        let pages = &self.pages;
        let verdict = judge_in_order(
            page,
            |p| {
                pages
                    .visitor(*p)
                    .is_some_and(|v| v != req.visitor)
                    .then_some(std::borrow::Cow::Borrowed("page carries another visitor"))
            },
            |p| pages.fallback(*p),
            |p| {
                self.checker.judge_served_memo(
                    &mut self.memo,
                    req.visitor,
                    req.sent,
                    at,
                    pages.entries(p),
                    pages.facts(p),
                )
            },
        );
        self.recorder.record(
            (at.0 / 1_000_000) as usize,
            verdict.class,
            at.saturating_sub(req.sent).0,
            from_cache,
            verdict.staleness.map(|s| s.0),
        );
        if req.user != NONE {
            self.push(Micros(at.0 + req.think.0), Ev::UserTurn(req.user));
        }
    }

    fn report(self) -> ArchReport {
        let series = &self.recorder.series;
        tracing::debug!(
            arch = self.arch.arch.as_str(),
            points = series.buckets().len(),
            width_s = series.width_s(),
            bytes = series.heap_bytes(),
            bytes_per_point = series.heap_bytes() / series.buckets().len().max(1),
            "series held"
        );
        // Headline counts leave warm-up out (`warm` is zero without one).
        let (c, w) = (&self.counts, &self.warm.0);
        let origin = OriginLoad {
            requests: c.origin_requests - w.origin_requests,
            renders: c.renders - w.renders,
            personalize_calls: c.personalize_calls - w.personalize_calls,
            delivery_calls: c.delivery_calls - w.delivery_calls,
        };
        let outages = self.layer.store_outages();
        let modelled_store = !self.s.store_outages_of(self.arch).is_empty();
        let layer = self.cache_name.map(|name| {
            let mut l = LayerReport::new(name, self.layer.counts().since(&self.warm.1));
            if modelled_store {
                l.backend = Some("redis".to_owned());
            }
            l.store_outages = outages
                .iter()
                .map(|o| StoreOutage {
                    from_s: o.from.as_secs_f64(),
                    until_s: o.until.map(Micros::as_secs_f64),
                })
                .collect();
            l
        });
        let mut report = arch_report(
            self.arch.arch.as_str(),
            &self.recorder,
            origin,
            layer,
            self.ran_until.to_duration(),
            None,
            // The origin load per second is in the recorder's series.
            &[],
        );
        report.arrivals = self.schedule.is_some().then_some(ArrivalCounts {
            planned: self.visits,
            dropped: 0,
            pool: None,
        });
        report
    }
}
