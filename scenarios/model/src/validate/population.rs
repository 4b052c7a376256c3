//! Attributes, experiences and audiences.

use std::collections::BTreeMap;
use std::collections::HashSet;

use toml::Spanned;

use crate::alias;
use crate::bounds::{MAX_ATTRIBUTES, MAX_WEIGHT};
use crate::model::{Assignment, Attribute, Audience, ExpIdx, Experience, VariantRef};
use crate::spec::{AudienceSpec, ExperienceKind, ScenarioFile};
use crate::world::MAX_EXPERIENCES;

use super::{Cx, fmt_num, sp};

impl Cx {
    pub(super) fn attributes(&mut self, f: &ScenarioFile) -> Vec<Attribute> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        if let Some(a) = f.attributes.get(MAX_ATTRIBUTES) {
            self.err(
                sp(a),
                format!("at most {MAX_ATTRIBUTES} attributes are supported"),
            );
        }
        for a in &f.attributes {
            let a = a.get_ref();
            let name = a.name.get_ref();
            if name.is_empty() {
                self.err(sp(&a.name), "attribute name must not be empty");
            } else if !seen.insert(name.clone()) {
                self.err(
                    sp(&a.name),
                    format!("attribute \"{name}\" is declared twice"),
                );
            }
            if a.values.get_ref().is_empty() {
                self.err(sp(&a.values), format!("attribute \"{name}\" needs at least one value with a weight, e.g. {{ US = 60, DE = 40 }}"));
            }
            if a.values.get_ref().len() > usize::from(u16::MAX) {
                self.err(sp(&a.values), "an attribute has at most 65535 values");
            }
            let mut values = Vec::new();
            let mut weights = Vec::new();
            for (v, w) in a.values.get_ref() {
                let wv = *w.get_ref();
                if !(wv.is_finite() && wv > 0.0) {
                    self.err(
                        sp(w),
                        format!("weight of \"{v}\" must be a positive number, got {wv}"),
                    );
                } else if wv > MAX_WEIGHT {
                    self.err(
                        sp(w),
                        format!("weight of \"{v}\" must be at most {MAX_WEIGHT:e} (weights are relative), got {wv}"),
                    );
                }
                values.push(v.clone());
                weights.push(wv);
            }
            out.push(Attribute {
                name: name.clone(),
                values,
                weights,
            });
        }
        out
    }

    #[allow(clippy::too_many_lines)] // the A/B and the segmented forms, side by side
    pub(super) fn experiences(&mut self, f: &ScenarioFile, attrs: &[Attribute]) -> Vec<Experience> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for e in &f.experiences {
            let e = e.get_ref();
            let uid = e.uid.get_ref();
            if !alias::is_uid(uid) {
                self.err(sp(&e.uid), format!("experience uid \"{uid}\" must be a short uid of letters and digits, like \"0\" or \"a\""));
            } else if !seen.insert(uid.clone()) {
                self.err(
                    sp(&e.uid),
                    format!("experience \"{uid}\" is declared twice"),
                );
            }
            let (variants, variant_names, assignment) = match e.kind.get_ref() {
                ExperienceKind::Ab => {
                    if let Some(v) = e.variants.first() {
                        self.err(sp(v), format!("A/B experience \"{uid}\" takes `splits`, not `variants` (variants with audiences are for type = \"segmented\")"));
                    }
                    let audience = e.audience.as_ref().map(|a| self.audience(a, attrs));
                    match &e.splits {
                        None => {
                            self.err(sp(&e.kind), format!("A/B experience \"{uid}\" needs `splits`, e.g. splits = {{ \"0\" = 50, \"1\" = 50 }}"));
                            (
                                Vec::new(),
                                Vec::new(),
                                Assignment::Ab {
                                    splits: Vec::new(),
                                    audience,
                                },
                            )
                        }
                        Some(s) => {
                            let mut variants = Vec::new();
                            let mut splits = Vec::new();
                            for (v, pct) in s.get_ref() {
                                if !alias::is_uid(v) {
                                    self.err(sp(s), format!("variant uid \"{v}\" of experience \"{uid}\" must be letters and digits, like \"0\""));
                                }
                                variants.push(v.clone());
                                splits.push(*pct.get_ref());
                            }
                            self.check_splits(s, uid, &splits);
                            let names = vec![String::new(); variants.len()];
                            (variants, names, Assignment::Ab { splits, audience })
                        }
                    }
                }
                ExperienceKind::Segmented => {
                    if let Some(s) = &e.splits {
                        self.err(sp(s), format!("segmented experience \"{uid}\" takes `variants` with audiences, not `splits`"));
                    }
                    if let Some(a) = &e.audience {
                        self.err(sp(a), format!("segmented experience \"{uid}\" puts an audience on each variant, not on the experience"));
                    }
                    if e.variants.is_empty() {
                        self.err(sp(&e.kind), format!("segmented experience \"{uid}\" needs at least one [[experiences.variants]] with an audience"));
                    }
                    let mut vseen = HashSet::new();
                    let mut variants = Vec::new();
                    let mut names = Vec::new();
                    let mut audiences = Vec::new();
                    for v in &e.variants {
                        let v = v.get_ref();
                        let vu = v.uid.get_ref();
                        if !alias::is_uid(vu) {
                            self.err(
                                sp(&v.uid),
                                format!(
                                    "variant uid \"{vu}\" must be letters and digits, like \"0\""
                                ),
                            );
                        } else if !vseen.insert(vu.clone()) {
                            self.err(
                                sp(&v.uid),
                                format!(
                                    "variant \"{vu}\" of experience \"{uid}\" is declared twice"
                                ),
                            );
                        }
                        variants.push(vu.clone());
                        names.push(v.name.clone());
                        audiences.push(self.audience(&v.audience, attrs));
                    }
                    (variants, names, Assignment::Segmented { audiences })
                }
            };
            if variants.len() > 255 {
                self.err(sp(&e.uid), "an experience has at most 255 variants");
            }
            out.push(Experience {
                uid: uid.clone(),
                name: e.name.clone(),
                active: e.active,
                tags: e.tags.clone(),
                variants,
                variant_names,
                assignment,
            });
        }
        if let Some(e) = f.experiences.get(MAX_EXPERIENCES) {
            self.err(
                sp(e),
                format!("at most {MAX_EXPERIENCES} experiences are supported"),
            );
        }
        out
    }

    pub(super) fn check_splits(
        &mut self,
        s: &Spanned<BTreeMap<String, Spanned<f64>>>,
        uid: &str,
        splits: &[f64],
    ) {
        if s.get_ref().is_empty() {
            self.err(sp(s), format!("splits of experience \"{uid}\" are empty, expected percentages per variant summing to 100"));
            return;
        }
        for (v, pct) in s.get_ref() {
            let p = *pct.get_ref();
            if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
                self.err(
                    sp(pct),
                    format!("split of variant \"{v}\" must be a percentage from 0 to 100, got {p}"),
                );
                return;
            }
        }
        let sum: f64 = splits.iter().sum();
        if (sum - 100.0).abs() > 1e-9 {
            self.err(
                sp(s),
                format!(
                    "splits of experience \"{uid}\" sum to {}, expected 100",
                    fmt_num(sum)
                ),
            );
        }
    }

    pub(super) fn audience(&mut self, a: &Spanned<AudienceSpec>, attrs: &[Attribute]) -> Audience {
        let spec = a.get_ref();
        let forms = [
            spec.attribute.is_some(),
            spec.all.is_some(),
            spec.any.is_some(),
        ];
        let nothing = Audience::All(Vec::new());
        if forms.iter().filter(|f| **f).count() != 1 {
            self.err(sp(a), "an audience takes exactly one form: { attribute, in } , { attribute, not_in }, { all = [...] } or { any = [...] }");
            return nothing;
        }
        if let Some(list) = spec.all.as_ref().or(spec.any.as_ref()) {
            if spec.is_in.is_some() || spec.not_in.is_some() {
                self.err(
                    sp(a),
                    "`in` and `not_in` go with `attribute`, not with `all` or `any`",
                );
            }
            if list.is_empty() {
                self.err(sp(a), "`all` and `any` need at least one rule");
            }
            let rules = list.iter().map(|r| self.audience(r, attrs)).collect();
            return if spec.all.is_some() {
                Audience::All(rules)
            } else {
                Audience::Any(rules)
            };
        }
        let attr = spec.attribute.as_ref().expect("one form is set");
        let Some(ai) = attrs.iter().position(|x| &x.name == attr.get_ref()) else {
            let known: Vec<_> = attrs.iter().map(|x| format!("\"{}\"", x.name)).collect();
            self.err(
                sp(attr),
                format!(
                    "unknown attribute \"{}\"; declared attributes: {}",
                    attr.get_ref(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return nothing;
        };
        let (values, negate) = match (&spec.is_in, &spec.not_in) {
            (Some(v), None) => (v, false),
            (None, Some(v)) => (v, true),
            _ => {
                self.err(sp(a), "a condition takes exactly one of `in` or `not_in`");
                return nothing;
            }
        };
        if values.is_empty() {
            self.err(sp(a), "`in` / `not_in` need at least one value");
        }
        let mut idx = Vec::new();
        for v in values {
            if let Some(i) = self.attribute_value(&attrs[ai], v) {
                idx.push(i);
            }
        }
        if negate {
            Audience::NotIn(ai, idx)
        } else {
            Audience::In(ai, idx)
        }
    }

    /// Resolves `"0"` (every variant of experience 0) or `"0_1"` (one variant).
    pub(super) fn variant_refs(
        &mut self,
        s: &Spanned<String>,
        exps: &[Experience],
    ) -> Vec<VariantRef> {
        let text = s.get_ref();
        let (e, v) = match text.split_once('_') {
            Some((e, v)) => (e, Some(v)),
            None => (text.as_str(), None),
        };
        let Some(ei) = exps.iter().position(|x| x.uid == e) else {
            let known: Vec<_> = exps.iter().map(|x| format!("\"{}\"", x.uid)).collect();
            let known = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            let what = if v.is_some() {
                format!(" in \"{text}\"")
            } else {
                String::new()
            };
            self.err(sp(s), format!("unknown experience \"{e}\"{what}; expected an experience uid (\"0\") or experience_variant (\"0_1\"); experiences: {known}"));
            return Vec::new();
        };
        let exp = &exps[ei];
        let ei = ei as ExpIdx;
        match v {
            None => (0..exp.variants.len())
                .map(|vi| VariantRef {
                    experience: ei,
                    variant: vi as u16,
                })
                .collect(),
            Some(v) => match exp.variants.iter().position(|x| x == v) {
                Some(vi) => vec![VariantRef {
                    experience: ei,
                    variant: vi as u16,
                }],
                None => {
                    self.err(
                        sp(s),
                        format!(
                            "experience \"{e}\" has no variant \"{v}\"; its variants: {}",
                            exp.variants.join(", ")
                        ),
                    );
                    Vec::new()
                }
            },
        }
    }
}
