//! The world: visitors, their attributes over time, experiences over time and
//! entry versions over time — deterministic from the scenario and its seed.
//!
//! Two functions decide truth, and nothing else does:
//! [`World::variants_of`] (the variants of visitor u at time t) and
//! [`World::entry_version`] (the current version of entry e for variant v at
//! time t). The mock APIs answer with them, the simulator runs on them and the
//! checker judges by them.

mod seeds;
mod timeline;
mod variants;

use std::collections::HashMap;

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;

use crate::alias;
use crate::model::{
    Assignment, AttrIdx, EntryIdx, ExpIdx, PageIdx, Scenario, ValueIdx, VarIdx, VariantRef,
};
use crate::time::Micros;

pub use seeds::split_position;
pub use timeline::{Event, EventKind, VisitorIdx};
pub use variants::{ExperienceState, MAX_EXPERIENCES, VariantSet, assign};

use seeds::{Purpose, stream};

/// A visitor of the population.
#[derive(Clone, Debug, PartialEq)]
pub struct Visitor {
    /// The Personalize user uid (a UUID, as the real API issues).
    pub uid: String,
    /// Attribute values at the start, one per scenario attribute.
    pub initial: Vec<ValueIdx>,
    /// Attribute changes, in time order.
    pub changes: Vec<AttributeChange>,
}

/// One change of one attribute of one visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributeChange {
    /// When (inclusive).
    pub at: Micros,
    /// Which attribute.
    pub attribute: AttrIdx,
    /// The new value.
    pub value: ValueIdx,
}

/// Publish history of one entry.
#[derive(Clone, Debug, Default, PartialEq)]
struct EntryHistory {
    /// Times of base-entry publishes (every variant inherits them), sorted.
    base: Vec<Micros>,
    /// Times of publishes of single variants, sorted per variant.
    variants: Vec<(VariantRef, Vec<Micros>)>,
}

/// The world of one scenario.
#[derive(Clone, Debug)]
pub struct World {
    scenario: Scenario,
    visitors: Vec<Visitor>,
    by_uid: HashMap<String, VisitorIdx>,
    /// Per experience: states in time order, the first at time zero.
    experience_states: Vec<Vec<(Micros, ExperienceState)>>,
    entries: Vec<EntryHistory>,
    /// Every event (attribute changes included), in application order.
    events: Vec<Event>,
    /// Per page: bit i set when one of its entries has variants of experience i.
    page_masks: Vec<u64>,
}

/// The uid of visitor `index` under `seed`: a version-4-shaped UUID.
pub fn visitor_uid(seed: u64, index: VisitorIdx) -> String {
    let a = seeds::key(seed, Purpose::VisitorUid, u64::from(index));
    let b = seeds::key(a, Purpose::VisitorUid, u64::from(index));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

impl World {
    /// Builds the world of a validated scenario.
    pub fn new(scenario: Scenario) -> World {
        let mut visitors = population(&scenario);
        let by_uid = visitors
            .iter()
            .enumerate()
            .map(|(i, v)| (v.uid.clone(), i as VisitorIdx))
            .collect();
        let (mut events, pending) = timeline::expand(&scenario);
        events.extend(resolve_changes(&scenario, &mut visitors, pending));
        events.sort_by_key(|e| (e.at, e.seq));
        let (experience_states, entries) = histories(&scenario, &events);
        let page_masks = scenario
            .content
            .pages
            .iter()
            .map(|p| {
                p.entries.iter().fold(0u64, |m, e| {
                    scenario.content.entries[*e as usize]
                        .variants
                        .iter()
                        .fold(m, |m, v| m | (1u64 << v.experience))
                })
            })
            .collect();
        World {
            scenario,
            visitors,
            by_uid,
            experience_states,
            entries,
            events,
            page_masks,
        }
    }

    /// The scenario the world was built from.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Every visitor, by index.
    pub fn visitors(&self) -> &[Visitor] {
        &self.visitors
    }

    /// A visitor's index by uid.
    pub fn visitor_index(&self, uid: &str) -> Option<VisitorIdx> {
        self.by_uid.get(uid).copied()
    }

    /// Every event, in the order it applies.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Value of `attribute` of visitor `v` at `t`.
    pub fn attribute_at(&self, v: VisitorIdx, attribute: AttrIdx, t: Micros) -> ValueIdx {
        let visitor = &self.visitors[v as usize];
        let upto = visitor.changes.partition_point(|c| c.at <= t);
        visitor.changes[..upto]
            .iter()
            .rev()
            .find(|c| c.attribute == attribute)
            .map_or(visitor.initial[attribute], |c| c.value)
    }

    /// Every attribute value of visitor `v` at `t`.
    pub fn attributes_at(&self, v: VisitorIdx, t: Micros) -> Vec<ValueIdx> {
        let visitor = &self.visitors[v as usize];
        let mut values = visitor.initial.clone();
        for c in visitor.changes.iter().take_while(|c| c.at <= t) {
            values[c.attribute] = c.value;
        }
        values
    }

    /// The state of experience `e` at `t`.
    pub fn experience_state(&self, e: ExpIdx, t: Micros) -> &ExperienceState {
        let states = &self.experience_states[usize::from(e)];
        let i = states.partition_point(|(at, _)| *at <= t);
        &states[i.max(1) - 1].1
    }

    /// **Truth**: the variants of visitor `v` at time `t`, one per experience
    /// in priority order.
    pub fn variants_of(&self, v: VisitorIdx, t: Micros) -> VariantSet {
        // Attributes are read as the rules ask for them: no allocation.
        let visitor = &self.visitors[v as usize];
        let changes = &visitor.changes[..visitor.changes.partition_point(|c| c.at <= t)];
        let value_of = |a: AttrIdx| {
            Some(
                changes
                    .iter()
                    .rev()
                    .find(|c| c.attribute == a)
                    .map_or(visitor.initial[a], |c| c.value),
            )
        };
        self.variants_for(&visitor.uid, &value_of, t)
    }

    /// The variants of any visitor, given its uid and attribute values, at
    /// `t`: the same rule as [`World::variants_of`], for visitors that are
    /// not in the population (an SDK client of the mock API, say).
    pub fn variants_for(
        &self,
        uid: &str,
        value_of: &impl Fn(AttrIdx) -> Option<ValueIdx>,
        t: Micros,
    ) -> VariantSet {
        let mut set = VariantSet::none(self.scenario.experiences.len());
        for (i, exp) in self.scenario.experiences.iter().enumerate() {
            let e = i as ExpIdx;
            set.set(e, assign(exp, self.experience_state(e, t), uid, value_of));
        }
        set
    }

    /// Whether experience `e` runs at `t` (the manifest lists only those).
    pub fn is_active(&self, e: ExpIdx, t: Micros) -> bool {
        self.experience_state(e, t).active
    }

    /// The variant of `entry` that a visitor with `variants` is served: the
    /// highest-priority experience in which the visitor has a variant the
    /// entry has; `None` is the base entry.
    pub fn served_variant(&self, entry: EntryIdx, variants: &VariantSet) -> Option<VariantRef> {
        self.scenario.content.entries[entry as usize]
            .variants
            .iter()
            .find(|r| variants.has(r.experience, r.variant))
            .copied()
    }

    /// **Truth**: the version of `entry` as seen under `variant` (`None`: the
    /// base entry) at `t`. Starts at 1; every base publish raises every
    /// variant's version, a variant publish raises only that variant's.
    pub fn entry_version(&self, entry: EntryIdx, variant: Option<VariantRef>, t: Micros) -> u32 {
        let h = &self.entries[entry as usize];
        let base = h.base.partition_point(|at| *at <= t);
        let own = variant
            .and_then(|v| h.variants.iter().find(|(r, _)| *r == v))
            .map_or(0, |(_, times)| times.partition_point(|at| *at <= t));
        1 + (base + own) as u32
    }

    /// When version `version` of (`entry`, `variant`) was superseded: the
    /// instant of the `version`-th publish that counts for it (base publishes
    /// and its own), so that [`World::entry_version`] exceeds `version` from
    /// then on. `None` while it is still current. The inverse of
    /// `entry_version`, for the staleness of stale content.
    pub fn superseded_at(
        &self,
        entry: EntryIdx,
        variant: Option<VariantRef>,
        version: u32,
    ) -> Option<Micros> {
        let history = &self.entries[entry as usize];
        let own: &[Micros] = variant
            .and_then(|v| history.variants.iter().find(|(r, _)| *r == v))
            .map_or(&[], |(_, times)| times.as_slice());
        if version == 0 {
            return Some(Micros::ZERO);
        }
        // The `version`-th earliest of the two sorted lists, merged.
        let mut base = history.base.iter().peekable();
        let mut own = own.iter().peekable();
        let mut counted = 0;
        loop {
            let next = match (base.peek(), own.peek()) {
                (Some(b), Some(o)) if b <= o => base.next(),
                (_, Some(_)) => own.next(),
                (Some(_), None) => base.next(),
                (None, None) => return None,
            };
            counted += 1;
            if counted == version {
                return next.copied();
            }
        }
    }

    /// When what `variant` of `entry` shows last changed, at or before `t`
    /// (`None`: never published since the start).
    pub fn last_publish(
        &self,
        entry: EntryIdx,
        variant: Option<VariantRef>,
        t: Micros,
    ) -> Option<Micros> {
        let h = &self.entries[entry as usize];
        let last = |times: &[Micros]| {
            times[..times.partition_point(|at| *at <= t)]
                .last()
                .copied()
        };
        let own = variant
            .and_then(|v| h.variants.iter().find(|(r, _)| *r == v))
            .and_then(|(_, times)| last(times));
        last(&h.base).max(own)
    }

    /// Experiences (bit i = experience i) whose variants the entries of
    /// `page` have: what a `page`-scoped variant key keeps.
    pub fn page_experience_mask(&self, page: PageIdx) -> u64 {
        self.page_masks[page as usize]
    }

    /// The alias of a variant, as Contentstack writes it (see [`alias`]).
    pub fn alias(&self, v: VariantRef) -> String {
        let (exp, var) = self.variant_uids(v);
        alias::format(exp, var)
    }

    /// The short form of a variant in the SDK's URL param (see [`alias`]).
    pub fn short_alias(&self, v: VariantRef) -> String {
        let (exp, var) = self.variant_uids(v);
        alias::format_short(exp, var)
    }

    /// The variant an alias names; `None` for anything else, such as an
    /// alias of a variant the scenario does not have. Allocation-free: the
    /// checker resolves every content token's alias with it.
    pub fn variant_of_alias(&self, alias: &str) -> Option<VariantRef> {
        let (exp, var) = alias::parse(alias)?;
        self.variant_named(exp, var)
    }

    /// The variant with uid `variant_uid` of the experience with uid
    /// `experience_uid`, for names read from the wire.
    pub fn variant_named(&self, experience_uid: &str, variant_uid: &str) -> Option<VariantRef> {
        let e = self
            .scenario
            .experiences
            .iter()
            .position(|x| x.uid == experience_uid)? as ExpIdx;
        Some(VariantRef {
            experience: e,
            variant: self.variant_index(e, variant_uid)?,
        })
    }

    /// The experience and variant uid of `v`.
    fn variant_uids(&self, v: VariantRef) -> (&str, &str) {
        let exp = &self.scenario.experiences[usize::from(v.experience)];
        (&exp.uid, &exp.variants[usize::from(v.variant)])
    }

    /// Variant index of `variant_uid` in experience `e`.
    pub fn variant_index(&self, e: ExpIdx, variant_uid: &str) -> Option<VarIdx> {
        self.scenario.experiences[usize::from(e)]
            .variants
            .iter()
            .position(|v| v == variant_uid)
            .map(|i| i as VarIdx)
    }
}

/// A value from `weights` other than `current` (renormalized); `current`
/// itself when it is the only value with weight.
fn draw_other(rng: &mut impl Rng, weights: &[f64], current: ValueIdx) -> ValueIdx {
    let total: f64 = weights
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != usize::from(current))
        .map(|(_, w)| *w)
        .sum();
    if total <= 0.0 {
        return current;
    }
    let mut x = rng.random::<f64>() * total;
    let mut last = current;
    for (i, w) in weights.iter().enumerate() {
        if i == usize::from(current) {
            continue;
        }
        last = i as ValueIdx;
        if x < *w {
            return last;
        }
        x -= w;
    }
    last
}

/// The visitors with their uids and initial attribute values.
fn population(scenario: &Scenario) -> Vec<Visitor> {
    let seed = scenario.seed;
    let attr_dists: Vec<WeightedIndex<f64>> = scenario
        .attributes
        .iter()
        .map(|a| WeightedIndex::new(&a.weights).expect("validated weights"))
        .collect();
    (0..scenario.traffic.visitors)
        .map(|i| {
            let mut rng = stream(seed, Purpose::Attributes, u64::from(i));
            Visitor {
                uid: visitor_uid(seed, i),
                initial: attr_dists
                    .iter()
                    .map(|d| d.sample(&mut rng) as ValueIdx)
                    .collect(),
                changes: Vec::new(),
            }
        })
        .collect()
}

/// Draws the values of pending attribute changes per visitor, in time order,
/// never the value the visitor has at that moment; records them on the
/// visitors and returns them as events.
fn resolve_changes(
    scenario: &Scenario,
    visitors: &mut [Visitor],
    mut pending: Vec<timeline::PendingChange>,
) -> Vec<Event> {
    pending.sort_by_key(|c| (c.visitor, c.at, c.seq));
    let mut events = Vec::with_capacity(pending.len());
    for group in pending.chunk_by(|a, b| a.visitor == b.visitor) {
        let v = group[0].visitor;
        let mut rng = stream(scenario.seed, Purpose::ChangeValues, u64::from(v));
        let visitor = &mut visitors[v as usize];
        let mut current = visitor.initial.clone();
        for c in group {
            let weights = &scenario.attributes[c.attribute].weights;
            let value = c
                .value
                .unwrap_or_else(|| draw_other(&mut rng, weights, current[c.attribute]));
            current[c.attribute] = value;
            visitor.changes.push(AttributeChange {
                at: c.at,
                attribute: c.attribute,
                value,
            });
            events.push(Event {
                at: c.at,
                seq: c.seq,
                kind: EventKind::AttributeChange {
                    visitor: v,
                    attribute: c.attribute,
                    value,
                },
            });
        }
    }
    events
}

/// Experience states over time and entry publish histories, from the events.
fn histories(
    scenario: &Scenario,
    events: &[Event],
) -> (Vec<Vec<(Micros, ExperienceState)>>, Vec<EntryHistory>) {
    let mut states: Vec<Vec<(Micros, ExperienceState)>> = scenario
        .experiences
        .iter()
        .map(|e| {
            let splits = match &e.assignment {
                Assignment::Ab { splits, .. } => splits.clone(),
                Assignment::Segmented { .. } => Vec::new(),
            };
            vec![(
                Micros::ZERO,
                ExperienceState {
                    active: e.active,
                    splits,
                },
            )]
        })
        .collect();
    let mut entries = vec![EntryHistory::default(); scenario.content.entries.len()];
    for ev in events {
        match &ev.kind {
            EventKind::SetActive { experience, active } => {
                let list = &mut states[usize::from(*experience)];
                let mut s = list.last().expect("initial state").1.clone();
                s.active = *active;
                list.push((ev.at, s));
            }
            EventKind::SetSplits { experience, splits } => {
                let list = &mut states[usize::from(*experience)];
                let mut s = list.last().expect("initial state").1.clone();
                s.splits.clone_from(splits);
                list.push((ev.at, s));
            }
            EventKind::Publish { entry, variant } => {
                let h = &mut entries[*entry as usize];
                match variant {
                    None => h.base.push(ev.at),
                    Some(v) => match h.variants.iter_mut().find(|(r, _)| r == v) {
                        Some((_, times)) => times.push(ev.at),
                        None => h.variants.push((*v, vec![ev.at])),
                    },
                }
            }
            EventKind::AttributeChange { .. } => {}
        }
    }
    (states, entries)
}
