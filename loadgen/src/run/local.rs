//! One architecture of a real run: the mocks and the architecture's
//! servers on loopback, the load against them, and its report.

use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ttlab_mock_apis::{MockConfig, RunningMocks};
use ttlab_reports::{AppReport, ArchReport, CdnReport, LayerCounts, LayerReport, StoreOutage};
use ttlab_scenarios::model::{App, ArchitectureConfig, Backend, CdnEngine};
use ttlab_scenarios::{Clock, GateClock, Micros, Topology, World};
use ttlab_ssr_origin::cache::LayerCounters;
use ttlab_ssr_origin::stack::{
    RunningBehind, RunningFront, RunningStack, StackView, start_behind, start_front,
    start_servers as start_some, start_stack,
};
use ttlab_ssr_origin::upstream::UpstreamConfig;

use super::app::RunningApp;
use super::context::RunContext;
use super::error::RunError;
use super::generate::generate;
use super::live_tick::LiveTick;
use super::options::{Plan, RunOptions};
use super::pool::OpenState;
use super::sampler::{Sampler, after_warmup, origin_load};
use super::store_cut::StoreCut;
use super::varnish::Varnishd;
use crate::check::Checker;
use crate::live::Live;
use crate::record::Recorder;
use crate::report::arch_report;
use crate::script::{PagePicker, Share};

/// Runs architecture `arch` of the world's scenario on loopback with the
/// plan's users; `live` gets a frame a second as architecture `live.1`.
pub(super) async fn run_arch(
    world: Arc<World>,
    arch: &ArchitectureConfig,
    users: u32,
    opts: &RunOptions,
    plan: Plan,
    live: Option<(Arc<Live>, usize)>,
) -> Result<ArchReport, RunError> {
    let s = world.scenario();
    let warmup_s = ttlab_reports::markers::warmup_seconds(s.warmup);
    // The timeline starts when goose's users are up: the users start it.
    let gate = Arc::new(GateClock::default());
    let shared_clock: Arc<dyn Clock> = gate.clone();
    let mock_config = MockConfig::default();
    let mocks =
        ttlab_mock_apis::start(world.clone(), shared_clock.clone(), mock_config.clone()).await?;
    // Kept to the end of the run; dropping it stops the proxy.
    let cut = store_cut(s, arch, &shared_clock).await?;
    let arch = cut.as_ref().map_or(arch, |(_, a)| a);
    let (servers, app) =
        start_servers(&world, &shared_clock, arch, opts, &mocks, &mock_config).await?;
    let topology = servers.topology(arch);
    let view = servers.view();
    // What came before the visitors (an app's calls as it started, its
    // readiness poll) is not the run's load.
    let baseline = origin_load(&view, &mocks.state);
    let ctx = Arc::new(RunContext {
        world: world.clone(),
        clock: shared_clock.clone(),
        gate: Some(gate.clone()),
        checker: Checker::new(world.clone()),
        pages: PagePicker::new(s),
        recorder: Mutex::new(Recorder::tapped(live.is_some()).warming(warmup_s)),
        sent_changes: (0..s.traffic.visitors).map(|_| AtomicU32::new(0)).collect(),
        personalize_url: mocks.personalize_url.clone(),
        cache_layer: servers.cache_layer(topology),
        tally: view.tally.clone(),
        entry_urls: servers.entry_urls(),
        users,
        share: opts.share.unwrap_or(Share::ALL),
        http: reqwest::Client::new(),
        open: OpenState::of(&world, plan.users, opts.share.unwrap_or(Share::ALL)),
        stop_at: plan.page_views.is_none().then_some(s.duration),
    });
    // The live view's frames come from the sampler's tick: the recorder's
    // tap, the origin load and the layer's answers since the previous one.
    let tick_live = Arc::new(LiveTick {
        live,
        ctx: ctx.clone(),
        view: view.clone(),
        before: Mutex::default(),
    });
    tick_live.start();
    // Origin load sampled each second, cumulative, for the series; and
    // the layer's counters when warm-up ended, to take off the headline.
    let sampler = Sampler::spawn(
        view.clone(),
        mocks.state.clone(),
        tick_live.clone(),
        gate.clone(),
        warmup_s,
        baseline.clone(),
    );
    let generated = generate(servers.entry_url(), plan, ctx.clone()).await;
    let (outcome, cpu) = (generated.outcome, generated.cpu);
    // The run's length on its clock (from when the users were up), as the
    // simulator counts it: the last users may finish a little past the end, and a
    // `--page-views` run ends when its users are done.
    let elapsed = match ctx.stop_at {
        Some(end) => ctx.clock_now().min(end).to_duration(),
        None => ctx.clock_now().to_duration(),
    };

    sampler.task.abort();
    // Let in-flight webhook deliveries and refreshes settle before reading counters.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let origin = origin_load(&view, &mocks.state).combine(&baseline, u64::saturating_sub);
    {
        let mut samples = sampler.samples.lock().expect("samples");
        tick_live.tick(&samples, &origin);
        samples.push(origin.clone());
    }
    let warm_layer = *sampler.warm_layer.lock().expect("warm layer");
    let mut layer = stack_layer_report(&view, topology, &warm_layer.unwrap_or_default());
    let engine = servers.engine_part(layer.as_mut());
    let replicas = servers.replicas();
    servers.shutdown().await;
    // The app after the layer in front of it, before the mocks it calls.
    let app_part = stop_app(app, arch, topology).await;
    mocks.shutdown().await;
    outcome?;
    let rec = ctx.recorder.lock().expect("recorder");
    let samples = sampler.of_run(elapsed);
    let origin = after_warmup(origin, &samples, warmup_s);
    let mut report = arch_report(
        arch.arch.as_str(),
        &rec,
        origin,
        layer,
        elapsed,
        Some(cpu),
        &samples,
    );
    report.origin_replicas = replicas;
    report.warnings.extend(engine.1);
    report.cdn = engine.0;
    AppPart::apply(app_part, &mut report);
    if let Some(open) = &ctx.open {
        let counts = open.finish(&world, ctx.clock_now());
        if let Some(w) = super::pool::drop_warning(&counts) {
            report.warnings.push(w);
        }
        report.arrivals = Some(counts);
    }
    Ok(report)
}

/// The scenario's store outages of `arch`, enacted: a proxy that cuts the
/// layers' Redis connections in those windows, and `arch` with the proxy's
/// URL for its Redis. `None` when `arch` goes through no outage.
async fn store_cut(
    s: &ttlab_scenarios::Scenario,
    arch: &ArchitectureConfig,
    clock: &Arc<dyn Clock>,
) -> Result<Option<(StoreCut, ArchitectureConfig)>, RunError> {
    let windows = s.store_outages_of(arch);
    let Backend::Redis { url } = &arch.cache.backend else {
        return Ok(None);
    };
    if windows.is_empty() {
        return Ok(None);
    }
    let cut = StoreCut::start(url, windows, clock.clone()).await?;
    let mut cut_arch = arch.clone();
    cut_arch.cache.backend = Backend::Redis {
        url: cut.url.clone(),
    };
    Ok(Some((cut, cut_arch)))
}

/// The team's app of one architecture's run.
struct AppRun<'a> {
    running: RunningApp,
    app: &'a App,
    /// Whether its output went to a log file.
    logged: bool,
}

impl AppRun<'_> {
    /// Stops it; its part of the report.
    async fn stop(&mut self, arch: &ArchitectureConfig, topology: Topology) -> AppPart {
        let mut warnings = vec![if topology.front.is_some() {
            "the team's app plays the origin: origin requests are those ttlab's layer sent it; its renders are not seen".to_owned()
        } else {
            format!(
                "{}: the team's app is requested directly: ttlab sees no origin requests, renders or cache counters of it, only its answers and the mocks' calls",
                arch.arch
            )
        }];
        warnings.extend(self.running.ended_early());
        self.running.stop().await;
        let report = AppReport {
            command: self.app.command.clone(),
            url: self.running.url().to_owned(),
            log: self.logged.then(|| app_log_name(arch)),
            requests_seen: topology.front.is_some(),
        };
        AppPart { report, warnings }
    }
}

/// The app's part of an architecture's report.
struct AppPart {
    report: AppReport,
    /// What the report should warn of.
    warnings: Vec<String>,
}

impl AppPart {
    /// Adds the app's part (if any) to the architecture's report.
    fn apply(part: Option<AppPart>, report: &mut ArchReport) {
        let Some(part) = part else {
            return;
        };
        if !part.report.requests_seen {
            // As a target's: nothing of ttlab's saw the app's requests.
            report.offload = 0.0;
        }
        report.warnings.extend(part.warnings);
        report.app = Some(part.report);
    }
}

/// Stops the architecture's app, if it ran one; its part of the report.
async fn stop_app(
    app: Option<AppRun<'_>>,
    arch: &ArchitectureConfig,
    topology: Topology,
) -> Option<AppPart> {
    let mut app = app?;
    Some(app.stop(arch, topology).await)
}

/// Starts what an architecture's visitors are sent to, pointed at `mocks`:
/// ttlab's origin and its layers; or the team's app with ttlab's CDN or
/// edge in front of it (or nothing: `as-is`).
async fn start_servers<'a>(
    world: &'a Arc<World>,
    clock: &Arc<dyn Clock>,
    arch: &ArchitectureConfig,
    opts: &RunOptions,
    mocks: &RunningMocks,
    mock_config: &MockConfig,
) -> Result<(Servers, Option<AppRun<'a>>), RunError> {
    let s = world.scenario();
    let upstream =
        UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
    let host = "127.0.0.1".parse().expect("loopback");
    let Some(app) = &s.app else {
        if s.cdn == CdnEngine::Varnish && arch.topology().front.is_some() {
            let servers = start_varnish(world, clock, arch, upstream, host).await?;
            return Ok((servers.webhooks_from(mocks), None));
        }
        let stack = start_stack(world.clone(), clock.clone(), arch, upstream, host).await?;
        return Ok((Servers::Stack(stack).webhooks_from(mocks), None));
    };
    let port = super::app::free_port()?;
    let values = super::app::values(mocks, mock_config, &s.content.locale, port);
    let log = opts
        .app_logs
        .as_ref()
        .map(|dir| dir.join(app_log_name(arch)));
    // Dropped on any error below: its whole group is stopped.
    let mut running = RunningApp::start(app, &values, log.as_deref())?;
    running.wait_ready(app).await?;
    let servers = if arch.topology().front.is_some() {
        let front = start_front(
            world.clone(),
            clock.clone(),
            arch,
            upstream,
            host,
            running.url(),
            &app.variant_param,
        )
        .await?;
        Servers::Front(front)
    } else {
        Servers::AppAlone(running.url().to_owned())
    };
    let run = AppRun {
        running,
        app,
        logged: log.is_some(),
    };
    Ok((servers.webhooks_from(mocks), Some(run)))
}

/// ttlab's origin (its replicas) with Varnish in front of it as the
/// architecture's cache, and the edge in front of Varnish when the topology
/// has one; the publish receiver that purges in Varnish.
async fn start_varnish(
    world: &Arc<World>,
    clock: &Arc<dyn Clock>,
    arch: &ArchitectureConfig,
    upstream: UpstreamConfig,
    host: std::net::IpAddr,
) -> Result<Servers, RunError> {
    use ttlab_ssr_origin::stack::Servers as Which;
    let stack = start_some(
        world.clone(),
        clock.clone(),
        arch,
        upstream.clone(),
        host,
        Which::OriginOnly,
    )
    .await?;
    let varnishd = Varnishd::in_front_of(&world.scenario().name, arch, &stack.origin_urls).await?;
    let behind = start_behind(
        world.clone(),
        clock.clone(),
        arch,
        upstream,
        host,
        varnishd.url(),
    )
    .await?;
    Ok(Servers::Varnish(Box::new(VarnishServers {
        stack,
        varnishd,
        behind,
        tally: LayerCounters::default(),
    })))
}

/// The app's log file's name in the report's folder.
fn app_log_name(arch: &ArchitectureConfig) -> String {
    format!("app-{}.log", arch.arch)
}

/// What an architecture's run requests pages of.
enum Servers {
    /// ttlab's origin, and its CDN or edge if the topology has one.
    Stack(RunningStack),
    /// ttlab's CDN or edge in front of the team's app.
    Front(RunningFront),
    /// The team's app alone, at this URL (`as-is`).
    AppAlone(String),
    /// ttlab's origin behind Varnish (`[cdn] engine = "varnish"`).
    Varnish(Box<VarnishServers>),
}

/// ttlab's origin, Varnish as the cache in front of it, and what stands
/// beside Varnish (the edge in front of it, the purge receiver).
struct VarnishServers {
    /// ttlab's origin replicas.
    stack: RunningStack,
    varnishd: Varnishd,
    behind: RunningBehind,
    /// The layer's counts, from the answers' `x-cache`.
    tally: LayerCounters,
}

impl Servers {
    /// Every URL visitors may be sent to (origin replicas, or one).
    fn entry_urls(&self) -> Vec<String> {
        match self {
            Servers::Stack(s) => s.entry_urls.clone(),
            Servers::Front(f) => vec![f.url.clone()],
            Servers::AppAlone(url) => vec![url.clone()],
            Servers::Varnish(v) => vec![v.behind.entry_url.clone()],
        }
    }

    /// Where goose sends visitors.
    fn entry_url(&self) -> String {
        match self {
            Servers::Stack(s) => s.entry_url.clone(),
            Servers::Front(f) => f.url.clone(),
            Servers::AppAlone(url) => url.clone(),
            Servers::Varnish(v) => v.behind.entry_url.clone(),
        }
    }

    /// The servers, with `mocks` sending publish webhooks to the caching
    /// layer when it purges on them.
    fn webhooks_from(self, mocks: &RunningMocks) -> Self {
        let url = match &self {
            Servers::Stack(s) => s.webhook_url.as_deref(),
            Servers::Front(f) => f.webhook_url.as_deref(),
            Servers::AppAlone(_) => None,
            Servers::Varnish(v) => v.behind.webhook_url.as_deref(),
        };
        if let Some(url) = url {
            mocks.state.webhook_urls_add(url);
        }
        self
    }

    /// The architecture's topology, as its servers were built.
    fn topology(&self, arch: &ArchitectureConfig) -> Topology {
        match self {
            Servers::Stack(s) => s.topology,
            Servers::Front(f) => f.topology,
            Servers::AppAlone(_) => arch.topology(),
            Servers::Varnish(v) => v.stack.topology,
        }
    }

    /// ttlab's servers, for counters (none for the app alone).
    fn view(&self) -> StackView {
        match self {
            Servers::Stack(s) => s.view.clone(),
            Servers::Front(f) => f.view.clone(),
            Servers::AppAlone(_) => StackView {
                origins: Vec::new(),
                proxy: None,
                tally: None,
            },
            Servers::Varnish(v) => StackView {
                origins: v.stack.view.origins.clone(),
                proxy: None,
                tally: Some(v.tally.clone()),
            },
        }
    }

    /// The caching layer's name in `x-cache`: ttlab's; for the app alone,
    /// any layer of its own that says so (as a target's).
    fn cache_layer(&self, topology: Topology) -> Option<&'static str> {
        match self {
            Servers::AppAlone(_) => Some("*"),
            _ => topology.cache_name(),
        }
    }

    /// Origin replicas ttlab started (the app counts as one).
    fn replicas(&self) -> u32 {
        match self {
            Servers::Stack(s) => s.origin_urls.len() as u32,
            _ => 1,
        }
    }

    async fn shutdown(self) {
        match self {
            Servers::Stack(s) => s.shutdown().await,
            Servers::Front(f) => f.shutdown().await,
            Servers::AppAlone(_) => {}
            Servers::Varnish(v) => {
                let v = *v;
                v.behind.shutdown().await;
                v.varnishd.stop().await;
                v.stack.shutdown().await;
            }
        }
    }

    /// With Varnish as the cache: the report's engine part and warnings,
    /// and the published counts Varnish keeps itself (coalesced: requests
    /// that waited on another's fetch; evicted: objects nuked for room;
    /// whole-run) and the purge receiver's (objects purged). `None` for
    /// ttlab's own layers.
    fn engine_part(&self, layer: Option<&mut LayerReport>) -> (Option<CdnReport>, Vec<String>) {
        let Servers::Varnish(v) = self else {
            return (None, Vec::new());
        };
        let tally = &v.behind.receiver.tally;
        let stats = v.varnishd.stats();
        if let Some(l) = layer {
            let c = &mut l.counts;
            c.purged = tally.purged.load(std::sync::atomic::Ordering::Relaxed);
            if let Some(st) = stats {
                c.coalesced = st.busy_sleep;
                c.evicted = st.lru_nuked;
            }
        }
        let mut warnings = Vec::new();
        warnings.extend(tally.warning());
        if stats.is_none() {
            warnings.push(
                "varnish: varnishstat gave no counters; coalesced and evicted are not reported"
                    .to_owned(),
            );
        }
        let cdn = CdnReport {
            engine: CdnEngine::Varnish.as_str().to_owned(),
            version: v.varnishd.version().to_owned(),
            counts_from: "x-cache (hit, stale, miss, bypass); varnishstat (coalesced: MAIN.busy_sleep, evicted: MAIN.n_lru_nuked; whole run); the purge receiver (purged)".to_owned(),
        };
        (Some(cdn), warnings)
    }
}

/// The caching layer's part of the report (none for `ssr-nocache`): its
/// counters over every replica since `warm` (the end of warm-up), its
/// backend and the store's outages.
fn stack_layer_report(
    view: &StackView,
    topology: Topology,
    warm: &LayerCounts,
) -> Option<LayerReport> {
    let name = topology.cache_name().unwrap_or("origin");
    let c = view.cache_counters()?;
    let mut l = LayerReport::new(name, c.snapshot().since(warm));
    l.backend = view.backend().filter(|b| *b != "memory").map(str::to_owned);
    l.store_outages = view
        .store_outages()
        .iter()
        .map(|o| StoreOutage {
            from_s: o.from.as_secs_f64(),
            until_s: o.until.map(Micros::as_secs_f64),
        })
        .collect();
    Some(l)
}
