//! A scenario's traffic as the requests a site would log: every page view
//! the scenario's load model sends, at the instant it is sent, in time order,
//! with no server in the way (responses take no time).
//!
//! It walks the very visits the engines walk — the seeded [`Schedule`] of an
//! open model or a trace, each visit's [`Session`], and a closed loop's users
//! each with its own `Session` — so `ttlab traffic log` writes what a run
//! would send, not a second reading of the traffic rules:
//!
//! - **open sessions** (`session_rate`) and **single requests**
//!   (`arrival_rate`): each visit's first page at its planned instant, each
//!   next page one think time after the one before;
//! - **closed loop** (`users`): user `k` starts at `k / users` of the first
//!   second, as both engines start them, and asks its next page one think
//!   time after the last, session after session (the users' streams merged
//!   in time order);
//! - **trace**: the replayed requests at their mapped instants.
//!
//! Page views due at or after the end of the run are not sent, as in the
//! simulator. In a run, a response's time comes before the think time; in
//! the log it is zero, so a closed loop's log is what an infinitely fast
//! server would see, and an open model's is exactly what is offered.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use ttlab_scenarios::model::PageIdx;
use ttlab_scenarios::world::VisitorIdx;
use ttlab_scenarios::{Micros, World};

use crate::schedule::Schedule;
use crate::script::{PagePicker, Session};

/// One logged request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged {
    /// When it is sent, from the start of the run.
    pub at: Micros,
    /// Who sends it (an index into [`World::visitors`]).
    pub visitor: VisitorIdx,
    /// The page (an index into the scenario's pages).
    pub page: PageIdx,
}

/// The requests of a world's scenario in time order (an iterator: a long
/// run's log is never held in memory; only sessions in progress are).
pub struct TrafficLog<'w> {
    world: &'w World,
    picker: PagePicker,
    schedule: Option<Schedule>,
    /// Sessions with pages still to view, by when the next is due.
    due: BinaryHeap<Reverse<Due>>,
    /// Order of queueing: of two pages due at once, the one queued first
    /// goes first, as in the simulator's event queue.
    queued: u64,
    end: Micros,
    closed: bool,
}

/// A session's next page view, due at `at`.
struct Due {
    at: Micros,
    seq: u64,
    session: Session,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl<'w> TrafficLog<'w> {
    /// The traffic of `world`'s scenario, from the start of the run to its end.
    pub fn new(world: &'w World) -> Self {
        let s = world.scenario();
        let mut log = TrafficLog {
            world,
            picker: PagePicker::new(s),
            schedule: Schedule::of(world),
            due: BinaryHeap::new(),
            queued: 0,
            end: s.duration,
            closed: false,
        };
        if let Some(users) = s.traffic.users() {
            log.closed = true;
            for u in 0..users {
                // Users start evenly over the first second, as goose and
                // the simulator start them.
                let start = Micros(u64::from(u) * 1_000_000 / u64::from(users.max(1)));
                log.queue(start, Session::new(world, u, users));
            }
        }
        log
    }

    fn queue(&mut self, at: Micros, session: Session) {
        if at < self.end {
            self.due.push(Reverse(Due {
                at,
                seq: self.queued,
                session,
            }));
            self.queued += 1;
        }
    }

    /// `session`'s next page view at `at`, queueing the one after it.
    fn view(&mut self, at: Micros, mut session: Session) -> Logged {
        let (visitor, page, think) = session.next(self.world, &self.picker);
        if self.closed || session.left() > 0 {
            self.queue(at.saturating_add(think), session);
        }
        Logged { at, visitor, page }
    }
}

impl Iterator for TrafficLog<'_> {
    type Item = Logged;

    fn next(&mut self) -> Option<Logged> {
        let planned = self.schedule.as_ref().and_then(Schedule::peek);
        let queued = self.due.peek().map(|Reverse(d)| d.at);
        // A new visit goes first only when strictly earlier: at a tie the
        // page queued before it goes first, as in the simulator.
        if let Some(at) = planned
            && queued.is_none_or(|q| at < q)
        {
            let visit = self.schedule.as_mut()?.next_visit(self.world)?;
            return Some(self.view(visit.at, visit.session));
        }
        let Reverse(d) = self.due.pop()?;
        Some(self.view(d.at, d.session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(traffic: &str, duration: &str) -> World {
        let toml = format!(
            r#"
[scenario]
name = "t"
seed = 5
duration = "{duration}"
[traffic]
{traffic}
popularity = "zipf"
zipf_s = 1.0
[content]
[[content.entries]]
uid = "e"
content_type = "c"
[[content.page_sets]]
path = "/p/{{i}}"
count = 20
content_type = "p"
[[architectures]]
name = "ssr-nocache"
"#
        );
        World::new(ttlab_scenarios::parse_str("t.toml", &toml).expect("valid"))
    }

    /// Open sessions: the schedule's visits, each `pages_per_session`
    /// pages one think time apart (a fixed 2 s here), in time order, none
    /// at or past the end.
    #[test]
    fn open_sessions_are_the_schedules_visits_with_their_pages() {
        let w = world(
            "visitors = 1000\nsession_rate = 5\npages_per_session = 3\nthink_time = \"2s\"",
            "60s",
        );
        let log: Vec<Logged> = TrafficLog::new(&w).collect();
        assert!(log.windows(2).all(|p| p[0].at <= p[1].at), "time order");
        assert!(log.iter().all(|r| r.at < w.scenario().duration));
        let mut schedule = Schedule::of(&w).unwrap();
        let (mut visits, mut expected) = (0, 0);
        while let Some(v) = schedule.next_visit(&w) {
            visits += 1;
            for k in 0..3_u64 {
                let at = Micros(v.at.0 + k * 2_000_000);
                if at < w.scenario().duration {
                    expected += 1;
                    assert!(
                        log.iter()
                            .any(|r| r.at == at && r.visitor == v.session.visitor),
                        "visit {} page {k}",
                        v.index
                    );
                }
            }
        }
        assert!(visits > 200, "5 a second for a minute: {visits}");
        assert_eq!(log.len(), expected, "no more lines than those pages");
        let again: Vec<Logged> = TrafficLog::new(&w).collect();
        assert_eq!(log, again, "the same seed, the same log");
    }

    /// A closed loop: each user's requests one think time apart from its
    /// start, all users' streams merged in time order.
    #[test]
    fn a_closed_loop_is_each_users_stream_merged() {
        let w = world(
            "visitors = 100\nusers = 4\npages_per_session = 2\nthink_time = \"1s\"",
            "10s",
        );
        let log: Vec<Logged> = TrafficLog::new(&w).collect();
        // User k starts at k/4 s and asks every second: 10 requests each.
        assert_eq!(log.len(), 40);
        for (i, r) in log.iter().enumerate() {
            let (second, user) = (i as u64 / 4, i as u64 % 4);
            assert_eq!(r.at, Micros(second * 1_000_000 + user * 250_000), "{i}");
        }
        // User 0 plays visitors 0, 4, 8, … two pages each.
        let user0: Vec<u32> = log.iter().step_by(4).map(|r| r.visitor).collect();
        assert_eq!(user0, [0, 0, 4, 4, 8, 8, 12, 12, 16, 16]);
    }
}
