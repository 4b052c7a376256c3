//! The report of a whole run: what every mode writes around its
//! architectures.

use ttlab_reports::{ArchReport, Report, SCHEMA_VERSION, SweepReport, Worker};
use ttlab_scenarios::World;

/// How a run went, apart from its architectures.
pub(crate) struct RunHeader {
    /// `real` or `sim`.
    pub mode: &'static str,
    /// Wall-clock start, RFC 3339 (fixed for the simulator, so its reports
    /// are reproducible).
    pub started_at: String,
    /// Whether the run was stopped early.
    pub interrupted: bool,
    /// Each user's page views when the run was bounded by a count.
    pub page_views: Option<u32>,
    /// This load machine's share of the users, when one of several.
    pub worker: Option<Worker>,
}

/// The report of a run of the world's scenario: `architectures` (and a
/// sweep's) under `header`. Thresholds are not evaluated here: callers that
/// have the architectures' configurations apply the gate.
pub(crate) fn run_report(
    world: &World,
    header: RunHeader,
    architectures: Vec<ArchReport>,
    sweep: Option<SweepReport>,
) -> Report {
    let s = world.scenario();
    Report {
        schema_version: SCHEMA_VERSION,
        mode: header.mode.to_owned(),
        scenario: s.name.clone(),
        seed: s.seed,
        started_at: header.started_at,
        duration_s: s.duration.as_secs_f64(),
        interrupted: header.interrupted,
        architectures,
        sweep,
        markers: ttlab_reports::markers::of_world(world),
        page_views: header.page_views,
        worker: header.worker,
        merged_workers: None,
        warmup_s: ttlab_reports::markers::warmup_seconds(s.warmup) as f64,
    }
}
