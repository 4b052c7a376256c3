//! The checker: judges one response against the world's truth over the
//! request's [sent, received] window (`docs/architecture.md`, "Truth, and how every
//! response is judged").
//!
//! It reads only what any origin's page carries — the content tokens of the
//! entries it rendered and the visitor tokens of per-visitor fragments — so
//! it judges pages of an origin ttlab did not write just as well. An entry
//! token says which variant of the entry was served and its version; the
//! truth says which variant this visitor should get (`World::served_variant`
//! of the visitor's variants) and which version is current.

use std::borrow::Cow;
use std::ops::Deref;

use serde::Serialize;
use ttlab_scenarios::model::{EntryIdx, VariantRef};
use ttlab_scenarios::token::{EntryToken, Tokens};
use ttlab_scenarios::world::{EventKind, VisitorIdx};
use ttlab_scenarios::{Micros, VariantSet, World};

/// How a response is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Variants and content were true at some instant of the request.
    Fresh,
    /// The variants were this visitor's truth earlier, not now.
    StaleVariant,
    /// Variants fine, but some entry version is older than the published one.
    StaleContent,
    /// The variants were never this visitor's: someone else's fill.
    WrongVariant,
    /// The page carries another visitor's identity.
    Leak,
    /// The upstream failed: an error status, or a page that cannot be judged.
    Error,
    /// Base content served on purpose (Personalize failed within budget).
    Fallback,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 7] = [
        Class::Fresh,
        Class::StaleVariant,
        Class::StaleContent,
        Class::WrongVariant,
        Class::Leak,
        Class::Error,
        Class::Fallback,
    ];

    /// Position in [`Class::ALL`]: per-class counters are arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Name in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Fresh => "fresh",
            Class::StaleVariant => "stale_variant",
            Class::StaleContent => "stale_content",
            Class::WrongVariant => "wrong_variant",
            Class::Leak => "leak",
            Class::Error => "error",
            Class::Fallback => "fallback",
        }
    }
}

/// What was observed of one response.
#[derive(Clone, Debug)]
pub struct Observation<'a> {
    /// The visitor the request was sent as.
    pub visitor: VisitorIdx,
    /// When the request was sent.
    pub sent: Micros,
    /// When the response was complete.
    pub received: Micros,
    /// HTTP status.
    pub status: u16,
    /// The response says it is base content served on purpose.
    pub fallback: bool,
    /// Tokens found in the body.
    pub tokens: &'a Tokens,
}

/// The verdict on one response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// The class.
    pub class: Class,
    /// For stale classes: how long before the request the truth had moved
    /// on from what was served.
    pub staleness: Option<Micros>,
    /// Why, for error classes and logs.
    pub detail: Option<Cow<'static, str>>,
}

impl Judgement {
    fn of(class: Class) -> Self {
        Judgement {
            class,
            staleness: None,
            detail: None,
        }
    }

    fn because(class: Class, detail: impl Into<Cow<'static, str>>) -> Self {
        Judgement {
            class,
            staleness: None,
            detail: Some(detail.into()),
        }
    }
}

/// The class order, the one rule by which real runs and the simulator
/// judge a response: an error answer (`Err(status)`) first; then a page
/// that carries another visitor's identity (a leak, whatever else is
/// right with it: `leak` says why, or `None`); then base content served on
/// purpose (`fallback`); and only then the page's variants and content
/// (`served`). Each step runs only when the ones before did not decide, so
/// the simulator's pages and a real response's tokens can be read lazily.
pub fn judge_in_order<P>(
    answer: Result<P, u16>,
    leak: impl FnOnce(&P) -> Option<Cow<'static, str>>,
    fallback: impl FnOnce(&P) -> bool,
    served: impl FnOnce(P) -> Judgement,
) -> Judgement {
    let page = match answer {
        Ok(page) => page,
        Err(status) => return Judgement::because(Class::Error, status_detail(status)),
    };
    if let Some(why) = leak(&page) {
        return Judgement::because(Class::Leak, why);
    }
    if fallback(&page) {
        return Judgement::of(Class::Fallback);
    }
    served(page)
}

/// `status N`, without allocating for the statuses an origin's upstream
/// failures map to (the simulator's, millions a second).
fn status_detail(status: u16) -> Cow<'static, str> {
    match status {
        502 => Cow::Borrowed("status 502"),
        503 => Cow::Borrowed("status 503"),
        504 => Cow::Borrowed("status 504"),
        _ => Cow::Owned(format!("status {status}")),
    }
}

/// Judges responses against one world (borrowed, or shared as `Arc<World>`).
pub struct Checker<W: Deref<Target = World>> {
    world: W,
    /// The instants at which every visitor's variants may change (the
    /// experience changes), sorted. A visitor's own attribute changes are
    /// merged in when asked for ([`Checker::change_points`]): nothing is
    /// kept per visitor.
    experience_changes: Vec<Micros>,
}

impl<W: Deref<Target = World>> Checker<W> {
    /// A checker for `world`.
    pub fn new(world: W) -> Self {
        let mut experience_changes: Vec<Micros> = world
            .events()
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::SetActive { .. } | EventKind::SetSplits { .. }
                )
            })
            .map(|e| e.at)
            .collect();
        experience_changes.sort_unstable();
        experience_changes.dedup();
        Checker {
            world,
            experience_changes,
        }
    }

    /// The instants at which visitor `v`'s variants may change (its
    /// attribute changes and every experience change), sorted: borrowed
    /// when the visitor has no changes of its own, as most have.
    fn change_points(&self, v: VisitorIdx) -> Cow<'_, [Micros]> {
        let own = self.world.changes(v);
        if own.is_empty() {
            return Cow::Borrowed(&self.experience_changes);
        }
        let mut points: Vec<Micros> = own.iter().map(|c| c.at).collect();
        points.extend_from_slice(&self.experience_changes);
        points.sort_unstable();
        points.dedup();
        Cow::Owned(points)
    }

    /// The truth of visitor `v` at `t`, through `memo`: the truth is
    /// constant between two change points of the visitor, so the interval
    /// around `t` is remembered and most calls cost a comparison.
    pub fn variants_memo(&self, memo: &mut TruthMemo, v: VisitorIdx, t: Micros) -> VariantSet {
        let slot = v as usize & memo.mask;
        let held = &mut memo.held[slot];
        if held.visitor == v && held.from <= t && t < held.until {
            return held.set;
        }
        // The change points around `t`: the nearest of the experience
        // changes and of the visitor's own, without merging the two lists.
        let exp = &self.experience_changes;
        let own = self.world.changes(v);
        let exp_next = exp.partition_point(|p| *p <= t);
        let own_next = own.partition_point(|c| c.at <= t);
        let from = (exp_next.checked_sub(1).map(|at| exp[at]))
            .max(own_next.checked_sub(1).map(|at| own[at].at))
            .unwrap_or(Micros::ZERO);
        let until = match (exp.get(exp_next), own.get(own_next)) {
            (Some(at), Some(change)) => (*at).min(change.at),
            (Some(at), None) => *at,
            (None, Some(change)) => change.at,
            (None, None) => Micros(u64::MAX),
        };
        *held = Held {
            visitor: v,
            from,
            until,
            set: self.world.variants_of(v, t),
        };
        held.set
    }

    /// A memo of the truth for [`Checker::variants_memo`] and
    /// [`Checker::judge_served_memo`]: one slot per visitor up to
    /// [`TruthMemo::MAX_SLOTS`] visitors, beyond that a bounded table the
    /// visitors share (a visitor whose slot another took derives its truth
    /// again), so its memory does not grow with the population.
    pub fn memo(&self) -> TruthMemo {
        let slots = (self.world.visitor_count() as usize)
            .next_power_of_two()
            .min(TruthMemo::MAX_SLOTS);
        TruthMemo {
            held: vec![
                Held {
                    visitor: 0,
                    from: Micros(1),
                    until: Micros::ZERO,
                    set: VariantSet::none(0),
                };
                slots
            ],
            mask: slots - 1,
        }
    }

    /// Judges one response.
    pub fn judge(&self, obs: &Observation<'_>) -> Judgement {
        let answer = if obs.status >= 400 {
            Err(obs.status)
        } else {
            Ok(obs)
        };
        judge_in_order(
            answer,
            |obs| {
                let uid = self.world.uid(obs.visitor);
                let other = obs
                    .tokens
                    .visitors
                    .iter()
                    .find(|u| u.as_str() != uid.as_str())?;
                Some(Cow::Owned(format!("page carries visitor {other}")))
            },
            |obs| obs.fallback,
            |obs| match self.resolve(&obs.tokens.entries) {
                Ok(entries) => self.judge_served(obs.visitor, obs.sent, obs.received, &entries),
                Err(detail) => Judgement::because(Class::Error, detail),
            },
        )
    }

    /// Judges the variants and content of a page that was served (status,
    /// identity and fallback already judged): `entries` are (entry, served
    /// variant, version).
    pub fn judge_served(
        &self,
        visitor: VisitorIdx,
        sent: Micros,
        received: Micros,
        entries: &[(EntryIdx, Option<VariantRef>, u32)],
    ) -> Judgement {
        self.judge_with(
            &mut |t| self.world.variants_of(visitor, t),
            visitor,
            sent,
            received,
            entries,
        )
    }

    /// When every entry version of a page is the current one: from the
    /// latest publish that brought one of them in to the first that
    /// superseded one (`Micros(u64::MAX)` while none has). A page sent for
    /// inside it is fresh content, as [`Checker::judge_content`] would find
    /// entry by entry; the simulator works it out once per distinct page it
    /// renders and judges its many serves against it.
    pub fn current_window(&self, entries: &[(EntryIdx, Option<VariantRef>, u32)]) -> Current {
        let world: &World = &self.world;
        entries.iter().fold(
            Current {
                from: Micros::ZERO,
                until: Micros(u64::MAX),
            },
            |w, (e, variant, version)| {
                let from = match version {
                    0 | 1 => Micros::ZERO,
                    v => world
                        .superseded_at(*e, *variant, v - 1)
                        .unwrap_or(Micros(u64::MAX)),
                };
                let until = world
                    .superseded_at(*e, *variant, *version)
                    .unwrap_or(Micros(u64::MAX));
                Current {
                    from: w.from.max(from),
                    until: w.until.min(until),
                }
            },
        )
    }

    /// What judging a page's many serves can work out once: its
    /// [`Checker::current_window`], and the variants it was rendered for
    /// (`rendered_for`, each entry's served variant is that set's) with the
    /// experiences its entries have variants in (`mask`).
    pub fn page_facts(
        &self,
        entries: &[(EntryIdx, Option<VariantRef>, u32)],
        rendered_for: VariantSet,
        mask: u64,
    ) -> PageFacts {
        PageFacts {
            current: self.current_window(entries),
            rendered_for,
            mask,
        }
    }

    /// [`Checker::judge_served`] reading the truth through `memo`: the
    /// simulator's path, which judges millions of responses a second.
    /// `page` is [`Checker::page_facts`] of `entries`.
    pub fn judge_served_memo(
        &self,
        memo: &mut TruthMemo,
        visitor: VisitorIdx,
        sent: Micros,
        received: Micros,
        entries: &[(EntryIdx, Option<VariantRef>, u32)],
        page: &PageFacts,
    ) -> Judgement {
        // Most visitors' truth holds over the whole request: when the memo's
        // interval covers [sent, received] there is no change point inside
        // it, so the truth at `sent` is the only instant to try — what
        // `judge_with` would conclude, without searching the change lists.
        let held = &memo.held[visitor as usize & memo.mask];
        if held.visitor == visitor
            && held.from <= sent
            && received < held.until
            // The visitor's variants agree with those the page was rendered
            // for wherever its entries have variants: each entry serves the
            // same variant, with no search of the entries' variants.
            && (held.set.agrees_on(&page.rendered_for, page.mask)
                || self.all_served(&held.set, entries))
        {
            // Every version current at `sent`: fresh, with no search of the
            // publish lists.
            let current = page.current;
            if current.from <= sent && sent < current.until {
                return Judgement::of(Class::Fresh);
            }
            return self.judge_content(sent, received, entries);
        }
        self.judge_with(
            &mut |t| self.variants_memo(memo, visitor, t),
            visitor,
            sent,
            received,
            entries,
        )
    }

    /// Whether a visitor with variants `set` is served exactly these entry variants.
    fn all_served(
        &self,
        set: &VariantSet,
        entries: &[(EntryIdx, Option<VariantRef>, u32)],
    ) -> bool {
        entries
            .iter()
            .all(|(e, served, _)| self.world.served_variant(*e, set) == *served)
    }

    /// The judgement, with `truth(t)` the visitor's variants at `t`.
    fn judge_with(
        &self,
        truth: &mut impl FnMut(Micros) -> VariantSet,
        visitor: VisitorIdx,
        sent: Micros,
        received: Micros,
        entries: &[(EntryIdx, Option<VariantRef>, u32)],
    ) -> Judgement {
        let world: &World = &self.world;
        // Variants: true at some instant of [sent, received]? The truth only
        // moves at change points, so `sent` and the points inside suffice
        // (the experience changes' and the visitor's own, in either order).
        let exp = &self.experience_changes;
        let own = world.changes(visitor);
        let (e0, o0) = (
            exp.partition_point(|p| *p <= sent),
            own.partition_point(|c| c.at <= sent),
        );
        let (e1, o1) = (
            exp.partition_point(|p| *p <= received).max(e0),
            own.partition_point(|c| c.at <= received).max(o0),
        );
        let fresh = std::iter::once(sent)
            .chain(exp[e0..e1].iter().copied())
            .chain(own[o0..o1].iter().map(|c| c.at))
            .any(|t| self.all_served(&truth(t), entries));
        if !fresh {
            let points = self.change_points(visitor);
            // Earlier truth of this visitor? Look back over its change points:
            // each start holds until the next one (or until `sent`).
            let before = &points[..points.partition_point(|p| *p < sent)];
            let starts = before
                .iter()
                .enumerate()
                .rev()
                .map(|(k, p)| (*p, before.get(k + 1).copied().unwrap_or(sent)))
                .chain(
                    (before.first() != Some(&Micros::ZERO))
                        .then(|| (Micros::ZERO, before.first().copied().unwrap_or(sent))),
                );
            for (start, ended) in starts {
                if self.all_served(&truth(start), entries) {
                    return Judgement {
                        class: Class::StaleVariant,
                        staleness: Some(sent.saturating_sub(ended)),
                        detail: None,
                    };
                }
            }
            return Judgement::because(
                Class::WrongVariant,
                "the served variants were never this visitor's",
            );
        }
        self.judge_content(sent, received, entries)
    }

    /// The judgement of a page whose variants were true at some instant of
    /// [`sent`, `received`]: fresh when every entry version was current at
    /// some instant of the window, else stale content (or an error for a
    /// version from the future).
    fn judge_content(
        &self,
        sent: Micros,
        received: Micros,
        entries: &[(EntryIdx, Option<VariantRef>, u32)],
    ) -> Judgement {
        let world: &World = &self.world;
        let mut staleness: Option<Micros> = None;
        for (e, variant, version) in entries {
            let at_sent = world.entry_version(*e, *variant, sent);
            if *version >= at_sent {
                // Newer than at `sent`: it must have been published by `received`.
                if *version > at_sent && *version > world.entry_version(*e, *variant, received) {
                    return Judgement::because(
                        Class::Error,
                        format!(
                            "entry {} version {version} is from the future",
                            self.entry_uid(*e)
                        ),
                    );
                }
                continue;
            }
            // Superseded when the version first rose above the served one.
            let superseded = world
                .superseded_at(*e, *variant, *version)
                .unwrap_or(Micros::ZERO);
            let s = sent.saturating_sub(superseded);
            staleness = Some(staleness.map_or(s, |x| x.max(s)));
        }
        match staleness {
            Some(s) => Judgement {
                class: Class::StaleContent,
                staleness: Some(s),
                detail: None,
            },
            None => Judgement::of(Class::Fresh),
        }
    }

    fn entry_uid(&self, e: EntryIdx) -> &str {
        &self.world.scenario().content.entries[e as usize].uid
    }

    /// Entry tokens resolved to (entry, served variant, version). Tokens name
    /// entries by uid and variants by alias.
    fn resolve(
        &self,
        tokens: &[EntryToken],
    ) -> Result<Vec<(EntryIdx, Option<VariantRef>, u32)>, String> {
        if tokens.is_empty() {
            return Err("the page carries no content tokens".to_owned());
        }
        let scenario = self.world.scenario();
        let mut out = Vec::with_capacity(tokens.len());
        for t in tokens {
            let e = scenario
                .content
                .entries
                .iter()
                .position(|x| x.uid == t.entry)
                .ok_or_else(|| format!("unknown entry {} in a content token", t.entry))?
                as EntryIdx;
            let variant = match &t.variant {
                None => None,
                Some(alias) => Some(
                    self.variant_of_alias(alias)
                        .ok_or_else(|| format!("unknown variant {alias} in a content token"))?,
                ),
            };
            out.push((e, variant, t.version));
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn variant_of_alias(&self, alias: &str) -> Option<VariantRef> {
        self.world.variant_of_alias(alias)
    }
}

/// The truth of each visitor on the interval where it last held, for
/// [`Checker::variants_memo`]: owned by one judging loop (the simulator's),
/// so the shared [`Checker`] stays immutable.
#[derive(Clone)]
pub struct TruthMemo {
    held: Vec<Held>,
    /// Slot of visitor v: `v & mask`.
    mask: usize,
}

impl TruthMemo {
    /// Most slots a memo has (a power of two): 65,536 slots of 56 bytes,
    /// 3.5 MiB whatever the population.
    pub const MAX_SLOTS: usize = 1 << 16;
}

/// When every entry version of a page is current: [`from`, `until`)
/// ([`Checker::current_window`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Current {
    /// The latest instant one of its versions became current.
    pub from: Micros,
    /// The first instant one of them was superseded.
    pub until: Micros,
}

/// What [`Checker::judge_served_memo`] knows of a page before judging a
/// serve of it ([`Checker::page_facts`]).
#[derive(Clone, Copy, Debug)]
pub struct PageFacts {
    current: Current,
    rendered_for: VariantSet,
    mask: u64,
}

impl PageFacts {
    /// Facts that shortcut nothing (an empty window, no variants to agree
    /// with): the judgement is then worked out in full.
    pub fn unknown() -> Self {
        PageFacts {
            current: Current {
                from: Micros(u64::MAX),
                until: Micros::ZERO,
            },
            rendered_for: VariantSet::none(0),
            mask: 0,
        }
    }
}

/// One visitor's truth `set`, valid on [`from`, `until`).
#[derive(Clone, Copy)]
struct Held {
    /// Whose truth the slot holds.
    visitor: VisitorIdx,
    from: Micros,
    until: Micros,
    set: VariantSet,
}
