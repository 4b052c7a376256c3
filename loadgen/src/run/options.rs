//! How much of the scenario's load a run generates, and until when: the
//! caller's options, and the plan goose is given from them.

use std::time::Duration;

use ttlab_reports::Worker;
use ttlab_scenarios::World;

use super::error::RunError;
use crate::script::Share;

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

/// The closed-loop users of the scenario, or why it cannot run for real.
pub(super) fn users_of(world: &World) -> Result<u32, RunError> {
    let s = world.scenario();
    s.traffic.users.ok_or_else(|| {
        RunError::Scenario(format!(
            "scenario \"{}\" has no [traffic] users: real runs are closed-loop (users with think time); add users = N",
            s.name
        ))
    })
}
