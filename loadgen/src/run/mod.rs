//! `ttlab run`: real runs. For each architecture: the mocks and the
//! architecture's servers on loopback (port 0), goose users playing the
//! scenario's visitors closed-loop (think time between pages), every
//! response judged by the checker; then the counters of every layer and
//! mock, in one report (assembled by [`crate::report`]).
//!
//! One job per module: [`error`] why a run fails, [`options`] what the
//! caller asks for, [`progress`] what it is told; `local` runs one
//! architecture on loopback and `target` a run against an external origin;
//! `generate` runs goose (`attack`) on a runtime of its own and measures its
//! CPU (`procfs`); `context` is what one run's goose users share, `visitor`
//! one page view, `live_tick` the live view's seconds, `app` the team's
//! own app (`[app]`) that `local` starts in place of ttlab's origin.

mod app;
mod attack;
mod context;
mod error;
mod generate;
mod live_tick;
mod local;
mod open;
mod options;
mod pool;
mod process;
mod procfs;
mod progress;
mod sampler;
mod store_cut;
mod target;
pub mod varnish;
mod visitor;

pub use app::{AppError, STOP_GRACE, running_members};
pub use error::RunError;
pub use options::RunOptions;
pub use progress::{Progress, Quiet};
pub use target::{run_target, run_target_with};

use std::sync::Arc;
use std::time::SystemTime;

use ttlab_reports::Report;
use ttlab_scenarios::World;
use ttlab_scenarios::model::ArchitectureConfig;

use crate::report::{RunHeader, run_report};
use local::run_arch;
use options::users_of;

/// Refuses architectures that cannot run with (or without) the team's app,
/// as validation does for the scenario's own: a caller may have set or
/// dropped the app, or picked the architectures.
fn app_fits(app: bool, archs: &[ArchitectureConfig]) -> Result<(), RunError> {
    for a in archs {
        if app && !a.arch.takes_app() {
            return Err(RunError::Scenario(format!(
                "{} is a behaviour of ttlab's own origin; with the team's app run {}",
                a.arch,
                ttlab_scenarios::Architecture::with_app().join(", ")
            )));
        }
        if app && a.cache.origin_replicas > 1 {
            return Err(RunError::Scenario(format!(
                "{}: origin_replicas starts copies of ttlab's origin; with the team's app ttlab starts one copy of it",
                a.arch
            )));
        }
        if !app && a.arch.needs_app() {
            return Err(RunError::Scenario(format!(
                "{} judges the team's own app: the scenario needs an [app] table",
                a.arch
            )));
        }
    }
    Ok(())
}

/// Stops the run under way as Ctrl-C does (the dashboard's `q`): the
/// current architecture's attack ends through goose's kill switch, the
/// report holds what ran, and no further architecture starts. The kill
/// switch is process-wide (goose has no per-attack stop; see
/// `docs/decisions.md`).
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
    let users = users_of(&world, opts)?;
    let plan = opts.plan(users, s.duration.to_duration())?;
    app_fits(s.app.is_some(), archs)?;
    // Varnish that is not installed fails the run before anything starts.
    if s.cdn == ttlab_scenarios::model::CdnEngine::Varnish
        && archs.iter().any(|a| a.topology().front.is_some())
    {
        ttlab_ssr_origin::varnish::binary::require().map_err(varnish::VarnishError::from)?;
    }
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
    let header = RunHeader {
        mode: "real",
        started_at,
        interrupted: goose::is_killswitch_triggered(),
        page_views: opts.page_views,
        worker: opts.worker(),
    };
    let mut report = run_report(&world, header, reports, None);
    ttlab_reports::gate::apply(&mut report, archs);
    Ok(report)
}
