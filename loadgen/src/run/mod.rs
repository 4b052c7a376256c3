//! `ttlab run`: real runs. For each architecture: the mock APIs and the
//! architecture's servers on loopback (port 0), goose users playing the
//! scenario's visitors closed-loop (think time between pages), every
//! response judged by the checker; then the counters of every layer and
//! mock, in one report.

mod context;
mod target;
mod visitor;

pub use target::{run_target, run_target_with};

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use goose::config::GooseConfiguration;
use goose::prelude::*;
use thiserror::Error;
use ttlab_mock_apis::MockConfig;
use ttlab_mock_apis::metrics::{Api, Endpoint};
use ttlab_reports::{
    ArchReport, ClassCounts, LatencyReport, LayerReport, OriginLoad, Report, SCHEMA_VERSION,
    SecondPoint, StoreOutage, Worker,
};

use ttlab_scenarios::model::{Architecture, ArchitectureConfig};
use ttlab_scenarios::{Micros, SystemClock, World};
use ttlab_ssr_origin::cache::LayerTally;
use ttlab_ssr_origin::stack::{StackView, start_stack};
use ttlab_ssr_origin::upstream::UpstreamConfig;

use crate::check::{Checker, Class};
use crate::live::{LayerCounts, Live, load_since};
use crate::record::{Recorder, percentiles};
use crate::script::{PagePicker, Share, ShareError};
use context::RunContext;
use visitor::page_view;

/// Why a run could not be made.
#[derive(Debug, Error)]
pub enum RunError {
    /// The mocks did not start.
    #[error(transparent)]
    Mocks(#[from] ttlab_mock_apis::MockError),
    /// The servers did not start.
    #[error(transparent)]
    Stack(#[from] ttlab_ssr_origin::stack::StackError),
    /// Goose refused the load test.
    #[error("the load generator failed: {0}")]
    Goose(String),
    /// The scenario cannot run closed-loop.
    #[error("{0}")]
    Scenario(String),
    /// This load machine's share of the users is not one.
    #[error(transparent)]
    Share(#[from] ShareError),
    /// `--page-views 0`.
    #[error("--page-views must be at least 1")]
    NoPageViews,
}

/// How much of the scenario's load this run generates, and until when.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// This load machine's share of the users (`--worker-id K --workers
    /// N`); `None` runs them all and writes no `worker` in the report.
    pub share: Option<Share>,
    /// Each user makes exactly this many page views and stops, and the
    /// run ends when all have (`--page-views N`) instead of after the
    /// scenario's duration: the visitor script, and so every count that
    /// depends only on it, is then the same on every run.
    pub page_views: Option<u32>,
}

impl RunOptions {
    /// The goose users this machine runs (of the scenario's `users`).
    fn plan(&self, users: u32, duration: Duration) -> Result<Plan, RunError> {
        if self.page_views == Some(0) {
            return Err(RunError::NoPageViews);
        }
        Ok(Plan {
            users: self.share.unwrap_or(Share::ALL).users(users)?,
            duration,
            page_views: self.page_views,
        })
    }

    /// The report's `worker`.
    fn worker(&self) -> Option<Worker> {
        self.share.map(|s| Worker {
            id: s.id(),
            of: s.of(),
        })
    }
}

/// What goose is told to do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Goose users on this machine.
    pub users: u32,
    /// How long, unless `page_views` bounds the run.
    pub duration: Duration,
    /// Page views per user, if bounded by count.
    pub page_views: Option<u32>,
}

/// Progress of a run, for the command line.
pub trait Progress: Send + Sync {
    /// An architecture starts.
    fn start(&self, arch: Architecture, duration: Duration);
    /// An architecture is done.
    fn done(&self, report: &ArchReport);
    /// A run against an external origin starts.
    fn start_target(&self, _target: &str, _duration: Duration) {}
    /// Where to publish a frame per second of each architecture (the
    /// dashboard, a plain progress line); `None` publishes nothing.
    fn live(&self) -> Option<Arc<Live>> {
        None
    }
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: Architecture, _: Duration) {}
    fn done(&self, _: &ArchReport) {}
}

/// Stops the run under way as Ctrl-C does (the dashboard's `q`): the
/// current architecture's attack ends through goose's kill switch, the
/// report holds what ran, and no further architecture starts.
pub fn stop() {
    goose::trigger_killswitch("stopped by the user");
}

/// Runs `archs` of the world's scenario one after another on the same
/// visitor script. Stops early (and says so) on Ctrl-C.
pub async fn run(
    world: Arc<World>,
    archs: &[ArchitectureConfig],
    progress: &dyn Progress,
) -> Result<Report, RunError> {
    run_with(world, archs, &RunOptions::default(), progress).await
}

/// [`run`], for this machine's share of the users and, if asked, a fixed
/// number of page views per user.
pub async fn run_with(
    world: Arc<World>,
    archs: &[ArchitectureConfig],
    opts: &RunOptions,
    progress: &dyn Progress,
) -> Result<Report, RunError> {
    let s = world.scenario();
    let users = users_of(&world)?;
    let plan = opts.plan(users, s.duration.to_duration())?;
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    goose::reset_killswitch();
    let mut reports = Vec::new();
    let live = progress.live();
    for (i, arch) in archs.iter().enumerate() {
        let duration = s.duration.to_duration();
        if let Some(l) = &live {
            l.start_arch(i);
        }
        progress.start(arch.arch, duration);
        // Boxed: goose's futures are large.
        let live = live.clone().map(|l| (l, i));
        let report = Box::pin(run_arch(world.clone(), arch, users, opts, plan, live)).await?;
        progress.done(&report);
        reports.push(report);
        if goose::is_killswitch_triggered() {
            break;
        }
    }
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        mode: "real".to_owned(),
        scenario: s.name.clone(),
        seed: s.seed,
        started_at,
        duration_s: s.duration.as_secs_f64(),
        interrupted: goose::is_killswitch_triggered(),
        architectures: reports,
        sweep: None,
        markers: ttlab_reports::markers::of_world(&world),
        page_views: opts.page_views,
        worker: opts.worker(),
        merged_workers: None,
    };
    ttlab_reports::gate::apply(&mut report, archs);
    Ok(report)
}
/// The closed-loop users of the scenario, or why it cannot run for real.
fn users_of(world: &World) -> Result<u32, RunError> {
    let s = world.scenario();
    s.traffic.users.ok_or_else(|| {
        RunError::Scenario(format!(
            "scenario \"{}\" has no [traffic] users: real runs are closed-loop (users with think time); add users = N",
            s.name
        ))
    })
}

/// What generating the load cost.
pub(crate) struct Generated {
    /// How the attack ended.
    pub outcome: Result<(), RunError>,
    /// Wall time it took.
    pub elapsed: Duration,
    /// CPU, in cores: the generator's own threads and the whole process.
    pub cpu: Cpu,
}

/// CPU used during a run, in cores (1.0 = one core busy all the time).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    /// The load generator's threads (goose users, checker, recorder).
    pub generator: f64,
    /// The whole process (generator and servers).
    pub process: f64,
}

/// Runs the attack on a runtime of its own (one worker thread) so the
/// generator's CPU can be told from the servers' (read per thread from /proc).
pub(crate) async fn generate(host: String, plan: Plan) -> Generated {
    let process_before = process_cpu();
    let wall = Instant::now();
    let worker = std::thread::spawn(move || {
        let tids: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = tids.clone();
        let own = thread_id();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ttlab-loadgen")
            .on_thread_start(move || {
                if let Some(t) = thread_id() {
                    record.lock().expect("thread ids").push(t);
                }
            })
            .enable_all()
            .build();
        let Ok(runtime) = runtime else {
            return (
                Err(RunError::Goose(
                    "cannot start the load generator's runtime".to_owned(),
                )),
                Duration::ZERO,
            );
        };
        let outcome = runtime.block_on(Box::pin(attack(&host, plan)));
        // Read the threads' CPU before the runtime ends them.
        let mut cpu = Duration::ZERO;
        for t in tids.lock().expect("thread ids").iter().chain(own.as_ref()) {
            cpu += thread_cpu(t).unwrap_or_default();
        }
        drop(runtime);
        (outcome, cpu)
    });
    let joined = tokio::task::spawn_blocking(move || worker.join()).await;
    let elapsed = wall.elapsed();
    let (outcome, generator) = match joined {
        Ok(Ok(r)) => r,
        _ => (
            Err(RunError::Goose(
                "the load generator's thread panicked".to_owned(),
            )),
            Duration::ZERO,
        ),
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    let process = match (process_before, process_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() / secs,
        _ => 0.0,
    };
    Generated {
        outcome,
        elapsed,
        cpu: Cpu {
            generator: generator.as_secs_f64() / secs,
            process,
        },
    }
}

/// This thread's id, from /proc/thread-self.
fn thread_id() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// CPU time of thread `tid` of this process.
fn thread_cpu(tid: &str) -> Option<Duration> {
    cpu_of(&format!("/proc/self/task/{tid}/stat"))
}

/// CPU time of this process so far (user + system), from /proc.
fn process_cpu() -> Option<Duration> {
    cpu_of("/proc/self/stat")
}

/// User + system time from a /proc `stat` file.
fn cpu_of(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;

    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every common configuration.
    Some(Duration::from_millis(ticks * 10))
}

async fn run_arch(
    world: Arc<World>,
    arch: &ArchitectureConfig,
    users: u32,
    opts: &RunOptions,
    plan: Plan,
    live: Option<(Arc<Live>, usize)>,
) -> Result<ArchReport, RunError> {
    let s = world.scenario();
    let clock = SystemClock::starting_now();
    let shared_clock = Arc::new(clock);
    let mocks =
        ttlab_mock_apis::start(world.clone(), shared_clock.clone(), MockConfig::default()).await?;
    let upstream =
        UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
    let stack = start_stack(
        world.clone(),
        shared_clock.clone(),
        arch,
        upstream,
        "127.0.0.1".parse().expect("loopback"),
    )
    .await?;
    if let Some(url) = &stack.webhook_url {
        mocks.state.webhook_urls_add(url);
    }
    let cache_layer = match arch.arch {
        Architecture::NoCache => None,
        Architecture::CdnShared | Architecture::CdnUser => Some("cdn"),
        Architecture::OriginVariant => Some("origin"),
        Architecture::Edge => Some("edge"),
    };
    let ctx = Arc::new(RunContext {
        world: world.clone(),
        clock,
        checker: Checker::new(world.clone()),
        pages: PagePicker::new(s),
        recorder: Mutex::new(Recorder::tapped(live.is_some())),
        sent_changes: (0..s.traffic.visitors)
            .map(|_| AtomicUsize::new(0))
            .collect(),
        personalize_url: mocks.personalize_url.clone(),
        cache_layer,
        entry_urls: stack.entry_urls.clone(),
        users,
        share: opts.share.unwrap_or(Share::ALL),
        http: reqwest::Client::new(),
    });
    context::register(&stack.entry_url, ctx.clone()); // Origin load sampled each second, cumulative, for the series.
    let samples: Arc<Mutex<Vec<OriginLoad>>> = Arc::default();
    // The live view's frames come from the same tick: the recorder's tap,
    // the origin load and the layer's answers since the previous one.
    let tick_live = Arc::new(LiveTick {
        live,
        ctx: ctx.clone(),
        view: stack.view.clone(),
        before: Mutex::default(),
    });
    tick_live.start();
    let sampler = {
        let (view, mock_state, samples) =
            (stack.view.clone(), mocks.state.clone(), samples.clone());
        let tick_live = tick_live.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let load = origin_load(&view, &mock_state);
                let mut samples = samples.lock().expect("samples");
                tick_live.tick(&samples, &load);
                samples.push(load);
            }
        })
    };
    let generated = generate(stack.entry_url.clone(), plan).await;
    let (outcome, elapsed, cpu) = (generated.outcome, generated.elapsed, generated.cpu);

    context::unregister(&stack.entry_url);
    sampler.abort();
    // Let in-flight webhook deliveries and refreshes settle before reading counters.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let origin = origin_load(&stack.view, &mocks.state);
    {
        let mut samples = samples.lock().expect("samples");
        tick_live.tick(&samples, &origin);
        samples.push(origin.clone());
    }
    let layer = stack_layer_report(&stack.view, cache_layer.unwrap_or("origin"));
    let replicas = stack.origin_urls.len() as u32;
    stack.shutdown().await;
    mocks.shutdown().await;
    outcome?;
    let rec = ctx.recorder.lock().expect("recorder");
    let samples = samples.lock().expect("samples").clone();
    let mut report = arch_report(
        arch.arch.as_str(),
        &rec,
        origin,
        layer,
        elapsed,
        cpu,
        &samples,
    );
    report.origin_replicas = replicas;
    if let Some(l) = &report.layer
        && let Some(w) = store_warning(l, elapsed.as_secs_f64())
    {
        report.warnings.push(w);
    }
    Ok(report)
}

/// The caching layer's part of the report (none for `ssr-nocache`): its
/// counters over every replica, its backend and the store's outages.
fn stack_layer_report(view: &StackView, name: &str) -> Option<LayerReport> {
    let c = view.cache_counters()?;
    let mut l = layer_report(name, &c.tally());
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

/// The report's note of a caching layer's store outages: when, and what
/// the layer did meanwhile (`None` when the store never failed).
fn store_warning(l: &LayerReport, end_s: f64) -> Option<String> {
    if l.store_outages.is_empty() && l.store_errors == 0 {
        return None;
    }
    let windows: Vec<String> = l
        .store_outages
        .iter()
        .map(|o| match o.until_s {
            Some(u) => format!("{:.1}–{:.1} s", o.from_s, u),
            None => format!("{:.1} s to the end ({end_s:.1} s)", o.from_s),
        })
        .collect();
    Some(format!(
        "the {} layer's {} store was unavailable ({}): {} requests bypassed the cache and were served by the origin, {} store calls failed",
        l.name,
        l.backend.as_deref().unwrap_or("cache"),
        if windows.is_empty() {
            "briefly".to_owned()
        } else {
            windows.join(", ")
        },
        l.store_bypass,
        l.store_errors,
    ))
}

/// A caching layer's part of the report, from its counters: the real
/// layer's (added over replicas) or the simulator's.
pub(crate) fn layer_report(name: &str, c: &LayerTally) -> LayerReport {
    let mut l = LayerReport {
        name: name.to_owned(),
        hit: c.hits,
        stale: c.stale,
        miss: c.misses,
        bypass: c.bypass,
        hit_rate: 0.0,
        coalesced: c.coalesced,
        purged: c.purged,
        evicted: c.evicted,
        store_errors: c.store_errors,
        store_bypass: c.store_bypass,
        remote_fills: c.remote_fills,
        ..LayerReport::default()
    };
    l.hit_rate = l.computed_hit_rate();
    l
}

/// Publishes a real run's seconds to the live view, from the sampler's
/// tick: the recorder's tap, and the origin load and the caching layer's
/// answers since the previous tick.
struct LiveTick {
    live: Option<(Arc<Live>, usize)>,
    ctx: Arc<RunContext>,
    view: StackView,
    /// The layer's counters at the previous tick.
    before: Mutex<Option<LayerCounts>>,
}

impl LiveTick {
    /// The caching layer's counters now (none for `ssr-nocache`).
    fn layer(&self) -> Option<LayerCounts> {
        let c = self.view.cache_counters()?;
        Some(LayerCounts::from(&c.tally()))
    }

    /// Remembers where the counters start.
    fn start(&self) {
        if self.live.is_some() {
            *self.before.lock().expect("layer counts") = self.layer();
        }
    }

    /// One second ended: `samples` are the cumulative loads so far, `load`
    /// the one just taken.
    fn tick(&self, samples: &[OriginLoad], load: &OriginLoad) {
        let (Some((live, arch)), Some(prev)) = (&self.live, samples.last()) else {
            return;
        };
        let tap = self.ctx.recorder.lock().expect("recorder").take_tap();
        let layer = self.layer();
        let mut before = self.before.lock().expect("layer counts");
        live.push(tap.unwrap_or_default().into_frame(
            *arch,
            (samples.len() - 1) as u32,
            load_since(load, prev),
            layer.zip(*before).map(|(now, was)| now.since(&was)),
        ));
        *before = layer;
    }
}

/// The report of one architecture from what was recorded and counted.
pub(crate) fn arch_report(
    name: &str,
    rec: &Recorder,
    origin: OriginLoad,
    layer: Option<LayerReport>,
    elapsed: Duration,
    cpu: Cpu,
    samples: &[OriginLoad],
) -> ArchReport {
    let requests = rec.requests();
    let mut warnings = Vec::new();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) as f64;
    if cpu.generator > 0.85 {
        warnings.push(format!(
            "the load generator was the bottleneck: its thread was busy {:.0}% of the time, so the system under test was not pushed as the scenario asks; use fewer users or a longer think time",
            cpu.generator * 100.0
        ));
    }
    if cpu.process > 0.9 * cores {
        warnings.push(format!(
            "the machine was saturated ({:.0}% of {cores} cores in this process, which runs the load generator and the servers): latency includes waiting for CPU",
            cpu.process * 100.0 / cores
        ));
    }
    ArchReport {
        name: name.to_owned(),
        mock_counters: None,

        elapsed_s: elapsed.as_secs_f64(),
        requests,
        classes: Class::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), rec.classes[c.index()]))
            .collect(),
        offload: if requests == 0 {
            0.0
        } else {
            1.0 - origin.requests as f64 / requests as f64
        },
        origin,
        layer,
        origin_replicas: 1,
        latency: LatencyReport {
            all: percentiles(&rec.latency()),
            hit: percentiles(&rec.latency_hit),
            miss: percentiles(&rec.latency_miss),
        },
        staleness: percentiles(&rec.staleness),
        attribute_updates: rec.attribute_updates,
        generator_cpu: cpu.generator,
        process_cpu: cpu.process,

        warnings,
        thresholds: Vec::new(),
        series: series(rec, samples),
        histograms: Some(rec.histograms()),
    }
}

/// Origin load so far: the origin's counters and the mocks' answers.
fn origin_load(stack: &StackView, mocks: &ttlab_mock_apis::MockState) -> OriginLoad {
    let m = &mocks.metrics;
    OriginLoad {
        requests: stack.origin_requests(),
        renders: stack.origin_renders(),
        personalize_calls: m.requests(Api::Personalize, Endpoint::Manifest),
        delivery_calls: m.requests(Api::Delivery, Endpoint::Entry)
            + m.requests(Api::Delivery, Endpoint::Entries),
    }
}

/// The per-second series from the recorder and the cumulative samples.
fn series(rec: &Recorder, samples: &[OriginLoad]) -> Vec<SecondPoint> {
    let n = rec.seconds.len().max(samples.len().saturating_sub(1));
    (0..n)
        .map(|i| {
            let second = rec.seconds.get(i);
            let c = second.map_or([0; 7], |s| s.classes);
            let origin = match (samples.get(i), samples.get(i + 1)) {
                (Some(a), Some(b)) => OriginLoad {
                    requests: b.requests - a.requests,
                    renders: b.renders - a.renders,
                    personalize_calls: b.personalize_calls - a.personalize_calls,
                    delivery_calls: b.delivery_calls - a.delivery_calls,
                },
                _ => OriginLoad::default(),
            };
            let latency = second.map(|s| &s.latency).filter(|h| !h.is_empty());
            let q = |p: f64| latency.map_or(0.0, |h| h.value_at_quantile(p) as f64 / 1000.0);
            SecondPoint {
                t_s: i as u32,
                requests: c.iter().sum(),
                from_cache: second.map_or(0, |s| s.from_cache),
                classes: ClassCounts {
                    fresh: c[0],
                    stale_variant: c[1],
                    stale_content: c[2],
                    wrong_variant: c[3],
                    leak: c[4],
                    error: c[5],
                    fallback: c[6],
                },
                p50_ms: q(0.5),
                p99_ms: q(0.99),
                origin,
                latency_hdr: latency.map(ttlab_reports::hdr::encode),
            }
        })
        .collect()
}

/// Goose, embedded: the plan's users against `host` for its duration (or
/// its page views each), all started within the first second, no
/// controllers, no report of its own.
async fn attack(host: &str, plan: Plan) -> Result<(), RunError> {
    let users = plan.users;
    let mut config = GooseConfiguration::default();
    config.host = Some(host.to_owned());
    config.users = Some(users as usize);
    config.increase_rate = Some(users.max(1).to_string());
    if let Some(n) = plan.page_views {
        // One iteration of the scenario is one page view; goose ends the
        // attack when every user has made its `n` (it refuses `run_time`
        // and `no_reset_metrics` with iterations; its metrics are unused).
        config.iterations = Some(n as usize);
    } else {
        // goose starts users over the first second and then runs `run_time`:
        // together they make the scenario's duration, as the simulator models it.
        config.run_time = Some(plan.duration.as_secs().saturating_sub(1).max(1).to_string());
        config.no_reset_metrics = true;
    }

    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.no_autostart = false;
    let attack = GooseAttack::initialize_with_config(config)
        .map_err(|e| RunError::Goose(format!("{e:?}")))?;
    let attack = attack.register_scenario(
        scenario!("visitors").register_transaction(transaction!(page_view).set_name("page view")),
    );
    Box::pin(attack.execute())
        .await
        .map_err(|e| RunError::Goose(format!("{e:?}")))?;
    Ok(())
}
