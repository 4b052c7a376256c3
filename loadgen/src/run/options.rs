//! How much of the scenario's load a run generates, and until when: the
//! caller's options, and the plan goose is given from them.

use std::time::Duration;

use ttlab_reports::Worker;
use ttlab_scenarios::World;

use super::error::RunError;
use crate::script::Share;

/// How much of the scenario's load this run generates, and until when.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// This load machine's share of the users (`--worker-id K --workers
    /// N`); `None` runs them all and writes no `worker` in the report.
    pub share: Option<Share>,
    /// Each user makes exactly this many page views and stops, and the
    /// run ends when all have (`--page-views N`) instead of after the
    /// scenario's duration: the visitor script, and so every count that
    /// depends only on it, is then the same on every run.
    pub page_views: Option<u32>,
    /// With the team's app (`[app]`): the folder its output goes to, one
    /// `app-<architecture>.log` per architecture (the report's folder, made
    /// if needed); `None` keeps only its last lines, for errors.
    pub app_logs: Option<std::path::PathBuf>,
}

impl RunOptions {
    /// The goose users this machine runs (of the scenario's `users`).
    pub(super) fn plan(&self, users: u32, duration: Duration) -> Result<Plan, RunError> {
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
    pub(super) fn worker(&self) -> Option<Worker> {
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

/// The goose users of the scenario's run: its closed-loop users, or the
/// pool that takes an open loop's arrivals (an open run counts visits by
/// its schedule, so `--page-views` applies to closed loops only).
pub(super) fn users_of(world: &World, opts: &RunOptions) -> Result<u32, RunError> {
    let s = world.scenario();
    if s.traffic.users().is_none() && opts.page_views.is_some() {
        return Err(RunError::Scenario(format!(
            "scenario \"{}\" is open-loop: --page-views counts a closed loop's page views per user; an open run sends the visits its schedule plans",
            s.name
        )));
    }
    Ok(ttlab_scenarios::pool::goose_users(&s.traffic))
}
