//! The open-loop schedule both engines follow: when each visit is planned
//! and which visit it is. Poisson arrivals of the scenario's rate curve
//! (each a [`Session::open`] from the seed and its number), or a trace's
//! requests in time order (each a [`Session::replayed`]).
//!
//! The simulator pops visits as events; a real run's arrival-rate executor
//! hands them to its pool of goose users. The same seed gives both the same
//! visits at the same planned instants.

use std::sync::Arc;

use ttlab_scenarios::arrivals::Arrivals;
use ttlab_scenarios::model::{Load, Replay};
use ttlab_scenarios::{Micros, World};

use crate::script::Session;

/// A planned visit: when, and whose.
#[derive(Clone)]
pub struct Visit {
    /// The planned instant: latency is measured from it, not from when a
    /// request could be sent (no coordinated omission).
    pub at: Micros,
    /// Its number in the schedule, from zero.
    pub index: u64,
    /// The visitor and pages.
    pub session: Session,
}

/// The visits of an open-loop scenario, in planned order.
pub enum Schedule {
    /// Poisson arrivals of a rate curve.
    Poisson(Arrivals),
    /// A trace's requests.
    Replay {
        /// The mapped trace.
        replay: Arc<Replay>,
        /// The next request's index.
        next: usize,
    },
}

impl Schedule {
    /// The schedule of the world's scenario until its end, or `None` for a
    /// closed loop (whose users pace themselves).
    pub fn of(world: &World) -> Option<Schedule> {
        let s = world.scenario();
        match &s.traffic.load {
            Load::Closed { .. } => None,
            Load::Sessions { rate } | Load::Requests { rate } => {
                Some(Schedule::Poisson(Arrivals::new(rate, s.seed, s.duration)))
            }
            Load::Trace(replay) => Some(Schedule::Replay {
                replay: replay.clone(),
                next: 0,
            }),
        }
    }

    /// When the next visit is planned, without taking it.
    pub fn peek(&self) -> Option<Micros> {
        match self {
            Schedule::Poisson(a) => a.peek(),
            Schedule::Replay { replay, next } => replay.requests.get(*next).map(|r| r.at),
        }
    }

    /// The next visit.
    pub fn next_visit(&mut self, world: &World) -> Option<Visit> {
        match self {
            Schedule::Poisson(a) => a.next().map(|a| Visit {
                at: a.at,
                index: a.index,
                session: Session::open(world, a.index),
            }),
            Schedule::Replay { replay, next } => {
                let r = replay.requests.get(*next)?;
                let index = *next as u64;
                *next += 1;
                Some(Visit {
                    at: r.at,
                    index,
                    session: Session::replayed(r.visitor, r.page),
                })
            }
        }
    }
}
