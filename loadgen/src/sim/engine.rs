//! The discrete-event engine of one architecture.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use ttlab_reports::{ArchReport, LayerReport, OriginLoad};
use ttlab_scenarios::model::{
    Architecture, ArchitectureConfig, EntryIdx, PageIdx, Scenario, VariantRef,
};
use ttlab_scenarios::upstream::FaultOutcome;
use ttlab_scenarios::world::{EventKind, VisitorIdx};
use ttlab_scenarios::{Micros, VariantSet, World};
use ttlab_ssr_origin::cache::{
    self, Bounds, CacheKey, Decision, KeyStrategy, MemoryStore, PutOutcome, Stored, Windows,
};

use crate::check::{Checker, Class, Judgement};
use crate::record::Recorder;
use crate::run::{Cpu, arch_report};
use crate::script::{PagePicker, Session};

/// A page as a layer stores it: what it was built from.
#[derive(Debug)]
struct Page {
    /// (entry, served variant, version) per entry.
    entries: Vec<(EntryIdx, Option<VariantRef>, u32)>,
    /// The visitor a per-visitor page greets.
    visitor: Option<VisitorIdx>,
    /// Base content because Personalize failed.
    fallback: bool,
}

/// One visitor request in flight.
#[derive(Clone, Debug)]
struct Req {
    visitor: VisitorIdx,
    page: PageIdx,
    sent: Micros,
    /// Closed loop: the goose-like user and its think time after this view.
    user: Option<(u32, Micros)>,
    /// The visitor's variants as Personalize answered (before the cache), or
    /// `None` when the call failed (fallback) or is made later (CDN).
    variants: Option<VariantSet>,
    /// Personalize failed before the cache: serve base content.
    fallback: bool,
}

#[derive(Debug)]
enum Ev {
    /// Closed loop: user `u` sends its next page view.
    UserTurn(u32),
    /// Open loop: the next Poisson arrival.
    Arrival,
    /// A request reaches the caching layer (after Personalize, where that comes first).
    Lookup(Req),
    /// A fill or refresh completes.
    FillDone(u64),
    /// A publish webhook purges pages built from an entry.
    Purge(EntryIdx),
}

struct Queued(Micros, u64, Ev);

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
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
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

/// A fill or refresh in flight.
struct Fill {
    key: Option<CacheKey>,
    started: Micros,
    result: Result<Arc<Page>, u16>,
    cacheable: bool,
    /// Requests waiting for it (the leader first), each with whether a stale
    /// entry may answer if it fails.
    waiters: Vec<(Req, bool)>,
    registered: bool,
}

#[derive(Default)]
struct Counts {
    hit: u64,
    stale: u64,
    miss: u64,
    bypass: u64,
    coalesced: u64,
    purged: u64,
    evicted: u64,
    origin_requests: u64,
    renders: u64,
    personalize_calls: u64,
    delivery_calls: u64,
}

struct Sim<'w> {
    world: &'w World,
    s: &'w Scenario,
    arch: &'w ArchitectureConfig,
    windows: Windows,
    strategy: Option<KeyStrategy>,
    rng: Pcg64Mcg,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    store: MemoryStore<Arc<Page>>,
    inflight: HashMap<CacheKey, u64>,
    fills: HashMap<u64, Fill>,
    next_fill: u64,
    counts: Counts,
    recorder: Recorder,
    checker: Checker<&'w World>,
    pages: PagePicker,
    sessions: Vec<Session>,
    /// Origin load per second of virtual time.
    load: Vec<OriginLoad>,
}

/// Simulates one architecture of the world's scenario.
pub fn simulate_arch(world: &Arc<World>, arch: &ArchitectureConfig) -> ArchReport {
    let w: &World = world;
    let s = w.scenario();
    let strategy = match arch.arch {
        Architecture::NoCache => None,
        Architecture::CdnShared => Some(KeyStrategy::Url),
        Architecture::CdnUser => Some(KeyStrategy::UrlVisitor),
        Architecture::OriginVariant | Architecture::Edge => {
            Some(KeyStrategy::UrlVariants(arch.cache.key_scope))
        }
    };
    let mut sim = Sim {
        world: w,
        s,
        arch,
        windows: (&arch.cache).into(),
        strategy,
        rng: Pcg64Mcg::seed_from_u64(s.seed ^ 0x5173_0001),
        queue: BinaryHeap::new(),
        seq: 0,
        store: MemoryStore::new(Bounds {
            max_entries: arch.cache.max_entries,
            max_bytes: arch.cache.max_bytes,
        }),
        inflight: HashMap::new(),
        fills: HashMap::new(),
        next_fill: 0,
        counts: Counts::default(),
        recorder: Recorder::default(),
        checker: Checker::new(w),
        pages: PagePicker::new(s),
        sessions: Vec::new(),
        load: Vec::new(),
    };
    sim.run();
    sim.report()
}

impl Sim<'_> {
    fn push(&mut self, at: Micros, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued(at, self.seq, ev)));
    }

    fn load_at(&mut self, t: Micros) -> &mut OriginLoad {
        let i = (t.0 / 1_000_000) as usize;
        if self.load.len() <= i {
            self.load.resize(i + 1, OriginLoad::default());
        }
        &mut self.load[i]
    }

    fn run(&mut self) {
        match (self.s.traffic.arrival_rate, self.s.traffic.users) {
            (Some(_), _) => self.push(Micros::ZERO, Ev::Arrival),
            (None, Some(users)) => {
                for u in 0..users {
                    self.sessions.push(Session::new(self.world, u, users));
                    // Users start evenly over the first second, as goose starts them.
                    let start = Micros(u64::from(u) * 1_000_000 / u64::from(users.max(1)));
                    self.push(start, Ev::UserTurn(u));
                }
            }
            (None, None) => {}
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
                self.push(at, Ev::Purge(entry));
            }
        }
        while let Some(Reverse(Queued(t, _, ev))) = self.queue.pop() {
            match ev {
                Ev::UserTurn(u) => self.user_turn(t, u),
                Ev::Arrival => self.arrival(t),
                Ev::Lookup(req) => self.lookup(t, req),
                Ev::FillDone(id) => self.fill_done(t, id),
                Ev::Purge(entry) => {
                    let n = self.store.purge_now(entry, t);
                    self.counts.purged += n as u64;
                }
            }
        }
    }

    fn arrival(&mut self, t: Micros) {
        if t >= self.s.duration {
            return;
        }
        let rate = self.s.traffic.arrival_rate.expect("open loop");
        let visitor = self.rng.random_range(0..self.s.traffic.visitors);
        let page = self.pages.pick(self.rng.random());
        self.request(t, visitor, page, None);
        let gap = -(1.0 - self.rng.random::<f64>()).ln() / rate;
        self.push(
            Micros(t.0 + Micros::from_secs_f64(gap).0.max(1)),
            Ev::Arrival,
        );
    }

    fn user_turn(&mut self, t: Micros, u: u32) {
        if t >= self.s.duration {
            return;
        }
        let (visitor, page, think) = self.sessions[u as usize].next(self.world, &self.pages);
        self.request(t, visitor, page, Some((u, think)));
    }

    /// A visitor request at `t`: Personalize first where the architecture
    /// asks it before the cache, then the lookup.
    fn request(
        &mut self,
        t: Micros,
        visitor: VisitorIdx,
        page: PageIdx,
        user: Option<(u32, Micros)>,
    ) {
        let mut req = Req {
            visitor,
            page,
            sent: t,
            user,
            variants: None,
            fallback: false,
        };
        let personalize_first = matches!(
            self.arch.arch,
            Architecture::NoCache | Architecture::OriginVariant | Architecture::Edge
        );
        if matches!(
            self.arch.arch,
            Architecture::NoCache | Architecture::OriginVariant
        ) {
            self.counts.origin_requests += 1;
            self.load_at(t).requests += 1;
        }
        let mut at = t;
        if personalize_first {
            let (lat, variants) = self.personalize(t, visitor);
            at = Micros(t.0 + lat.0);
            req.fallback = variants.is_none();
            req.variants = variants;
        }
        self.push(at, Ev::Lookup(req));
    }

    /// A Personalize call at `t`: its latency (within the origin's budget)
    /// and the variants, or `None` when it failed or ran out of budget.
    fn personalize(&mut self, t: Micros, visitor: VisitorIdx) -> (Micros, Option<VariantSet>) {
        self.counts.personalize_calls += 1;
        self.load_at(t).personalize_calls += 1;
        let f = &self.s.faults.personalize;
        let budget = self.s.origin.personalize_timeout;
        let lat = f.latency.sample(&mut self.rng);
        match f.decide(t, self.rng.random()) {
            FaultOutcome::Pass if lat < budget => {
                let answered = Micros(t.0 + lat.0);
                (lat, Some(self.world.variants_of(visitor, answered)))
            }
            FaultOutcome::Error(_) if lat < budget => (lat, None),
            _ => (budget, None),
        }
    }

    fn lookup(&mut self, t: Micros, req: Req) {
        let page = &self.s.content.pages[req.page as usize];
        let Some(strategy) = self.strategy else {
            // No cache: the origin renders every request.
            self.start_fill(t, None, req, false);
            return;
        };
        // Requests a shared key must not store go around the cache: fallbacks
        // and per-visitor pages (the origin marks them private).
        if req.fallback || (page.visitor_fragment && strategy.shared()) {
            self.start_fill(t, None, req, false);
            return;
        }
        let uid = self.world.visitors()[req.visitor as usize].uid.as_str();
        let variants = req
            .variants
            .unwrap_or_else(|| VariantSet::none(self.s.experiences.len()));
        let mask = self.world.page_experience_mask(req.page);
        let key = cache::key(
            &page.path,
            cache::variance(strategy, Some(uid), variants, mask),
        );
        let entry = self.store.get_now(key);
        match cache::decide(entry.as_ref().map(|e| e.stored_at), t, self.windows) {
            Decision::Hit => {
                let e = entry.expect("a hit has an entry");
                self.counts.hit += 1;
                self.respond(t, &req, &Ok(e.value.clone()), true);
            }
            Decision::ServeStaleAndRefresh => {
                let e = entry.expect("stale has an entry");
                self.counts.stale += 1;
                if !self.inflight.contains_key(&key) {
                    let refresh = Req {
                        user: None,
                        ..req.clone()
                    };
                    self.start_fill(t, Some(key), refresh, true);
                }
                self.respond(t, &req, &Ok(e.value.clone()), true);
            }
            Decision::Fill { stale_on_error } => {
                if self.arch.cache.coalesce {
                    if let Some(id) = self.inflight.get(&key).copied() {
                        self.counts.coalesced += 1;
                        self.fills
                            .get_mut(&id)
                            .expect("in flight")
                            .waiters
                            .push((req, stale_on_error));
                        return;
                    }
                }
                let id = self.start_fill(t, Some(key), req, false);
                if let Some(f) = self.fills.get_mut(&id) {
                    f.waiters[0].1 = stale_on_error;
                }
            }
        }
    }

    /// Starts an upstream fill for `req` (the origin renders its page);
    /// `key` is where a cacheable result goes. A refresh answers nobody.
    fn start_fill(&mut self, t: Micros, key: Option<CacheKey>, req: Req, refresh: bool) -> u64 {
        let id = self.next_fill;
        self.next_fill += 1;
        let mut lat = Micros::ZERO;
        let mut variants = req.variants;
        let mut fallback = req.fallback;
        if !matches!(
            self.arch.arch,
            Architecture::NoCache | Architecture::OriginVariant
        ) {
            self.counts.origin_requests += 1;
            self.load_at(t).requests += 1;
        }
        if matches!(
            self.arch.arch,
            Architecture::CdnShared | Architecture::CdnUser
        ) {
            // The origin behind the CDN asks Personalize for the requester.
            let (l, v) = self.personalize(t, req.visitor);
            lat = l;
            fallback = v.is_none();
            variants = v;
        }
        let none = VariantSet::none(self.s.experiences.len());
        let projected = variants
            .unwrap_or(none)
            .project(self.world.page_experience_mask(req.page));
        let page = &self.s.content.pages[req.page as usize];
        let d = &self.s.faults.delivery;
        let budget = self.s.origin.delivery_timeout;
        let fetch_at = Micros(t.0 + lat.0);
        let mut slowest = Micros::ZERO;
        let mut failed = None;
        let mut entries = Vec::with_capacity(page.entries.len());
        for e in &page.entries {
            self.counts.delivery_calls += 1;
            let l = d.latency.sample(&mut self.rng);
            let outcome = d.decide(fetch_at, self.rng.random());
            let l = match outcome {
                FaultOutcome::Pass if l < budget => l,
                FaultOutcome::Error(s) if l < budget => {
                    failed.get_or_insert(if s == 429 || s >= 500 { 503 } else { 502 });
                    l
                }
                _ => {
                    failed.get_or_insert(504);
                    budget
                }
            };
            slowest = slowest.max(l);
            let served = self.world.served_variant(*e, &projected);
            entries.push((
                *e,
                served,
                self.world
                    .entry_version(*e, served, Micros(fetch_at.0 + l.0)),
            ));
        }
        let delivery_calls = page.entries.len() as u64;
        self.load_at(t).delivery_calls += delivery_calls;
        lat = Micros(lat.0 + slowest.0);
        let result = match failed {
            Some(status) => Err(status),
            None => {
                self.counts.renders += 1;
                self.load_at(t).renders += 1;
                lat = Micros(lat.0 + self.s.origin.render_time.sample(&mut self.rng).0);
                let greets = page.visitor_fragment.then_some(req.visitor);
                Ok(Arc::new(Page {
                    entries,
                    visitor: greets,
                    fallback,
                }))
            }
        };
        let cacheable = !fallback && !page.visitor_fragment && result.is_ok();
        let registered = key.is_some() && (self.arch.cache.coalesce || refresh);
        if let (Some(k), true) = (key, registered) {
            self.inflight.insert(k, id);
        }
        let waiters = if refresh {
            Vec::new()
        } else {
            vec![(req, false)]
        };
        self.fills.insert(
            id,
            Fill {
                key,
                started: t,
                result,
                cacheable,
                waiters,
                registered,
            },
        );
        self.push(Micros(t.0 + lat.0), Ev::FillDone(id));
        id
    }

    fn fill_done(&mut self, t: Micros, id: u64) {
        let fill = self.fills.remove(&id).expect("a started fill");
        if let (Some(k), true) = (fill.key, fill.registered) {
            if self.inflight.get(&k) == Some(&id) {
                self.inflight.remove(&k);
            }
        }
        match &fill.result {
            Ok(page) if fill.cacheable => {
                if let Some(k) = fill.key {
                    let stored = Stored {
                        value: page.clone(),
                        stored_at: t,
                        fetched_at: fill.started,
                        tags: page.entries.iter().map(|e| e.0).collect(),
                        size: 1,
                    };
                    if let PutOutcome::Stored { evicted } = self.store.put_now(k, stored) {
                        self.counts.evicted += evicted as u64;
                    }
                }
                for (req, _) in &fill.waiters {
                    if fill.key.is_some() {
                        self.counts.miss += 1;
                    } else {
                        self.counts.bypass += 1;
                    }
                    self.respond(t, req, &Ok(page.clone()), false);
                }
            }
            Ok(page) => {
                // Not for sharing: the leader takes it, waiters fetch themselves.
                for (i, (req, _)) in fill.waiters.into_iter().enumerate() {
                    if i == 0 {
                        self.counts.bypass += 1;
                        self.respond(t, &req, &Ok(page.clone()), false);
                    } else {
                        self.start_fill(t, None, req, false);
                    }
                }
            }
            Err(status) => {
                for (req, stale_on_error) in &fill.waiters {
                    let fallback = fill
                        .key
                        .filter(|_| *stale_on_error)
                        .and_then(|k| self.store.get_now(k))
                        .filter(|e| {
                            cache::freshness(e.stored_at, t, self.windows).servable_on_error()
                        });
                    match fallback {
                        Some(e) => {
                            self.counts.stale += 1;
                            self.respond(t, req, &Ok(e.value.clone()), true);
                        }
                        None => {
                            if fill.key.is_some() {
                                self.counts.miss += 1;
                            } else {
                                self.counts.bypass += 1;
                            }
                            self.respond(t, req, &Err(*status), false);
                        }
                    }
                }
            }
        }
    }

    fn respond(&mut self, at: Micros, req: &Req, page: &Result<Arc<Page>, u16>, from_cache: bool) {
        let verdict = match page {
            Err(status) => Judgement {
                class: Class::Error,
                staleness: None,
                detail: Some(format!("status {status}")),
            },
            Ok(p) if p.visitor.is_some_and(|v| v != req.visitor) => Judgement {
                class: Class::Leak,
                staleness: None,
                detail: None,
            },
            Ok(p) if p.fallback => Judgement {
                class: Class::Fallback,
                staleness: None,
                detail: None,
            },
            Ok(p) => self
                .checker
                .judge_served(req.visitor, req.sent, at, &p.entries),
        };
        self.recorder.record(
            (at.0 / 1_000_000) as usize,
            verdict.class,
            at.saturating_sub(req.sent).0,
            from_cache,
            verdict.staleness.map(|s| s.0),
        );
        if let Some((u, think)) = req.user {
            self.push(Micros(at.0 + think.0), Ev::UserTurn(u));
        }
    }

    fn report(self) -> ArchReport {
        let c = &self.counts;
        let origin = OriginLoad {
            requests: c.origin_requests,
            renders: c.renders,
            personalize_calls: c.personalize_calls,
            delivery_calls: c.delivery_calls,
        };
        let layer = self.strategy.map(|_| {
            let all = c.hit + c.stale + c.miss + c.bypass;
            LayerReport {
                name: match self.arch.arch {
                    Architecture::CdnShared | Architecture::CdnUser => "cdn",
                    Architecture::Edge => "edge",
                    _ => "origin",
                }
                .to_owned(),
                hit: c.hit,
                stale: c.stale,
                miss: c.miss,
                bypass: c.bypass,
                hit_rate: if all == 0 {
                    0.0
                } else {
                    (c.hit + c.stale) as f64 / all as f64
                },
                coalesced: c.coalesced,
                purged: c.purged,
                evicted: c.evicted,
            }
        });
        // Cumulative samples per second boundary, as the real run samples them.
        let mut samples = vec![OriginLoad::default()];
        for l in &self.load {
            let last = samples.last().expect("starts with zero").clone();
            samples.push(OriginLoad {
                requests: last.requests + l.requests,
                renders: last.renders + l.renders,
                personalize_calls: last.personalize_calls + l.personalize_calls,
                delivery_calls: last.delivery_calls + l.delivery_calls,
            });
        }
        let mut report = arch_report(
            self.arch.arch.as_str(),
            &self.recorder,
            origin,
            layer,
            self.s.duration.to_duration(),
            Cpu::default(),
            &samples,
        );
        report.warnings.clear();
        report
    }
}
