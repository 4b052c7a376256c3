//! `ttlab run --target URL --mocks URL`: judge an origin ttlab did not
//! start — the user's own app, pointed at `ttlab serve mocks` — from the
//! content tokens of its pages alone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ttlab_reports::{MockCounters, OriginLoad, Report, target_name};
use ttlab_scenarios::{Micros, Scenario, SystemClock, World};

use super::context::RunContext;
use super::error::RunError;
use super::generate::generate;
use super::options::{RunOptions, users_of};
use super::pool::OpenState;
use super::progress::Progress;
use crate::check::Checker;
use crate::record::Recorder;
use crate::report::{RunHeader, arch_report, run_report};
use crate::script::{PagePicker, Share};

/// Counts of the external mocks, read from their `/metrics`.
async fn mock_load(http: &reqwest::Client, mocks_url: &str) -> OriginLoad {
    let text = match http.get(format!("{mocks_url}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let sum = |api: &str, endpoints: &[&str]| -> u64 {
        text.lines()
            .filter(|l| l.starts_with("ttlab_mock_requests_total{"))
            .filter(|l| {
                l.contains(&format!("api=\"{api}\""))
                    && endpoints
                        .iter()
                        .any(|e| l.contains(&format!("endpoint=\"{e}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    OriginLoad {
        requests: 0,
        renders: 0,
        personalize_calls: sum("personalize", &["manifest"]),
        delivery_calls: sum(
            "delivery",
            &ttlab_mock_apis::metrics::Endpoint::DELIVERY_CALLS
                .map(ttlab_mock_apis::metrics::Endpoint::as_str),
        ),
    }
}

/// Whether the mocks' `/_ttlab/health` answer says they serve this very
/// scenario: same name, same seed, same file text (hash). Judging by mocks
/// started from another file or seed reads a correct origin as wrong: the
/// truth differs. `Ok(Some(warning))` when the mocks' clock is already past
/// the scenario's timeline: every change is over, so stale answers cannot
/// happen and the run measures a world at rest.
fn same_scenario(
    health: &serde_json::Value,
    s: &Scenario,
    mocks_url: &str,
) -> Result<Option<String>, String> {
    let restart = "start them with this scenario file (ttlab serve mocks FILE)";
    if health["scenario"].as_str() != Some(s.name.as_str()) {
        return Err(format!(
            "the mocks at {mocks_url} serve scenario {}, not \"{}\": {restart}",
            health["scenario"], s.name
        ));
    }
    match health["seed"].as_u64() {
        Some(seed) if seed != s.seed => {
            return Err(format!(
                "the mocks at {mocks_url} run scenario \"{}\" with seed {seed}, this file has seed {}: every visitor's truth differs; {restart}",
                s.name, s.seed
            ));
        }
        Some(_) => {}
        None => {
            return Err(format!(
                "the mocks at {mocks_url} do not say their seed: they are from another ttlab version; {restart}"
            ));
        }
    }
    let ours = format!("{:016x}", s.source_hash);
    match health["scenario_hash"].as_str() {
        Some(theirs) if theirs != ours => {
            return Err(format!(
                "the mocks at {mocks_url} were started from another version of scenario \"{}\" (file hash {theirs}, this file {ours}): {restart}",
                s.name
            ));
        }
        Some(_) => {}
        None => {
            return Err(format!(
                "the mocks at {mocks_url} do not say their scenario hash: they are from another ttlab version; {restart}"
            ));
        }
    }
    let now = Micros(health["now_us"].as_u64().unwrap_or(0));
    Ok((now > s.duration).then(|| {
        format!(
            "the mocks' clock is at {:.0} s, past the scenario's {:.0} s timeline: every change has happened, so nothing can go stale; restart the mocks to replay the timeline",
            now.as_secs_f64(),
            s.duration.as_secs_f64()
        )
    }))
}

/// Runs the scenario's visitors against `target`, judging by the truth of
/// the mocks at `mocks_url` (the Personalize URL `ttlab serve mocks`
/// printed), whose run clock this run adopts.
pub async fn run_target(
    world: Arc<World>,
    target: &str,
    mocks_url: &str,
    progress: &dyn Progress,
) -> Result<Report, RunError> {
    run_target_with(world, target, mocks_url, &RunOptions::default(), progress).await
}

/// [`run_target`], for this machine's share of the users and, if asked, a
/// fixed number of page views per user. The mocks' calls are counted over
/// this machine's own run, so with several workers at once each counts the
/// others' calls too (see `docs/decisions.md`).
pub async fn run_target_with(
    world: Arc<World>,
    target: &str,
    mocks_url: &str,
    opts: &RunOptions,
    progress: &dyn Progress,
) -> Result<Report, RunError> {
    let s = world.scenario();
    let users = users_of(&world, opts)?;
    let plan = opts.plan(users, s.duration.to_duration())?;
    let http = reqwest::Client::new();
    let mocks_url = mocks_url.trim_end_matches('/');
    let health: serde_json::Value = http
        .get(format!("{mocks_url}/_ttlab/health"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| RunError::Scenario(format!("cannot reach the mocks at {mocks_url}: {e}")))?
        .json()
        .await
        .map_err(|e| {
            RunError::Scenario(format!(
                "{mocks_url}/_ttlab/health did not answer like ttlab's mocks: {e}"
            ))
        })?;
    let clock_warning = same_scenario(&health, s, mocks_url).map_err(RunError::Scenario)?;
    if let Some(w) = &clock_warning {
        progress.warn(w);
    }
    // Adopt the mocks' run clock, so truth is judged at the instants they answer by.
    let now_us = health["now_us"].as_u64().unwrap_or(0);
    let clock = SystemClock::starting_at(
        Instant::now()
            .checked_sub(Duration::from_micros(now_us))
            .unwrap_or_else(Instant::now),
    );
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    goose::reset_killswitch();
    let ctx = Arc::new(RunContext {
        world: world.clone(),
        clock: Arc::new(clock),
        gate: None,
        checker: Checker::new(world.clone()),
        pages: PagePicker::new(s),
        recorder: Mutex::new(
            Recorder::default().warming(ttlab_reports::markers::warmup_seconds(s.warmup)),
        ),
        sent_changes: (0..s.traffic.visitors)
            .map(|_| std::sync::atomic::AtomicU32::new(0))
            .collect(),
        personalize_url: mocks_url.to_owned(),
        cache_layer: Some("*"),
        tally: None,
        entry_urls: Vec::new(),
        users,
        share: opts.share.unwrap_or(Share::ALL),
        http: http.clone(),
        stop_at: None,
        // The mocks' timeline has run for `now_us`: visits planned before
        // it are not this run's.
        open: OpenState::of(&world, plan.users, opts.share.unwrap_or(Share::ALL))
            .map(|o| o.from(Micros(now_us))),
    });
    let target = target.trim_end_matches('/').to_owned();
    let before = mock_load(&http, mocks_url).await;
    progress.start_target(&target, s.duration.to_duration());
    let generated = generate(target.clone(), plan, ctx.clone()).await;
    let (outcome, elapsed, cpu) = (generated.outcome, generated.elapsed, generated.cpu);
    outcome?;
    let after = mock_load(&http, mocks_url).await;
    let origin = after.combine(&before, u64::saturating_sub);
    let rec = ctx.recorder.lock().expect("recorder");
    // Named as a target, its offload is 0: the origin's requests are not seen.
    let mut report = arch_report(
        &target_name(&target),
        &rec,
        origin,
        None,
        elapsed,
        Some(cpu),
        &[],
    );
    report.mock_counters = Some(MockCounters { before, after });
    report.warnings.extend(clock_warning);
    if let Some(open) = &ctx.open {
        let counts = open.finish(&world, ctx.clock_now());
        report.warnings.extend(super::pool::drop_warning(&counts));
        report.arrivals = Some(counts);
    }
    report.warnings.push("an external origin: ttlab sees no cache counters or origin requests, only answers and the mocks' calls".to_owned());
    progress.done(&report);
    let header = RunHeader {
        mode: "real",
        started_at,
        interrupted: goose::is_killswitch_triggered(),
        page_views: opts.page_views,
        worker: opts.worker(),
    };
    Ok(run_report(&world, header, vec![report], None))
}
