//! `ttlab run FILE`: real runs of a scenario's architectures, a summary
//! table side by side, and the JSON report.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ttlab_dashboard::state::Status;
use ttlab_dashboard::{DashState, Facts, Mode, RunControl};
use ttlab_loadgen::live::Live;
use ttlab_loadgen::live::endpoint::MetricsEndpoint;
use ttlab_loadgen::live::openmetrics::{LiveMetrics, RunFacts};
use ttlab_loadgen::run::{Progress, RunError, RunOptions, run_target_with, run_with};
use ttlab_loadgen::script::Share;
use ttlab_reports::{ArchReport, Report};
use ttlab_scenarios::World;
use ttlab_scenarios::model::{Architecture, CdnEngine};

use crate::args::RunArgs;
use crate::exit::{EXIT_BAD_INPUT, EXIT_RUN_FAILED};

struct Lines {
    total: usize,
    quiet: bool,
    index: std::sync::atomic::AtomicUsize,
    /// Where seconds go: the dashboard, or the line-a-second printer
    /// (then each architecture's line ends before the seconds' lines).
    live: Option<Arc<Live>>,
    /// `--page-views`: then the run lasts as long as the users take, not the duration.
    page_views: Option<u32>,
}

impl Lines {
    /// How long the run is planned to go.
    fn length(&self, duration: Duration) -> String {
        match self.page_views {
            Some(n) => format!("{n} page views per user"),
            None => humantime::format_duration(duration).to_string(),
        }
    }
}

impl Progress for Lines {
    fn start(&self, arch: Architecture, duration: Duration) {
        let i = self
            .index
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if !self.quiet {
            eprint!(
                "[{i}/{}] {arch}: running {}…",
                self.total,
                self.length(duration)
            );
            if self.live.is_some() {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
    }

    fn live(&self) -> Option<Arc<Live>> {
        self.live.clone()
    }

    fn start_target(&self, target: &str, duration: Duration) {
        if !self.quiet {
            eprint!("{target}: running {}…", self.length(duration));
            let _ = std::io::stderr().flush();
        }
    }

    /// Warnings show even under `-q`: they change how the numbers read.
    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }

    fn done(&self, r: &ArchReport) {
        if !self.quiet {
            eprintln!(
                "{}{} requests, hit rate {}, wrong {}, stale {}",
                if self.live.is_some() { "  done: " } else { " " },
                r.requests,
                r.layer.as_ref().map_or("-".to_owned(), |l| pct(l.hit_rate)),
                r.class("wrong_variant"),
                r.class("stale_variant") + r.class("stale_content")
            );
            for w in &r.warnings {
                eprintln!("      warning: {w}");
            }
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Runs the scenario and writes the report.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let (shown, scenario, archs) = match prepare(args) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    // Goose users: a closed loop's, or the pool an open loop's arrivals take.
    let users = ttlab_scenarios::pool::goose_users(&scenario.traffic);
    let mut opts = match run_options(args, users) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {shown}: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    // Live metrics: their address is checked (bound) before anything is written.
    let (metrics, endpoint) = match start_metrics(args, &scenario, &archs, &runtime) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    // Last of the checks, as it makes the folder: bad flags leave none behind.
    super::output::check_out_dir(&args.out)?;
    // A worker's folder says which share it holds, so several land side by side.
    let name = match opts.share {
        Some(s) => format!("{}-worker{}of{}", scenario.name, s.id(), s.of()),
        None => scenario.name.clone(),
    };
    // The team's app writes its output as it runs: its folder is made now.
    let app_dir = match (&scenario.app, &args.target) {
        (Some(_), None) => Some(super::output::reserve_report_dir(&args.out, &name)?),
        _ => None,
    };
    opts.app_logs.clone_from(&app_dir);
    let world = Arc::new(World::new(scenario));
    // The dashboard where someone watches (stdout a terminal, not asked
    // away); elsewhere a line a second. An external target has no seconds
    // of ttlab's own servers to show: the architecture lines only.
    let own = args.target.is_none();
    let tui = own && !args.quiet && !args.no_tui && std::io::stdout().is_terminal();
    let watched = own && !args.quiet;
    let live = live_sink(watched, metrics.as_ref());
    let progress = Lines {
        total: archs.len(),
        quiet: args.quiet || tui,
        index: std::sync::atomic::AtomicUsize::default(),
        live: live.clone(),
        page_views: opts.page_views,
    };
    let facts = Facts {
        page_views: opts.page_views,
        ..Facts::of_world(
            &world,
            archs.iter().map(|a| a.arch.as_str().to_owned()).collect(),
            Mode::Real,
        )
    };
    let report = std::thread::scope(|scope| {
        let watcher = live.as_ref().filter(|_| watched).map(|l| {
            scope.spawn(move || {
                if tui {
                    match ttlab_dashboard::run(l, DashState::new(facts.clone()), &RealRun) {
                        Ok(_) => return,
                        Err(e) => tracing::warn!("no dashboard ({e}); progress lines instead"),
                    }
                }
                // A run bounded by page views lasts as long as it takes.
                let last_s = if opts.page_views.is_some() {
                    u32::MAX
                } else {
                    facts.duration_s
                };
                plain_lines(l, facts, last_s);
            })
        });
        let hushed = if tui { None } else { super::hush_goose() };
        let report = match (&args.target, &args.mocks) {
            (Some(target), Some(mocks)) => {
                runtime.block_on(run_target_with(world, target, mocks, &opts, &progress))
            }
            _ => runtime.block_on(run_with(world, &archs, &opts, &progress)),
        };
        drop(hushed);
        if let Some(l) = &live {
            l.finish();
        }
        if let Some(w) = watcher {
            let _ = w.join();
        }
        report
    });
    if let Some(e) = endpoint {
        runtime.block_on(e.stop());
    }
    let report = match ran(report)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let path = match &app_dir {
        Some(dir) => super::output::write_report_in(dir, &report)?,
        None => super::output::write_report(&args.out, &name, &report)?,
    };
    if !args.quiet {
        println!("{}", summary(&report));
        print_app_logs(&report, &path);
    }
    if report.interrupted {
        super::say_interrupted(args.quiet, "the report holds what ran before Ctrl-C");
    }
    println!("report: {}", path.display());
    Ok(super::finished(&report))
}

/// The live view's sink: drained by a watcher where someone watches
/// (`watched`), and feeding the metrics when asked for; none for neither.
fn live_sink(watched: bool, metrics: Option<&Arc<LiveMetrics>>) -> Option<Arc<Live>> {
    (watched || metrics.is_some()).then(|| {
        Arc::new(match metrics {
            Some(m) => Live::new().with_metrics(m.clone(), watched),
            None => Live::new(),
        })
    })
}

/// The run's report; or the exit code of a run that failed for a reason
/// that is not bad input, having said why.
fn ran(report: Result<Report, RunError>) -> anyhow::Result<Result<Report, ExitCode>> {
    match report {
        Ok(r) => Ok(Ok(r)),
        // Not bad input: the team's app did not come up; its output says why.
        Err(e @ (RunError::App(_) | RunError::Varnish(_))) => {
            eprintln!("error: {e}");
            Ok(Err(ExitCode::from(EXIT_RUN_FAILED)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The live metrics of `--metrics-addr` and their endpoint, listening; or
/// the exit code, having said why not (the address is taken, say).
fn start_metrics(
    args: &RunArgs,
    scenario: &ttlab_scenarios::Scenario,
    archs: &[ttlab_scenarios::model::ArchitectureConfig],
    runtime: &tokio::runtime::Runtime,
) -> Result<(Option<Arc<LiveMetrics>>, Option<MetricsEndpoint>), ExitCode> {
    let Some(addr) = args.metrics_addr else {
        return Ok((None, None));
    };
    let metrics = Arc::new(LiveMetrics::new(&RunFacts {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        warmup_s: u32::try_from(ttlab_reports::markers::warmup_seconds(scenario.warmup))
            .unwrap_or(u32::MAX),
        archs: archs.iter().map(|a| a.arch.as_str().to_owned()).collect(),
    }));
    match runtime.block_on(MetricsEndpoint::start(addr, metrics.clone())) {
        Ok(endpoint) => {
            eprintln!("metrics: {}", endpoint.url());
            Ok((Some(metrics), Some(endpoint)))
        }
        Err(e) => {
            eprintln!("error: --metrics-addr: {e}");
            Err(ExitCode::from(EXIT_BAD_INPUT))
        }
    }
}

/// The scenario with `--app` and `--app-url` applied, and the architectures
/// to run; or the exit code, having said why not.
fn prepare(
    args: &RunArgs,
) -> Result<
    (
        String,
        ttlab_scenarios::Scenario,
        Vec<ttlab_scenarios::model::ArchitectureConfig>,
    ),
    ExitCode,
> {
    let (shown, mut scenario) = super::scenario_or_exit(&args.scenario)?;
    let bad = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    apply_app_flags(&mut scenario, args, &shown).map_err(bad)?;
    if let Some(engine) = args.cdn.as_deref().and_then(CdnEngine::parse) {
        scenario.cdn = engine;
    }
    let archs = pick_archs(&scenario, &args.arch, &shown).ok_or(ExitCode::from(EXIT_BAD_INPUT))?;
    if args.target.is_none() {
        varnish_fits(&scenario, &archs, &shown)?;
    }
    if args.target.is_none() {
        app_fits(&scenario, &archs, &shown).map_err(bad)?;
    }
    page_views_fit(&scenario, args.page_views, &shown).map_err(bad)?;
    Ok((shown, scenario, archs))
}

/// `--page-views` bounds a closed loop only (also checked by `ttlab deploy k8s`
/// before it writes a Job that would fail on every pod).
pub fn page_views_fit(
    scenario: &ttlab_scenarios::Scenario,
    page_views: Option<u32>,
    shown: &str,
) -> Result<(), String> {
    if scenario.traffic.users().is_none() && page_views.is_some() {
        return Err(format!(
            "{shown}: --page-views counts a closed loop's page views per user; this scenario is open-loop ([traffic] {}), whose run sends the visits its schedule plans",
            scenario.traffic.load.key()
        ));
    }
    Ok(())
}

/// With Varnish as the cache: no team's app (the VCL tags pages by what
/// ttlab's origin names), and `varnishd` installed — checked before
/// anything starts, so a run that cannot use Varnish says at once why and
/// how to install it. Architectures without a CDN or edge run as usual.
fn varnish_fits(
    scenario: &ttlab_scenarios::Scenario,
    archs: &[ttlab_scenarios::model::ArchitectureConfig],
    shown: &str,
) -> Result<(), ExitCode> {
    if scenario.cdn != CdnEngine::Varnish || !archs.iter().any(|a| a.topology().front.is_some()) {
        return Ok(());
    }
    if scenario.app.is_some() {
        eprintln!(
            "error: {shown}: Varnish runs in front of ttlab's origin; with the team's app the CDN or edge is ttlab's (--cdn ttlab)"
        );
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    }
    if let Err(e) = ttlab_ssr_origin::varnish::binary::require() {
        eprintln!("error: --cdn varnish: {e}");
        return Err(ExitCode::from(EXIT_RUN_FAILED));
    }
    Ok(())
}

/// Where each architecture's app wrote its output, beside the report.
fn print_app_logs(report: &Report, report_json: &std::path::Path) {
    let dir = report_json.parent().unwrap_or(std::path::Path::new("."));
    for a in &report.architectures {
        if let Some(log) = a.app.as_ref().and_then(|app| app.log.as_ref()) {
            println!("app output ({}): {}", a.name, dir.join(log).display());
        }
    }
}

/// This machine's share and the page-view bound from the flags, checked
/// against the scenario's `users` before anything starts.
fn run_options(args: &RunArgs, users: u32) -> anyhow::Result<RunOptions> {
    // --worker-id requires --workers (clap); --workers takes its id from the flag or,
    // in a Kubernetes Indexed Job, from the pod's index.
    let worker_id = match args.workers {
        Some(_) => super::index_or_job_index(args.worker_id, "--worker-id")
            .map_err(|e| anyhow::anyhow!(e))?,
        None => None,
    };
    let share = match (worker_id, args.workers) {
        (Some(id), Some(of)) => {
            let share = Share::new(id, of)?;
            share.users(users)?;
            Some(share)
        }
        (None, Some(_)) => anyhow::bail!(
            "--workers needs --worker-id K (or {}, which a Kubernetes Indexed Job sets)",
            super::JOB_INDEX_VAR
        ),
        _ => None,
    };
    if args.page_views == Some(0) {
        anyhow::bail!("--page-views must be at least 1");
    }
    Ok(RunOptions {
        share,
        page_views: args.page_views,
        app_logs: None,
    })
}

/// `--app` and `--app-url` over the scenario's `[app]`: `--app` sets its
/// command (an app with every other default when the scenario has none,
/// run in the scenario file's folder, or the current one for a shipped
/// scenario named by name), `--app-url` its URL.
fn apply_app_flags(
    scenario: &mut ttlab_scenarios::Scenario,
    args: &RunArgs,
    shown: &str,
) -> Result<(), String> {
    if let Some(command) = &args.app {
        let command = command.trim();
        if command.is_empty() {
            return Err(
                "--app needs the command that starts your app, e.g. --app 'node server.mjs'"
                    .to_owned(),
            );
        }
        match &mut scenario.app {
            Some(app) => command.clone_into(&mut app.command),
            None => {
                // The scenario file's folder; a shipped scenario named by
                // name has none here: the current folder.
                let file = std::path::Path::new(shown);
                let dir = file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty() && file.is_file())
                    .unwrap_or(std::path::Path::new("."));
                scenario.app = Some(ttlab_scenarios::app::App::with_command(
                    command,
                    dir.to_path_buf(),
                ));
            }
        }
    }
    if let Some(url) = &args.app_url {
        let Some(app) = &mut scenario.app else {
            return Err(format!(
                "--app-url says where your app answers, but there is no app to start: give --app CMD, or an [app] table in {shown}"
            ));
        };
        app.url = ttlab_scenarios::app::parse_url(url)
            .map_err(|e| format!("--app-url: {}", e.message))?;
    }
    Ok(())
}

/// With the team's app, only the architectures that can run in front of
/// it; without one, none that needs it. A scenario's own `[app]` was
/// checked at validation; `--app` is checked here, before anything starts.
fn app_fits(
    scenario: &ttlab_scenarios::Scenario,
    archs: &[ttlab_scenarios::model::ArchitectureConfig],
    shown: &str,
) -> Result<(), String> {
    let Some(_) = &scenario.app else {
        return Ok(());
    };
    if let Some(a) = archs.iter().find(|a| a.cache.origin_replicas > 1) {
        return Err(format!(
            "--app: {} has origin_replicas = {}, copies of ttlab's origin; with your app ttlab starts one copy of it per architecture",
            a.arch, a.cache.origin_replicas
        ));
    }
    let misfits: Vec<&str> = archs
        .iter()
        .filter(|a| !a.arch.takes_app())
        .map(|a| a.arch.as_str())
        .collect();
    if misfits.is_empty() {
        return Ok(());
    }
    let fit: Vec<&str> = archs
        .iter()
        .filter(|a| a.arch.takes_app())
        .map(|a| a.arch.as_str())
        .collect();
    let hint = if fit.is_empty() {
        format!(
            "{shown} names none of {}: add one to its [[architectures]]",
            Architecture::with_app().join(", ")
        )
    } else {
        format!("pick those with --arch {}", fit.join(","))
    };
    Err(format!(
        "--app: {} {} a behaviour of ttlab's own origin, which your app cannot take on (with an app ttlab runs {}); {hint}",
        misfits.join(", "),
        if misfits.len() == 1 { "is" } else { "are" },
        Architecture::with_app().join(", ")
    ))
}

/// The dashboard stops a real run as Ctrl-C does.
struct RealRun;

impl RunControl for RealRun {
    fn stop(&self) {
        ttlab_loadgen::run::stop();
    }
}

/// One progress line a second about the architecture running, for its
/// seconds up to `last_s`, until the run finishes.
fn plain_lines(live: &Live, facts: Facts, last_s: u32) {
    let mut state = DashState::new(facts);
    let mut seen = (None, 0);
    while !live.finished() {
        std::thread::sleep(Duration::from_millis(100));
        state.apply(live.take());
        state.set_status(Status {
            current: live.current_arch(),
            ..Status::default()
        });
        let now = (
            state.status.current,
            state.status.current.map_or(0, |i| state.archs[i].now_s()),
        );
        // Goose's users finish their last page after the planned end: that
        // tail second is in the "done" line, not a line "6/5 s" of its own.
        if now != seen && now.1 > 0 && now.1 <= last_s {
            seen = now;
            eprintln!("{}", ttlab_dashboard::plain::line(&state));
        }
    }
}

/// A row of the summary: its label and how to show it for an architecture.
type Row = (&'static str, Box<dyn Fn(&ArchReport) -> String>);

/// The summary's rows, in order; what a run cannot know shows as "-".
fn summary_rows() -> Vec<Row> {
    let ms = |x: f64| format!("{x:.1} ms");
    vec![
        (
            "requests",
            Box::new(|a: &ArchReport| a.requests.to_string()),
        ),
        (
            "visits dropped",
            Box::new(|a: &ArchReport| {
                a.arrivals
                    .map_or("-".into(), |c| format!("{} of {}", c.dropped, c.planned))
            }),
        ),
        (
            "offload",
            Box::new(|a: &ArchReport| a.known_offload().map_or("-".into(), pct)),
        ),
        (
            "hit rate",
            Box::new(|a: &ArchReport| {
                a.layer.as_ref().map_or("-".into(), |l| {
                    format!("{} ({})", pct(l.hit_rate), a.layer_label(l))
                })
            }),
        ),
        (
            "origin renders",
            Box::new(|a: &ArchReport| a.known_renders().map_or("-".into(), |r| r.to_string())),
        ),
        (
            "Personalize calls",
            Box::new(|a: &ArchReport| a.origin.personalize_calls.to_string()),
        ),
        (
            "Delivery calls",
            Box::new(|a: &ArchReport| a.origin.delivery_calls.to_string()),
        ),
        ("fresh", Box::new(|a: &ArchReport| pct(a.rate("fresh")))),
        (
            "stale_variant",
            Box::new(|a: &ArchReport| pct(a.rate("stale_variant"))),
        ),
        (
            "stale_content",
            Box::new(|a: &ArchReport| pct(a.rate("stale_content"))),
        ),
        (
            "wrong_variant",
            Box::new(|a: &ArchReport| pct(a.rate("wrong_variant"))),
        ),
        ("leak", Box::new(|a: &ArchReport| pct(a.rate("leak")))),
        (
            "fallback",
            Box::new(|a: &ArchReport| pct(a.rate("fallback"))),
        ),
        ("error", Box::new(|a: &ArchReport| pct(a.rate("error")))),
        (
            "staleness p99",
            Box::new(move |a: &ArchReport| {
                if a.staleness.count == 0 {
                    "-".into()
                } else {
                    ms(a.staleness.p99_ms)
                }
            }),
        ),
        (
            "latency p50",
            Box::new(move |a: &ArchReport| ms(a.latency.all.p50_ms)),
        ),
        (
            "latency p99",
            Box::new(move |a: &ArchReport| ms(a.latency.all.p99_ms)),
        ),
    ]
}

/// The side-by-side table (one column per architecture), then the verdict.
pub fn summary(report: &Report) -> String {
    use std::fmt::Write as _;
    let archs = &report.architectures;
    let rows = summary_rows();
    let label_w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, f)| archs.iter().map(f).collect())
        .collect();
    let col_w: Vec<usize> = (0..archs.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].len())
                .chain(std::iter::once(archs[i].name.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!(
        "{} (seed {}), {} s per architecture{}\n",
        report.scenario,
        report.seed,
        report.duration_s,
        if report.warmup_s > 0.0 {
            format!(
                " (the first {} s warm-up, left out of these numbers)",
                report.warmup_s
            )
        } else {
            String::new()
        }
    );
    let _ = write!(out, "{:label_w$}", "");
    for (a, w) in archs.iter().zip(&col_w) {
        let _ = write!(out, "  {:>w$}", a.name);
    }
    out.push('\n');
    for ((label, _), row) in rows.iter().zip(&cells) {
        let _ = write!(out, "{label:label_w$}");
        for (cell, w) in row.iter().zip(&col_w) {
            let _ = write!(out, "  {cell:>w$}");
        }
        out.push('\n');
    }
    for line in ttlab_reports::verdict::verdict(report).lines() {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The architectures named with `--arch` (all of the scenario's when none),
/// or `None` after saying which name is unknown.
pub(crate) fn pick_archs(
    scenario: &ttlab_scenarios::Scenario,
    names: &[String],
    shown: &str,
) -> Option<Vec<ttlab_scenarios::model::ArchitectureConfig>> {
    if names.is_empty() {
        return Some(scenario.architectures.clone());
    }
    let mut picked: Vec<ttlab_scenarios::model::ArchitectureConfig> = Vec::new();
    for name in names {
        if picked.iter().any(|a| a.arch.as_str() == name.trim()) {
            eprintln!(
                "error: --arch names \"{}\" twice; name each architecture once",
                name.trim()
            );
            return None;
        }
        match scenario
            .architectures
            .iter()
            .find(|a| a.arch.as_str() == name.trim())
        {
            Some(a) => picked.push(a.clone()),
            None => {
                let known: Vec<_> = scenario
                    .architectures
                    .iter()
                    .map(|a| a.arch.as_str())
                    .collect();
                eprintln!(
                    "error: {shown} has no architecture \"{name}\"; it has: {}",
                    known.join(", ")
                );
                return None;
            }
        }
    }
    Some(picked)
}
