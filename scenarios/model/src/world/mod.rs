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

use std::sync::OnceLock;

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

/// A visitor of the population, derived on demand by [`World::visitor`]
/// (the world holds no per-visitor record).
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
///
/// The population is not stored: a visitor's uid and initial attributes are
/// derived from the seed and its index when asked for, and its attribute
/// changes live in one list of every change sorted by visitor (timeline
/// events, not population). The one per-visitor table, the uid index that
/// maps a uid back to its visitor, is built on the first lookup (8 bytes a
/// visitor) for the mock APIs; the simulator never builds it.
#[derive(Clone, Debug)]
pub struct World {
    scenario: Scenario,
    /// Per attribute, the distribution its initial value is drawn from.
    attr_dists: Vec<WeightedIndex<f64>>,
    /// The visitor of each change in `changes` (sorted, for a binary search).
    change_visitors: Vec<VisitorIdx>,
    /// Every attribute change, by visitor then time.
    changes: Vec<AttributeChange>,
    /// Uid index: see [`UidIndex`]. Built on the first uid lookup.
    by_uid: OnceLock<UidIndex>,
    /// Per experience: states in time order, the first at time zero.
    experience_states: Vec<Vec<(Micros, ExperienceState)>>,
    entries: Vec<EntryHistory>,
    /// Every event (attribute changes included), in application order.
    events: Vec<Event>,
    /// Per page: bit i set when one of its entries has variants of experience i.
    page_masks: Vec<u64>,
}

/// The uid of visitor `index` under `seed`: a version-4-shaped UUID, a hash
/// of the seed and the index (so any visitor's uid is derived alone).
pub fn visitor_uid(seed: u64, index: VisitorIdx) -> String {
    uid_of(seed, index).as_str().to_owned()
}

/// A visitor uid, formatted on the stack: what [`World::uid`] returns, so
/// reading a uid allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uid([u8; 36]);

impl Uid {
    /// The uid as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex and dashes")
    }
}

impl std::ops::Deref for Uid {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Uid {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Uid {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Uid {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Uid {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

/// The uid of visitor `index` under `seed`, on the stack.
fn uid_of(seed: u64, index: VisitorIdx) -> Uid {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let a = uid_key(seed, index);
    let b = seeds::key(a, Purpose::VisitorUid, u64::from(index));
    // The same text as `{a>>32:08x}-{a>>16&ffff:04x}-4{a&fff:03x}-
    // {8000|b>>48&3fff:04x}-{b&ffffffffffff:012x}`.
    let fields: [(u64, usize); 5] = [
        (a >> 32, 8),
        ((a >> 16) & 0xffff, 4),
        (0x4000 | (a & 0x0fff), 4),
        (0x8000 | ((b >> 48) & 0x3fff), 4),
        (b & 0xffff_ffff_ffff, 12),
    ];
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (value, digits) in fields {
        for d in 0..digits {
            let shift = 4 * (digits - 1 - d);
            out[at + d] = HEX[((value >> shift) & 0xf) as usize];
        }
        at += digits + 1;
    }
    Uid(out)
}

/// The hash the uid of visitor `index` starts with: its top 48 bits are the
/// uid's first 12 hex digits, which is what lets a uid be found again.
fn uid_key(seed: u64, index: VisitorIdx) -> u64 {
    seeds::key(seed, Purpose::VisitorUid, u64::from(index))
}

/// Maps a uid back to its visitor without a map of strings: the uids are
/// hashes of the index (the golden reports pin them, since a visitor's A/B
/// bucket is a hash of its uid), so they are not invertible; instead one
/// sorted `u64` per visitor packs the uid key's top bits above the index.
/// A lookup parses the uid's first 12 hex digits, binary-searches that
/// prefix and confirms each candidate by deriving its uid.
#[derive(Clone, Debug)]
struct UidIndex {
    /// Low bits of each packed word that hold the index.
    index_bits: u32,
    /// `(uid_key >> index_bits) << index_bits | index`, sorted.
    packed: Vec<u64>,
}

impl UidIndex {
    fn build(seed: u64, visitors: u32) -> UidIndex {
        // At least 16 bits, so the prefix (at most 48 bits) is always
        // readable from the uid's text.
        let index_bits = (32 - visitors.leading_zeros()).max(16);
        let mut packed: Vec<u64> = (0..visitors)
            .map(|i| ((uid_key(seed, i) >> index_bits) << index_bits) | u64::from(i))
            .collect();
        packed.sort_unstable();
        UidIndex { index_bits, packed }
    }

    fn find(&self, seed: u64, uid: &str) -> Option<VisitorIdx> {
        let b = uid.as_bytes();
        if b.len() != 36 || b[8] != b'-' {
            return None;
        }
        let mut top: u64 = 0;
        for &c in b[..8].iter().chain(&b[9..13]) {
            top = (top << 4) | u64::from(char::from(c).to_digit(16)?);
        }
        // `top` is the key's top 48 bits.
        let prefix = (top << 16) >> self.index_bits;
        let low = self.index_bits;
        let start = self.packed.partition_point(|k| k >> low < prefix);
        self.packed[start..]
            .iter()
            .take_while(|k| *k >> low == prefix)
            .map(|k| (k & ((1u64 << low) - 1)) as VisitorIdx)
            .find(|i| uid_of(seed, *i) == uid)
    }

    fn bytes(&self) -> usize {
        self.packed.capacity() * std::mem::size_of::<u64>()
    }
}

impl World {
    /// Builds the world of a validated scenario. No per-visitor work: the
    /// population is derived on demand.
    pub fn new(scenario: Scenario) -> World {
        let attr_dists: Vec<WeightedIndex<f64>> = scenario
            .attributes
            .iter()
            .map(|a| WeightedIndex::new(&a.weights).expect("validated weights"))
            .collect();
        let (mut events, pending) = timeline::expand(&scenario);
        let (change_visitors, changes, change_events) =
            resolve_changes(&scenario, &attr_dists, pending);
        events.extend(change_events);
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
            attr_dists,
            change_visitors,
            changes,
            by_uid: OnceLock::new(),
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

    /// How many visitors the population has (indices `0..visitor_count()`).
    pub fn visitor_count(&self) -> u32 {
        self.scenario.traffic.visitors
    }

    /// Visitor `v`, derived: its uid, initial attributes and changes.
    pub fn visitor(&self, v: VisitorIdx) -> Visitor {
        Visitor {
            uid: self.uid(v).as_str().to_owned(),
            initial: self.initial(v),
            changes: self.changes(v).to_vec(),
        }
    }

    /// The uid of visitor `v` (see [`visitor_uid`]), without allocating.
    pub fn uid(&self, v: VisitorIdx) -> Uid {
        uid_of(self.scenario.seed, v)
    }

    /// The initial attribute values of visitor `v`, one per attribute:
    /// drawn from the visitor's own stream, so any visitor's can be derived
    /// alone.
    pub fn initial(&self, v: VisitorIdx) -> Vec<ValueIdx> {
        initial_of(self.scenario.seed, &self.attr_dists, v)
    }

    /// The attribute changes of visitor `v`, in time order.
    pub fn changes(&self, v: VisitorIdx) -> &[AttributeChange] {
        let lo = self.change_visitors.partition_point(|x| *x < v);
        let hi = lo + self.change_visitors[lo..].partition_point(|x| *x <= v);
        &self.changes[lo..hi]
    }

    /// A visitor's index by uid; `None` for a uid not in the population. The
    /// first call builds the uid index (8 bytes a visitor).
    pub fn visitor_index(&self, uid: &str) -> Option<VisitorIdx> {
        let seed = self.scenario.seed;
        self.by_uid
            .get_or_init(|| UidIndex::build(seed, self.visitor_count()))
            .find(seed, uid)
    }

    /// Heap bytes the world holds that grow with the population (not with
    /// the timeline): the uid index once built, nothing before. What the
    /// population-memory benchmark reads alongside the allocator's count.
    pub fn population_bytes(&self) -> usize {
        self.by_uid.get().map_or(0, UidIndex::bytes)
    }

    /// Every event, in the order it applies.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Value of `attribute` of visitor `v` at `t`.
    pub fn attribute_at(&self, v: VisitorIdx, attribute: AttrIdx, t: Micros) -> ValueIdx {
        let changes = self.changes(v);
        let upto = changes.partition_point(|c| c.at <= t);
        changes[..upto]
            .iter()
            .rev()
            .find(|c| c.attribute == attribute)
            .map_or_else(|| self.initial(v)[attribute], |c| c.value)
    }

    /// Every attribute value of visitor `v` at `t`.
    pub fn attributes_at(&self, v: VisitorIdx, t: Micros) -> Vec<ValueIdx> {
        let mut values = self.initial(v);
        for c in self.changes(v).iter().take_while(|c| c.at <= t) {
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
        // The visitor is derived once per call (the simulator memoizes the
        // answer between the visitor's change points).
        let initial = self.initial(v);
        let changes = self.changes(v);
        let changes = &changes[..changes.partition_point(|c| c.at <= t)];
        let value_of = |a: AttrIdx| {
            Some(
                changes
                    .iter()
                    .rev()
                    .find(|c| c.attribute == a)
                    .map_or(initial[a], |c| c.value),
            )
        };
        self.variants_for(&self.uid(v), &value_of, t)
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

/// The initial attribute values of visitor `index`: one draw per attribute
/// from the visitor's own stream.
fn initial_of(seed: u64, attr_dists: &[WeightedIndex<f64>], index: VisitorIdx) -> Vec<ValueIdx> {
    let mut rng = stream(seed, Purpose::Attributes, u64::from(index));
    attr_dists
        .iter()
        .map(|d| d.sample(&mut rng) as ValueIdx)
        .collect()
}

/// Draws the values of pending attribute changes per visitor, in time order,
/// never the value the visitor has at that moment; returns them sorted by
/// visitor (the visitor of each, and the changes) and as events.
fn resolve_changes(
    scenario: &Scenario,
    attr_dists: &[WeightedIndex<f64>],
    mut pending: Vec<timeline::PendingChange>,
) -> (Vec<VisitorIdx>, Vec<AttributeChange>, Vec<Event>) {
    pending.sort_by_key(|c| (c.visitor, c.at, c.seq));
    let mut events = Vec::with_capacity(pending.len());
    let mut visitors = Vec::with_capacity(pending.len());
    let mut changes = Vec::with_capacity(pending.len());
    for group in pending.chunk_by(|a, b| a.visitor == b.visitor) {
        let v = group[0].visitor;
        let mut rng = stream(scenario.seed, Purpose::ChangeValues, u64::from(v));
        let mut current = initial_of(scenario.seed, attr_dists, v);
        for c in group {
            let weights = &scenario.attributes[c.attribute].weights;
            let value = c
                .value
                .unwrap_or_else(|| draw_other(&mut rng, weights, current[c.attribute]));
            current[c.attribute] = value;
            visitors.push(v);
            changes.push(AttributeChange {
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
    (visitors, changes, events)
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
