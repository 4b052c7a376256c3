//! Timeline rules: the keys each action takes, then one function per action.
//!
//! Each function reports its problems in the order the rule's fields are
//! read, so a scenario with several problems gets the same list every time.

use std::ops::Range;

use toml::Spanned;

use crate::model::{
    Assignment, AttrIdx, Attribute, Content, EntryIdx, ExpIdx, Experience, TimelineRule, ValueIdx,
    VariantRef,
};
use crate::spec::{ActionSpec, HumanDuration, TimelineSpec};
use crate::time::Micros;

use super::{Cx, action_name, over_rate, sp};
use crate::bounds::{MAX_RATE, MIN_MEAN_INTERVAL};

/// Keys each action takes; any other key present is an error.
fn allowed_keys(action: ActionSpec) -> &'static [&'static str] {
    match action {
        ActionSpec::AttributeChange => &[
            "at",
            "from",
            "until",
            "rate",
            "mean_interval",
            "fraction",
            "attribute",
            "value",
        ],
        ActionSpec::Activate | ActionSpec::Deactivate => &["at", "experience"],
        ActionSpec::SetSplits => &["at", "experience", "splits"],
        ActionSpec::Publish => &["at", "from", "until", "rate", "entry", "entries", "variant"],
        ActionSpec::StoreOutage => &["at", "duration"],
    }
}

/// The timeline rule being validated, with what its problems point at.
struct Rule<'a> {
    t: &'a TimelineSpec,
    /// The whole rule, for problems no single key explains.
    whole: Range<usize>,
    action_name: &'static str,
}

impl Rule<'_> {
    /// Reports that the action needs key `what`.
    fn need(&self, cx: &mut Cx, what: &str) {
        cx.err(
            sp(&self.t.action),
            format!("action \"{}\" needs `{what}`", self.action_name),
        );
    }

    /// A recurring rule's window, `from` (default: the start) .. `until`
    /// (default: the end of the run).
    fn window(&self, cx: &mut Cx) -> Option<(Micros, Micros)> {
        let t = self.t;
        let from = t.from.as_ref().map_or(Micros::ZERO, |f| cx.when(f, "from"));
        let until = t
            .until
            .as_ref()
            .map_or(cx.duration, |u| cx.when(u, "until"));
        if from >= until {
            let span = t
                .until
                .as_ref()
                .or(t.from.as_ref())
                .map_or(self.whole.clone(), sp);
            cx.err(
                span,
                format!("the window is empty: from {from} is not before until {until}"),
            );
            return None;
        }
        Some((from, until))
    }

    /// The experience the rule names.
    fn experience(&self, cx: &mut Cx, exps: &[Experience]) -> Option<ExpIdx> {
        let Some(e) = &self.t.experience else {
            self.need(cx, "experience");
            return None;
        };
        let found = exps.iter().position(|x| &x.uid == e.get_ref());
        if found.is_none() {
            cx.err(sp(e), format!("unknown experience \"{}\"", e.get_ref()));
        }
        found.map(|i| i as ExpIdx)
    }

    /// The rule's one time, `at`.
    fn at(&self, cx: &mut Cx) -> Option<Micros> {
        match &self.t.at {
            Some(a) => Some(cx.when(a, "at")),
            None => {
                self.need(cx, "at");
                None
            }
        }
    }
}

/// `r` if it is a positive number of events per second within
/// [`MAX_RATE`]; else reports it as `what`.
fn positive(cx: &mut Cx, r: &Spanned<f64>, what: &str) -> Option<f64> {
    let v = *r.get_ref();
    if !(v.is_finite() && v > 0.0) {
        cx.err(sp(r), format!("{what} must be a positive number, got {v}"));
        None
    } else if v > MAX_RATE {
        cx.err(sp(r), over_rate(what, v));
        None
    } else {
        Some(v)
    }
}

impl Cx {
    pub(super) fn when(&mut self, at: &Spanned<HumanDuration>, what: &str) -> Micros {
        let t = at.get_ref().0;
        if t > self.duration {
            self.err(
                sp(at),
                format!("{what} {t} is after the end of the run ({})", self.duration),
            );
        }
        t
    }

    pub(super) fn timeline_rule(
        &mut self,
        t: &Spanned<TimelineSpec>,
        attrs: &[Attribute],
        exps: &[Experience],
        content: &Content,
    ) -> Option<TimelineRule> {
        let whole = sp(t);
        let t = t.get_ref();
        let action = *t.action.get_ref();
        let rule = Rule {
            t,
            whole,
            action_name: action_name(action),
        };
        if !self.only_allowed_keys(&rule, allowed_keys(action)) {
            return None;
        }
        match action {
            ActionSpec::AttributeChange => self.attribute_change(&rule, attrs),
            ActionSpec::Activate | ActionSpec::Deactivate => {
                self.set_active(&rule, exps, action == ActionSpec::Activate)
            }
            ActionSpec::SetSplits => self.set_splits(&rule, exps),
            ActionSpec::Publish => self.publish(&rule, exps, content),
            ActionSpec::StoreOutage => self.store_outage(&rule),
        }
    }

    /// `store_outage`: the cache store cut off `at` a time for `duration`,
    /// ending within the run. Whether any layer has a store to cut off is
    /// checked once the architectures are known
    /// ([`Cx::store_outages_need_redis`]).
    fn store_outage(&mut self, rule: &Rule) -> Option<TimelineRule> {
        let at = rule.at(self);
        let Some(d) = &rule.t.duration else {
            rule.need(self, "duration");
            return None;
        };
        let duration = d.get_ref().0;
        if duration == Micros::ZERO {
            self.err(sp(d), "duration must be longer than 0s");
            return None;
        }
        let at = at?;
        let until = at.saturating_add(duration);
        if until > self.duration {
            self.err(
                sp(d),
                format!(
                    "the outage ends at {until}, after the end of the run ({}); shorten it or start it earlier",
                    self.duration
                ),
            );
            return None;
        }
        Some(TimelineRule::StoreOutage { at, duration })
    }

    /// A `store_outage` cuts the caching layers off their Redis store: a
    /// scenario whose architectures all keep their cache in memory has
    /// nothing to cut off, which is refused rather than ignored.
    pub(super) fn store_outages_need_redis(
        &mut self,
        timeline: &[Spanned<TimelineSpec>],
        architectures: &[crate::model::ArchitectureConfig],
    ) {
        let redis = architectures.iter().any(|a| {
            a.arch.caches() && matches!(a.cache.backend, crate::model::Backend::Redis { .. })
        });
        if redis {
            return;
        }
        for t in timeline {
            let action = &t.get_ref().action;
            if *action.get_ref() == ActionSpec::StoreOutage {
                self.err(
                    sp(action),
                    "store_outage cuts the caching layers off their Redis store, and no architecture here caches with backend = \"redis\" (set it in [cache], with redis_url)",
                );
            }
        }
    }

    /// Reports every key present that the action does not take; whether
    /// there was none.
    fn only_allowed_keys(&mut self, rule: &Rule, allowed: &[&str]) -> bool {
        let t = rule.t;
        let present: [(&str, Option<Range<usize>>); 14] = [
            ("at", t.at.as_ref().map(sp)),
            ("from", t.from.as_ref().map(sp)),
            ("until", t.until.as_ref().map(sp)),
            ("rate", t.rate.as_ref().map(sp)),
            ("mean_interval", t.mean_interval.as_ref().map(sp)),
            ("fraction", t.fraction.as_ref().map(sp)),
            ("attribute", t.attribute.as_ref().map(sp)),
            ("value", t.value.as_ref().map(sp)),
            ("experience", t.experience.as_ref().map(sp)),
            ("splits", t.splits.as_ref().map(sp)),
            ("entry", t.entry.as_ref().map(sp)),
            (
                "entries",
                t.entries.as_ref().and_then(|e| e.first()).map(sp),
            ),
            ("variant", t.variant.as_ref().map(sp)),
            ("duration", t.duration.as_ref().map(sp)),
        ];
        let mut ok = true;
        for (key, span) in &present {
            if let Some(span) = span
                && !allowed.contains(key)
            {
                self.err(
                    span.clone(),
                    format!(
                        "`{key}` does not apply to action \"{}\"; it takes {}",
                        rule.action_name,
                        allowed.join(", ")
                    ),
                );
                ok = false;
            }
        }
        ok
    }

    /// `attribute_change`: a storm (`fraction` at one time), a `rate` of
    /// changes, or a drift per visitor (`mean_interval`), to the named
    /// `value` or (without one) to another value.
    fn attribute_change(&mut self, rule: &Rule, attrs: &[Attribute]) -> Option<TimelineRule> {
        let t = rule.t;
        let Some(attr) = &t.attribute else {
            rule.need(self, "attribute");
            return None;
        };
        let Some(ai) = attrs.iter().position(|a| &a.name == attr.get_ref()) else {
            self.err(
                sp(attr),
                format!("unknown attribute \"{}\"", attr.get_ref()),
            );
            return None;
        };
        let value = match &t.value {
            Some(v) => Some(self.attribute_value(&attrs[ai], v)?),
            None => {
                if attrs[ai].values.len() < 2 {
                    self.err(sp(attr), format!("attribute \"{}\" has one value, so it cannot change; give it more values or set `value`", attrs[ai].name));
                    return None;
                }
                None
            }
        };
        let modes = [
            t.fraction.is_some(),
            t.rate.is_some(),
            t.mean_interval.is_some(),
        ];
        if modes.iter().filter(|m| **m).count() != 1 {
            self.err(sp(&t.action), "attribute_change takes exactly one of `fraction` (with `at`: a storm), `rate` (changes per second) or `mean_interval` (per visitor)");
            return None;
        }
        match &t.fraction {
            Some(fr) => self.attribute_storm(rule, fr, ai, value),
            None => self.attribute_recurring(rule, ai, value),
        }
    }

    /// An attribute change storm: `fraction` of the visitors at once, `at`.
    fn attribute_storm(
        &mut self,
        rule: &Rule,
        fr: &Spanned<f64>,
        attribute: AttrIdx,
        value: Option<ValueIdx>,
    ) -> Option<TimelineRule> {
        let t = rule.t;
        if let Some(w) = t.from.as_ref().or(t.until.as_ref()) {
            self.err(sp(w), "a storm (`fraction`) happens `at` one time; `from` and `until` are for `rate` and `mean_interval`");
            return None;
        }
        let at = rule.at(self)?;
        let v = *fr.get_ref();
        if !(v > 0.0 && v <= 1.0) {
            self.err(sp(fr), format!("fraction must be in (0, 1], got {v}"));
            return None;
        }
        Some(TimelineRule::AttributeStorm {
            at,
            attribute,
            fraction: v,
            value,
        })
    }

    /// Recurring attribute changes over a window: a `rate` of changes, or a
    /// drift per visitor every `mean_interval`.
    fn attribute_recurring(
        &mut self,
        rule: &Rule,
        attribute: AttrIdx,
        value: Option<ValueIdx>,
    ) -> Option<TimelineRule> {
        let t = rule.t;
        if let Some(a) = &t.at {
            self.err(
                sp(a),
                "`at` goes with `fraction`; a `rate` or `mean_interval` runs `from` .. `until`",
            );
            return None;
        }
        let (from, until) = rule.window(self)?;
        if let Some(r) = &t.rate {
            let rate = positive(self, r, "rate")?;
            return Some(TimelineRule::AttributeRate {
                from,
                until,
                attribute,
                rate,
                value,
            });
        }
        let mi = t.mean_interval.as_ref().expect("one mode is set");
        if mi.get_ref().0 == Micros::ZERO {
            self.err(sp(mi), "mean_interval must be longer than 0s");
            return None;
        }
        if mi.get_ref().0 < MIN_MEAN_INTERVAL {
            self.err(
                sp(mi),
                format!(
                    "mean_interval must be at least {MIN_MEAN_INTERVAL}, got {}",
                    mi.get_ref().0
                ),
            );
            return None;
        }
        Some(TimelineRule::AttributeDrift {
            from,
            until,
            attribute,
            mean_interval: mi.get_ref().0,
            value,
        })
    }

    /// `activate` / `deactivate`: an experience at one time.
    fn set_active(
        &mut self,
        rule: &Rule,
        exps: &[Experience],
        active: bool,
    ) -> Option<TimelineRule> {
        let e = rule.experience(self, exps);
        let at = rule.at(self);
        Some(TimelineRule::SetActive {
            at: at?,
            experience: e?,
            active,
        })
    }

    /// `set_splits`: new splits of an A/B experience at one time.
    fn set_splits(&mut self, rule: &Rule, exps: &[Experience]) -> Option<TimelineRule> {
        let t = rule.t;
        let e = rule.experience(self, exps);
        let at = rule.at(self);
        let Some(s) = &t.splits else {
            rule.need(self, "splits");
            return None;
        };
        let e = e?;
        let exp = &exps[usize::from(e)];
        if !matches!(exp.assignment, Assignment::Ab { .. }) {
            self.err(
                sp(t.experience.as_ref().expect("resolved")),
                format!(
                    "experience \"{}\" is segmented; set_splits applies to A/B experiences",
                    exp.uid
                ),
            );
            return None;
        }
        let mut splits = vec![0.0; exp.variants.len()];
        for (v, pct) in s.get_ref() {
            match exp.variants.iter().position(|x| x == v) {
                Some(i) => splits[i] = *pct.get_ref(),
                None => {
                    self.err(
                        sp(s),
                        format!(
                            "experience \"{}\" has no variant \"{v}\"; its variants: {}",
                            exp.uid,
                            exp.variants.join(", ")
                        ),
                    );
                    return None;
                }
            }
        }
        let n = self.problems.len();
        let written: Vec<f64> = s.get_ref().values().map(|p| *p.get_ref()).collect();
        self.check_splits(s, &exp.uid, &written);
        if self.problems.len() > n {
            return None;
        }
        Some(TimelineRule::SetSplits {
            at: at?,
            experience: e,
            splits,
        })
    }

    /// `publish`: entries (or one variant of them) once `at` a time, or at a
    /// `rate` over a window.
    fn publish(
        &mut self,
        rule: &Rule,
        exps: &[Experience],
        content: &Content,
    ) -> Option<TimelineRule> {
        let t = rule.t;
        let variant = match &t.variant {
            None => None,
            Some(v) => {
                if !v.get_ref().contains('_') {
                    self.err(sp(v), format!("variant \"{}\" must name one variant as experience_variant, e.g. \"0_1\"", v.get_ref()));
                    return None;
                }
                Some(*self.variant_refs(v, exps).first()?)
            }
        };
        let mut list = self.published_entries(t, variant, content);
        if let Some(r) = &t.rate {
            if let Some(a) = &t.at {
                self.err(
                    sp(a),
                    "a publish `rate` runs `from` .. `until`; `at` is for one-off publishes",
                );
                return None;
            }
            if let Some(e) = &t.entry {
                self.err(sp(e), "a publish `rate` draws from `entries` (or from every entry); `entry` is for one-off publishes");
                return None;
            }
            let (from, until) = rule.window(self)?;
            let rate = positive(self, r, "rate")?;
            if list.is_empty() {
                list = (0..content.entries.len() as EntryIdx)
                    .filter(|i| {
                        variant.is_none_or(|v| content.entries[*i as usize].variants.contains(&v))
                    })
                    .collect();
            }
            return Some(TimelineRule::PublishRate {
                from,
                until,
                rate,
                pool: list,
                variant,
            });
        }
        if let Some(w) = t.from.as_ref().or(t.until.as_ref()) {
            self.err(sp(w), "`from` and `until` go with a publish `rate`; a one-off publish happens `at` one time");
            return None;
        }
        let at = rule.at(self)?;
        if t.entry.is_none() && t.entries.is_none() {
            self.err(
                sp(&t.action),
                "action \"publish\" at a time needs `entry` or `entries`",
            );
            return None;
        }
        if list.is_empty() {
            return None;
        }
        Some(TimelineRule::PublishAt {
            at,
            entries: list,
            variant,
        })
    }

    /// The entries a publish names (`entry`, then `entries`), each known and,
    /// for a variant publish, having that variant; the others reported.
    fn published_entries(
        &mut self,
        t: &TimelineSpec,
        variant: Option<VariantRef>,
        content: &Content,
    ) -> Vec<EntryIdx> {
        let mut by_uid = |s: &Spanned<String>| -> Option<EntryIdx> {
            let found = content.entries.iter().position(|e| &e.uid == s.get_ref());
            if found.is_none() {
                self.err(sp(s), format!("unknown entry \"{}\"", s.get_ref()));
            }
            let idx = found? as EntryIdx;
            if let Some(v) = variant
                && !content.entries[idx as usize].variants.contains(&v)
            {
                self.err(sp(s), format!("entry \"{}\" has no variant {}; publish its base entry or add the variant to its variants_for", s.get_ref(), t.variant.as_ref().map_or("", |v| v.get_ref().as_str())));
                return None;
            }
            Some(idx)
        };
        let mut list: Vec<EntryIdx> = Vec::new();
        if let Some(e) = &t.entry {
            list.extend(by_uid(e));
        }
        for e in t.entries.iter().flatten() {
            list.extend(by_uid(e));
        }
        list
    }
}
