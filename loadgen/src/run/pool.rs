//! The arrival-rate executor: open-loop real runs on goose.
//!
//! goose runs closed loops only: each user repeats its transaction. Here
//! the transaction is "take the next planned visit, wait for its instant,
//! browse it": a pool of goose users shares one [`Schedule`] (the very one
//! the simulator pops), so visits start when the schedule says, whatever
//! the server does. A user takes the next visit as soon as it is free, so
//! a visit still in the schedule when its instant has passed found every
//! user busy: it is counted as dropped and skipped, never sent late (a late
//! send would slow the arrivals down to what the server can take, and hide
//! the overload: coordinated omission). Latency of a visit's first page
//! counts from its planned instant.
//!
//! goose takes about a second to start its users, so a local run's clock
//! (shared with the servers: the scenario's timeline) is a
//! [`ttlab_scenarios::GateClock`] that the pool starts once its last user
//! is up: the first visits find the pool ready. Against a target, whose
//! mocks' clock already runs, visits planned before the last user has
//! started are sent late, the lateness counted in their latency, not
//! dropped: the pool's start-up is the generator's, not the server's.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ttlab_reports::ArrivalCounts;
use ttlab_scenarios::{Micros, World};

use crate::schedule::{Schedule, Visit};
use crate::script::Share;

/// What the pool of one open-loop run shares.
pub struct OpenState {
    schedule: Mutex<Schedule>,
    /// This machine's share of the visits (visit `i` goes to worker `i mod of`).
    share: Share,
    /// Goose users in the pool.
    pub pool: u32,
    pub(super) started: AtomicU64,
    /// When the pool's last user started (µs on the run clock; `u64::MAX`
    /// before): visits planned earlier are sent late, not dropped.
    pub(super) ready_at: AtomicU64,
    planned: AtomicU64,
    dropped: AtomicU64,
    /// Visits planned before this are not the run's (a target's mocks
    /// started earlier): skipped, neither planned nor dropped.
    from: Micros,
}

impl OpenState {
    /// The open schedule of the world's scenario for `pool` users, or
    /// `None` for a closed loop.
    pub fn of(world: &World, pool: u32, share: Share) -> Option<OpenState> {
        Some(OpenState {
            schedule: Mutex::new(Schedule::of(world)?),
            share,
            pool,
            started: AtomicU64::new(0),
            ready_at: AtomicU64::new(u64::MAX),
            planned: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            from: Micros::ZERO,
        })
    }

    /// The same, for a run that starts at `from` on the timeline.
    #[must_use]
    pub fn from(self, from: Micros) -> Self {
        OpenState { from, ..self }
    }

    /// The counts when the run has ended at `end`: visits due before it
    /// that no user took found the pool busy to the last (dropped).
    pub fn finish(&self, world: &World, end: Micros) -> ArrivalCounts {
        while self.take(world, end).is_some_and(|v| v.at < end) {
            // Due and not taken: the pool was busy until the run ended.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.counts()
    }

    /// Planned and dropped so far.
    pub fn counts(&self) -> ArrivalCounts {
        ArrivalCounts {
            planned: self.planned.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            pool: Some(self.pool),
        }
    }

    /// The next visit of this machine's share to send at or after `now`,
    /// counting the ones past due as dropped; `None` when the schedule is
    /// done.
    pub(super) fn take(&self, world: &World, now: Micros) -> Option<Visit> {
        let ready_at = Micros(self.ready_at.load(Ordering::Relaxed));
        let mut schedule = self.schedule.lock().expect("schedule");
        loop {
            let visit = schedule.next_visit(world)?;
            if visit.at < self.from
                || visit.index % u64::from(self.share.of()) != u64::from(self.share.id())
            {
                continue;
            }
            self.planned.fetch_add(1, Ordering::Relaxed);
            if visit.at >= ready_at && visit.at < now {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return Some(visit);
        }
    }
}

/// The warning of a run that dropped visits: the pool, not the server,
/// limited what was sent, or the server was too slow for the pool.
pub(super) fn drop_warning(c: &ArrivalCounts) -> Option<String> {
    (c.dropped > 0).then(|| {
        format!(
            "{} of {} planned visits ({:.1}%) were dropped: every one of the pool's {} users was busy when they were due, so the server did not keep up (or the pool is too small: raise [traffic] pool)",
            c.dropped,
            c.planned,
            c.dropped as f64 * 100.0 / c.planned.max(1) as f64,
            c.pool.unwrap_or(0)
        )
    })
}
