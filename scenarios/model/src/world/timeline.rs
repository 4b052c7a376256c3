//! Expansion of timeline rules into concrete, time-ordered events.

use rand::Rng;
use rand::seq::index;

use crate::model::{AttrIdx, EntryIdx, ExpIdx, Scenario, TimelineRule, ValueIdx, VariantRef};
use crate::time::Micros;

use super::seeds::{Purpose, StreamRng, stream};

/// Index of a visitor in the world.
pub type VisitorIdx = u32;

/// One change in the world at one instant.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// A visitor's attribute takes a new value.
    AttributeChange {
        /// Who.
        visitor: VisitorIdx,
        /// Which attribute.
        attribute: AttrIdx,
        /// The new value.
        value: ValueIdx,
    },
    /// An experience starts or stops.
    SetActive {
        /// Which.
        experience: ExpIdx,
        /// Running after.
        active: bool,
    },
    /// An A/B experience's splits change.
    SetSplits {
        /// Which.
        experience: ExpIdx,
        /// Percent per variant.
        splits: Vec<f64>,
    },
    /// An entry (or one of its variants) is published: its version goes up.
    Publish {
        /// Which entry.
        entry: EntryIdx,
        /// One variant only, or the base entry.
        variant: Option<VariantRef>,
    },
}

/// An event at a time. Events at the same time apply in `seq` order.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When it takes effect (inclusive: the world at `at` includes it).
    pub at: Micros,
    /// Tie-breaker: order of generation.
    pub seq: u64,
    /// What happens.
    pub kind: EventKind,
}

/// An attribute change whose value is still to be drawn.
pub(super) struct PendingChange {
    pub at: Micros,
    pub seq: u64,
    pub visitor: VisitorIdx,
    pub attribute: AttrIdx,
    pub value: Option<ValueIdx>,
}

/// Exponential gap with the given mean, in microseconds.
fn exp_gap(rng: &mut StreamRng, mean_us: f64) -> u64 {
    let u: f64 = rng.random();
    (-(1.0 - u).ln() * mean_us).round().max(1.0) as u64
}

/// Poisson arrival times at `rate` per second in [from, until).
fn poisson_times(rng: &mut StreamRng, from: Micros, until: Micros, rate: f64) -> Vec<Micros> {
    let mean = 1e6 / rate;
    let mut out = Vec::new();
    let mut t = from.0;
    loop {
        t = t.saturating_add(exp_gap(rng, mean));
        if t >= until.0 {
            return out;
        }
        out.push(Micros(t));
    }
}

/// Expands every rule. Attribute changes come back pending (their values
/// depend on each visitor's history and are drawn afterwards, in time order).
#[allow(clippy::too_many_lines)] // one arm per rule kind
pub(super) fn expand(scenario: &Scenario) -> (Vec<Event>, Vec<PendingChange>) {
    let visitors = scenario.traffic.visitors;
    let mut events = Vec::new();
    let mut changes = Vec::new();
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        seq
    };
    for (ri, rule) in scenario.timeline.iter().enumerate() {
        let mut rng = stream(scenario.seed, Purpose::TimelineRule, ri as u64);
        match rule {
            TimelineRule::AttributeStorm {
                at,
                attribute,
                fraction,
                value,
            } => {
                let n = ((f64::from(visitors) * fraction).round() as usize).min(visitors as usize);
                let mut chosen = index::sample(&mut rng, visitors as usize, n).into_vec();
                chosen.sort_unstable();
                for v in chosen {
                    changes.push(PendingChange {
                        at: *at,
                        seq: next(),
                        visitor: v as VisitorIdx,
                        attribute: *attribute,
                        value: *value,
                    });
                }
            }
            TimelineRule::AttributeRate {
                from,
                until,
                attribute,
                rate,
                value,
            } => {
                for at in poisson_times(&mut rng, *from, *until, *rate) {
                    let v = rng.random_range(0..visitors);
                    changes.push(PendingChange {
                        at,
                        seq: next(),
                        visitor: v,
                        attribute: *attribute,
                        value: *value,
                    });
                }
            }
            TimelineRule::AttributeDrift {
                from,
                until,
                attribute,
                mean_interval,
                value,
            } => {
                for v in 0..visitors {
                    for at in
                        poisson_times(&mut rng, *from, *until, 1.0 / mean_interval.as_secs_f64())
                    {
                        changes.push(PendingChange {
                            at,
                            seq: next(),
                            visitor: v,
                            attribute: *attribute,
                            value: *value,
                        });
                    }
                }
            }
            TimelineRule::SetActive {
                at,
                experience,
                active,
            } => events.push(Event {
                at: *at,
                seq: next(),
                kind: EventKind::SetActive {
                    experience: *experience,
                    active: *active,
                },
            }),
            TimelineRule::SetSplits {
                at,
                experience,
                splits,
            } => events.push(Event {
                at: *at,
                seq: next(),
                kind: EventKind::SetSplits {
                    experience: *experience,
                    splits: splits.clone(),
                },
            }),
            TimelineRule::PublishAt {
                at,
                entries,
                variant,
            } => {
                for e in entries {
                    events.push(Event {
                        at: *at,
                        seq: next(),
                        kind: EventKind::Publish {
                            entry: *e,
                            variant: *variant,
                        },
                    });
                }
            }
            TimelineRule::PublishRate {
                from,
                until,
                rate,
                pool,
                variant,
            } => {
                if pool.is_empty() {
                    continue;
                }
                for at in poisson_times(&mut rng, *from, *until, *rate) {
                    let e = pool[rng.random_range(0..pool.len())];
                    events.push(Event {
                        at,
                        seq: next(),
                        kind: EventKind::Publish {
                            entry: e,
                            variant: *variant,
                        },
                    });
                }
            }
            // The truth does not change: the engines read the window from
            // the rule (`Scenario::store_outages`).
            TimelineRule::StoreOutage { .. } => {}
        }
    }
    (events, changes)
}
