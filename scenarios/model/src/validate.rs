//! From a scenario file's text to a [`Scenario`]: parse, check every rule,
//! resolve names, fill defaults, expand page sets.
//!
//! Validation does not stop at the first problem: it collects every one it can
//! find, each with the span of the value at fault, so a person fixes a file in
//! one pass. Rules are listed in `docs/scenario-format.md`; each has a broken
//! file under `scenarios/tests/bad/`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use crate::error::{Diagnostic, ScenarioError};
use crate::model::{
    Architecture, ArchitectureConfig, Assignment, Attribute, Audience, Backend,
    CONTENTSTACK_DELIVERY_MISS_RPS, CacheOptions, Cmp, Content, Dist, Entry, EntryIdx, ExpIdx,
    Experience, Faults, KeyScope, Measure, OriginOptions, Outage, Page, Popularity, RateLimit,
    Scenario, Sweep, Threshold, TimelineRule, Traffic, Unit, UpstreamFaults, VariantRef,
};
use crate::spec::{
    ActionSpec, AudienceSpec, BackendSpec, BoundSpec, CacheSpec, DistSpec, ExperienceKind,
    HumanDuration, KeyScopeSpec, PopularitySpec, ScenarioFile, ThresholdsSpec, TimelineSpec,
    UpstreamFaultsSpec,
};
use crate::time::Micros;
use crate::world::MAX_EXPERIENCES;

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let shown = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_str(&shown, &source)
}

/// Validates scenario text; `file` names it in diagnostics.
pub fn parse_str(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    let spec: ScenarioFile = toml::from_str(source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ScenarioError::Invalid(vec![Diagnostic::at(
            file,
            source,
            span,
            e.message().trim().to_owned(),
        )])
    })?;
    let mut cx = Cx::default();
    let scenario = cx.scenario(&spec);
    if cx.problems.is_empty() {
        Ok(scenario)
    } else {
        cx.problems.sort_by_key(|(span, _)| span.start);
        Err(ScenarioError::Invalid(
            cx.problems
                .into_iter()
                .map(|(span, msg)| Diagnostic::at(file, source, span, msg))
                .collect(),
        ))
    }
}

/// Validation state: the problems found so far and the names resolved so far.
#[derive(Default)]
struct Cx {
    problems: Vec<(Range<usize>, String)>,
    duration: Micros,
}

fn sp<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

/// Letters and digits only: short uids go into aliases such as
/// `cs_personalize_0_1` and params such as `0_1,a_2`, where `_` and `,` separate.
fn is_short_uid(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Cx {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.problems.push((span, msg.into()));
    }

    fn scenario(&mut self, f: &ScenarioFile) -> Scenario {
        let meta = &f.scenario;
        let name = meta.name.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.err(
                sp(&meta.name),
                format!("scenario name \"{name}\" must be letters, digits, '-' or '_' (it names report folders)"),
            );
        }
        let duration = meta.duration.get_ref().0;
        if duration == Micros::ZERO {
            self.err(sp(&meta.duration), "duration must be longer than 0s");
        }
        self.duration = duration;

        let attributes = self.attributes(f);
        let experiences = self.experiences(f, &attributes);
        let content = self.content(f, &experiences);
        let traffic = self.traffic(f, &content);
        let timeline = f
            .timeline
            .iter()
            .filter_map(|t| self.timeline_rule(t, &attributes, &experiences, &content))
            .collect();
        let faults = Faults {
            personalize: self.upstream(&f.faults.personalize),
            delivery: self.upstream(&f.faults.delivery),
        };
        let origin = OriginOptions {
            personalize_timeout: f
                .origin
                .personalize_timeout
                .map_or(Micros::from_millis(200), |d| d.0),
            delivery_timeout: f
                .origin
                .delivery_timeout
                .map_or(Micros::from_secs(2), |d| d.0),
            render_time: f
                .origin
                .render_time
                .as_ref()
                .map_or(Dist::Fixed(Micros::from_millis(2)), |d| self.dist(d)),
        };
        let global_thresholds = self.thresholds(&f.thresholds);
        let architectures = self.architectures(f, &global_thresholds);
        let sweep = f.sweep.as_ref().and_then(|s| self.sweep(s));
        Scenario {
            name: name.clone(),
            description: meta.description.clone(),
            seed: meta.seed,
            duration,
            traffic,
            attributes,
            experiences,
            content,
            timeline,
            faults,
            origin,
            architectures,
            sweep,
        }
    }

    fn traffic(&mut self, f: &ScenarioFile, content: &Content) -> Traffic {
        let t = &f.traffic;
        if *t.visitors.get_ref() == 0 {
            self.err(sp(&t.visitors), "visitors must be at least 1");
        }
        if t.users.is_none() && t.arrival_rate.is_none() {
            self.err(
                f_span_of_traffic(t),
                "traffic needs `users` (closed loop, with think_time) or `arrival_rate` (open loop, requests per second), or both",
            );
        }
        if let Some(u) = &t.users {
            if *u.get_ref() == 0 {
                self.err(sp(u), "users must be at least 1");
            }
        }
        if let Some(r) = &t.arrival_rate {
            if !(r.get_ref().is_finite() && *r.get_ref() > 0.0) {
                self.err(
                    sp(r),
                    format!(
                        "arrival_rate must be a positive number of requests per second, got {}",
                        r.get_ref()
                    ),
                );
            }
        }
        let pages_per_session = t.pages_per_session.as_ref().map_or(1, |p| {
            if *p.get_ref() == 0 {
                self.err(sp(p), "pages_per_session must be at least 1");
            }
            *p.get_ref()
        });
        let popularity = match (t.popularity, &t.zipf_s) {
            (PopularitySpec::Uniform, Some(s)) => {
                self.err(sp(s), "zipf_s applies only with popularity = \"zipf\"");
                Popularity::Uniform
            }
            (PopularitySpec::Uniform, None) => Popularity::Uniform,
            (PopularitySpec::Zipf, s) => {
                let v = s.as_ref().map_or(1.0, |s| *s.get_ref());
                if let Some(s) = s {
                    if !(v.is_finite() && v > 0.0) {
                        self.err(
                            sp(s),
                            format!("zipf_s must be a positive exponent, got {v}"),
                        );
                    }
                }
                Popularity::Zipf { s: v }
            }
        };
        let _ = content;
        Traffic {
            visitors: *t.visitors.get_ref(),
            users: t.users.as_ref().map(|u| *u.get_ref()),
            think_time: t
                .think_time
                .as_ref()
                .map_or(Dist::Fixed(Micros::ZERO), |d| self.dist(d)),
            arrival_rate: t.arrival_rate.as_ref().map(|r| *r.get_ref()),
            pages_per_session,
            popularity,
        }
    }

    fn dist(&mut self, d: &Spanned<DistSpec>) -> Dist {
        let table = match d.get_ref() {
            DistSpec::Fixed(v) => return Dist::Fixed(v.0),
            DistSpec::Table(t) => t,
        };
        let shapes = [
            table.mean.is_some(),
            table.min.is_some() || table.max.is_some(),
            table.p50.is_some() || table.p99.is_some(),
        ];
        let fallback = Dist::Fixed(Micros::ZERO);
        if shapes.iter().filter(|s| **s).count() != 1 {
            self.err(
                sp(d),
                "a distribution takes exactly one shape: { mean }, { min, max } or { p50, p99 }",
            );
            return fallback;
        }
        match (table.mean, table.min, table.max, table.p50, table.p99) {
            (Some(m), ..) => Dist::Exponential { mean: m.0 },
            (None, Some(lo), Some(hi), ..) => {
                if lo > hi {
                    self.err(sp(d), format!("min {} is greater than max {}", lo.0, hi.0));
                }
                Dist::Uniform {
                    min: lo.0,
                    max: hi.0,
                }
            }
            (None, None, None, Some(p50), Some(p99)) => {
                if p50 > p99 {
                    self.err(
                        sp(d),
                        format!("p50 {} is greater than p99 {}", p50.0, p99.0),
                    );
                }
                Dist::LogNormal {
                    p50: p50.0,
                    p99: p99.0,
                }
            }
            _ => {
                self.err(
                    sp(d),
                    "a distribution table needs both bounds: { min, max } or { p50, p99 }",
                );
                fallback
            }
        }
    }

    fn attributes(&mut self, f: &ScenarioFile) -> Vec<Attribute> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
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

    fn experiences(&mut self, f: &ScenarioFile, attrs: &[Attribute]) -> Vec<Experience> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for e in &f.experiences {
            let e = e.get_ref();
            let uid = e.uid.get_ref();
            if !is_short_uid(uid) {
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
                                if !is_short_uid(v) {
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
                        if !is_short_uid(vu) {
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

    fn check_splits(
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

    fn audience(&mut self, a: &Spanned<AudienceSpec>, attrs: &[Attribute]) -> Audience {
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
            match attrs[ai].value_index(v.get_ref()) {
                Some(i) => idx.push(i),
                None => self.err(
                    sp(v),
                    format!(
                        "attribute \"{}\" has no value \"{}\"; its values: {}",
                        attrs[ai].name,
                        v.get_ref(),
                        attrs[ai].values.join(", ")
                    ),
                ),
            }
        }
        if negate {
            Audience::NotIn(ai, idx)
        } else {
            Audience::In(ai, idx)
        }
    }

    /// Resolves "0" (every variant of experience 0) or "0_1" (one variant).
    fn variant_refs(&mut self, s: &Spanned<String>, exps: &[Experience]) -> Vec<VariantRef> {
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

    fn content(&mut self, f: &ScenarioFile, exps: &[Experience]) -> Content {
        let content_span = sp(&f.content);
        let c = f.content.get_ref();
        let mut entries: Vec<Entry> = Vec::new();
        let mut by_uid: HashMap<String, EntryIdx> = HashMap::new();
        for e in &c.entries {
            let e = e.get_ref();
            let uid = e.uid.get_ref();
            if uid.is_empty() {
                self.err(sp(&e.uid), "entry uid must not be empty");
            }
            if by_uid.contains_key(uid) {
                self.err(sp(&e.uid), format!("entry \"{uid}\" is declared twice"));
                continue;
            }
            let mut variants: Vec<VariantRef> = e
                .variants_for
                .iter()
                .flat_map(|v| self.variant_refs(v, exps))
                .collect();
            variants.sort_unstable();
            variants.dedup();
            by_uid.insert(uid.clone(), entries.len() as EntryIdx);
            entries.push(Entry {
                uid: uid.clone(),
                content_type: e.content_type.clone(),
                variants,
            });
        }
        let mut pages: Vec<Page> = Vec::new();
        let mut paths: HashSet<String> = HashSet::new();
        for p in &c.pages {
            let p = p.get_ref();
            let path = p.path.get_ref();
            self.check_path(&p.path, path, &mut paths);
            if p.entries.is_empty() {
                self.err(
                    sp(&p.path),
                    format!("page \"{path}\" renders no entries; list at least one in `entries`"),
                );
            }
            let ids = p
                .entries
                .iter()
                .filter_map(|e| self.entry_ref(e, &by_uid))
                .collect();
            pages.push(Page {
                path: path.clone(),
                entries: ids,
                visitor_fragment: p.visitor_fragment,
            });
        }
        for set in &c.page_sets {
            let s = set.get_ref();
            let pattern = s.path.get_ref();
            if !pattern.contains("{i}") {
                self.err(sp(&s.path), format!("page set path \"{pattern}\" needs \"{{i}}\" where the page number goes, e.g. \"/products/{{i}}\""));
                continue;
            }
            let count = *s.count.get_ref();
            if count == 0 {
                self.err(sp(&s.count), "count must be at least 1");
            }
            let per_page = s.entries_per_page.as_ref().map_or(1, |n| {
                if *n.get_ref() == 0 {
                    self.err(sp(n), "entries_per_page must be at least 1");
                }
                *n.get_ref()
            });
            let with_variants = s.variant_entries.as_ref().map_or(1.min(per_page), |n| {
                if *n.get_ref() > per_page {
                    self.err(
                        sp(n),
                        format!(
                            "variant_entries ({}) is more than entries_per_page ({per_page})",
                            n.get_ref()
                        ),
                    );
                }
                *n.get_ref()
            });
            let mut variants: Vec<VariantRef> = s
                .variants_for
                .iter()
                .flat_map(|v| self.variant_refs(v, exps))
                .collect();
            variants.sort_unstable();
            variants.dedup();
            let shared: Vec<EntryIdx> = s
                .shared_entries
                .iter()
                .filter_map(|e| self.entry_ref(e, &by_uid))
                .collect();
            for i in 0..count {
                let path = pattern.replace("{i}", &i.to_string());
                if !paths.insert(path.clone()) {
                    self.err(
                        sp(&s.path),
                        format!("page set makes path \"{path}\", which another page already has"),
                    );
                    break;
                }
                let mut ids = shared.clone();
                for k in 0..per_page {
                    let uid = format!("{}_{i}_{k}", s.content_type);
                    if by_uid.contains_key(&uid) {
                        self.err(
                            sp(&s.path),
                            format!("page set makes entry \"{uid}\", which is already declared"),
                        );
                        continue;
                    }
                    let idx = entries.len() as EntryIdx;
                    by_uid.insert(uid.clone(), idx);
                    entries.push(Entry {
                        uid,
                        content_type: s.content_type.clone(),
                        variants: if k < with_variants {
                            variants.clone()
                        } else {
                            Vec::new()
                        },
                    });
                    ids.push(idx);
                }
                pages.push(Page {
                    path,
                    entries: ids,
                    visitor_fragment: false,
                });
            }
        }
        if pages.is_empty() {
            self.err(
                content_span,
                "the scenario has no pages: add [[content.pages]] or [[content.page_sets]]",
            );
        }
        Content {
            locale: c.locale.clone(),
            entries,
            pages,
        }
    }

    fn check_path(&mut self, span: &Spanned<String>, path: &str, paths: &mut HashSet<String>) {
        if !path.starts_with('/')
            || path.contains(char::is_whitespace)
            || path.contains('?')
            || path.contains('#')
        {
            self.err(
                sp(span),
                format!(
                    "page path \"{path}\" must start with '/' and have no spaces, query or fragment"
                ),
            );
        } else if !paths.insert(path.to_owned()) {
            self.err(sp(span), format!("page \"{path}\" is declared twice"));
        }
    }

    fn entry_ref(
        &mut self,
        e: &Spanned<String>,
        by_uid: &HashMap<String, EntryIdx>,
    ) -> Option<EntryIdx> {
        let found = by_uid.get(e.get_ref()).copied();
        if found.is_none() {
            self.err(
                sp(e),
                format!(
                    "unknown entry \"{}\"; declare it in [[content.entries]]",
                    e.get_ref()
                ),
            );
        }
        found
    }

    fn when(&mut self, at: &Spanned<HumanDuration>, what: &str) -> Micros {
        let t = at.get_ref().0;
        if t > self.duration {
            self.err(
                sp(at),
                format!("{what} {t} is after the end of the run ({})", self.duration),
            );
        }
        t
    }

    #[allow(clippy::too_many_lines)]
    fn timeline_rule(
        &mut self,
        t: &Spanned<TimelineSpec>,
        attrs: &[Attribute],
        exps: &[Experience],
        content: &Content,
    ) -> Option<TimelineRule> {
        let whole = sp(t);
        let t = t.get_ref();
        let action = *t.action.get_ref();
        let action_name = action_name(action);
        // Keys each action takes; anything else present is an error.
        let allowed: &[&str] = match action {
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
        };
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
            ("", None),
        ];
        let mut bad = false;
        for (key, span) in &present {
            if let Some(span) = span {
                if !allowed.contains(key) {
                    self.err(
                        span.clone(),
                        format!(
                            "`{key}` does not apply to action \"{action_name}\"; it takes {}",
                            allowed.join(", ")
                        ),
                    );
                    bad = true;
                }
            }
        }
        if bad {
            return None;
        }
        let need = |cx: &mut Cx, what: &str| {
            cx.err(
                sp(&t.action),
                format!("action \"{action_name}\" needs `{what}`"),
            );
        };
        // A recurring rule's window.
        let window = |cx: &mut Cx| -> Option<(Micros, Micros)> {
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
                    .map_or(whole.clone(), sp);
                cx.err(
                    span,
                    format!("the window is empty: from {from} is not before until {until}"),
                );
                return None;
            }
            Some((from, until))
        };
        let positive = |cx: &mut Cx, r: &Spanned<f64>, what: &str| -> Option<f64> {
            let v = *r.get_ref();
            if v.is_finite() && v > 0.0 {
                Some(v)
            } else {
                cx.err(sp(r), format!("{what} must be a positive number, got {v}"));
                None
            }
        };
        let experience = |cx: &mut Cx| -> Option<ExpIdx> {
            let Some(e) = &t.experience else {
                need(cx, "experience");
                return None;
            };
            let found = exps.iter().position(|x| &x.uid == e.get_ref());
            if found.is_none() {
                cx.err(sp(e), format!("unknown experience \"{}\"", e.get_ref()));
            }
            found.map(|i| i as ExpIdx)
        };
        let at = |cx: &mut Cx| -> Option<Micros> {
            match &t.at {
                Some(a) => Some(cx.when(a, "at")),
                None => {
                    need(cx, "at");
                    None
                }
            }
        };
        match action {
            ActionSpec::AttributeChange => {
                let Some(attr) = &t.attribute else {
                    need(self, "attribute");
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
                    Some(v) => {
                        let found = attrs[ai].value_index(v.get_ref());
                        if found.is_none() {
                            self.err(
                                sp(v),
                                format!(
                                    "attribute \"{}\" has no value \"{}\"; its values: {}",
                                    attrs[ai].name,
                                    v.get_ref(),
                                    attrs[ai].values.join(", ")
                                ),
                            );
                            return None;
                        }
                        found
                    }
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
                if let Some(fr) = &t.fraction {
                    if let Some(w) = t.from.as_ref().or(t.until.as_ref()) {
                        self.err(sp(w), "a storm (`fraction`) happens `at` one time; `from` and `until` are for `rate` and `mean_interval`");
                        return None;
                    }
                    let at = at(self)?;
                    let v = *fr.get_ref();
                    if !(v > 0.0 && v <= 1.0) {
                        self.err(sp(fr), format!("fraction must be in (0, 1], got {v}"));
                        return None;
                    }
                    return Some(TimelineRule::AttributeStorm {
                        at,
                        attribute: ai,
                        fraction: v,
                        value,
                    });
                }
                if let Some(a) = &t.at {
                    self.err(sp(a), "`at` goes with `fraction`; a `rate` or `mean_interval` runs `from` .. `until`");
                    return None;
                }
                let (from, until) = window(self)?;
                if let Some(r) = &t.rate {
                    let rate = positive(self, r, "rate")?;
                    return Some(TimelineRule::AttributeRate {
                        from,
                        until,
                        attribute: ai,
                        rate,
                        value,
                    });
                }
                let mi = t.mean_interval.as_ref().expect("one mode is set");
                if mi.get_ref().0 == Micros::ZERO {
                    self.err(sp(mi), "mean_interval must be longer than 0s");
                    return None;
                }
                Some(TimelineRule::AttributeDrift {
                    from,
                    until,
                    attribute: ai,
                    mean_interval: mi.get_ref().0,
                    value,
                })
            }
            ActionSpec::Activate | ActionSpec::Deactivate => {
                let e = experience(self);
                let at = at(self);
                Some(TimelineRule::SetActive {
                    at: at?,
                    experience: e?,
                    active: action == ActionSpec::Activate,
                })
            }
            ActionSpec::SetSplits => {
                let e = experience(self);
                let at = at(self);
                let Some(s) = &t.splits else {
                    need(self, "splits");
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
            ActionSpec::Publish => {
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
                let by_uid = |cx: &mut Cx, s: &Spanned<String>| -> Option<EntryIdx> {
                    let found = content.entries.iter().position(|e| &e.uid == s.get_ref());
                    if found.is_none() {
                        cx.err(sp(s), format!("unknown entry \"{}\"", s.get_ref()));
                    }
                    let idx = found? as EntryIdx;
                    if let Some(v) = variant {
                        if !content.entries[idx as usize].variants.contains(&v) {
                            cx.err(sp(s), format!("entry \"{}\" has no variant {}; publish its base entry or add the variant to its variants_for", s.get_ref(), t.variant.as_ref().map_or("", |v| v.get_ref().as_str())));
                            return None;
                        }
                    }
                    Some(idx)
                };
                let mut list: Vec<EntryIdx> = Vec::new();
                if let Some(e) = &t.entry {
                    list.extend(by_uid(self, e));
                }
                for e in t.entries.iter().flatten() {
                    list.extend(by_uid(self, e));
                }
                if let Some(r) = &t.rate {
                    if t.at.is_some() {
                        self.err(sp(t.at.as_ref().expect("checked")), "a publish `rate` runs `from` .. `until`; `at` is for one-off publishes");
                        return None;
                    }
                    if t.entry.is_some() {
                        self.err(sp(t.entry.as_ref().expect("checked")), "a publish `rate` draws from `entries` (or from every entry); `entry` is for one-off publishes");
                        return None;
                    }
                    let (from, until) = window(self)?;
                    let rate = positive(self, r, "rate")?;
                    if list.is_empty() {
                        list = (0..content.entries.len() as EntryIdx)
                            .filter(|i| {
                                variant.is_none_or(|v| {
                                    content.entries[*i as usize].variants.contains(&v)
                                })
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
                let at = at(self)?;
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
        }
    }

    fn upstream(&mut self, u: &UpstreamFaultsSpec) -> UpstreamFaults {
        let share = |cx: &mut Cx, v: &Option<Spanned<f64>>, what: &str, default: f64| -> f64 {
            match v {
                None => default,
                Some(r) => {
                    let x = *r.get_ref();
                    if !(0.0..=1.0).contains(&x) {
                        cx.err(
                            sp(r),
                            format!("{what} must be a share from 0 to 1, got {x}"),
                        );
                    }
                    x
                }
            }
        };
        let status = |cx: &mut Cx, v: &Option<Spanned<u16>>| -> u16 {
            match v {
                None => 503,
                Some(s) => {
                    let x = *s.get_ref();
                    if !(400..=599).contains(&x) {
                        cx.err(
                            sp(s),
                            format!("error_status must be a 4xx or 5xx status, got {x}"),
                        );
                    }
                    x
                }
            }
        };
        let error_rate = share(self, &u.error_rate, "error_rate", 0.0);
        let timeout_rate = share(self, &u.timeout_rate, "timeout_rate", 0.0);
        let rate_limit = u.rate_limit.as_ref().and_then(|r| {
            let s = r.get_ref();
            let rps = match (&s.preset, s.requests_per_second) {
                (Some(p), None) if p == "contentstack-delivery" => CONTENTSTACK_DELIVERY_MISS_RPS,
                (Some(p), None) => {
                    self.err(
                        sp(r),
                        format!(
                            "unknown rate limit preset \"{p}\"; known: \"contentstack-delivery\""
                        ),
                    );
                    return None;
                }
                (None, Some(x)) if x.is_finite() && x > 0.0 => x,
                (None, Some(x)) => {
                    self.err(
                        sp(r),
                        format!("requests_per_second must be positive, got {x}"),
                    );
                    return None;
                }
                _ => {
                    self.err(
                        sp(r),
                        "rate_limit takes exactly one of `preset` or `requests_per_second`",
                    );
                    return None;
                }
            };
            let burst = s.burst.unwrap_or(rps.ceil() as u32).max(1);
            Some(RateLimit {
                requests_per_second: rps,
                burst,
            })
        });
        let outages = u
            .outages
            .iter()
            .map(|o| {
                let s = o.get_ref();
                let from = self.when(&s.from, "from");
                let until = self.when(&s.until, "until");
                if from >= until {
                    self.err(
                        sp(&s.until),
                        format!("the outage is empty: from {from} is not before until {until}"),
                    );
                }
                Outage {
                    from,
                    until,
                    error_rate: share(self, &s.error_rate, "error_rate", 1.0),
                    error_status: status(self, &s.error_status),
                    timeout: s.timeout,
                }
            })
            .collect();
        UpstreamFaults {
            latency: u
                .latency
                .as_ref()
                .map_or(Dist::Fixed(Micros::ZERO), |d| self.dist(d)),
            error_rate,
            error_status: status(self, &u.error_status),
            timeout_rate,
            rate_limit,
            outages,
        }
    }

    fn cache(
        &mut self,
        base: Option<&Spanned<CacheSpec>>,
        over: Option<&Spanned<CacheSpec>>,
        arch_span: Range<usize>,
    ) -> CacheOptions {
        let empty = CacheSpec::default();
        let o = over.map_or(&empty, |s| s.get_ref());
        // Point backend problems at the table that sets the backend.
        let span = match over {
            Some(s) if o.backend.is_some() || o.redis_url.is_some() => sp(s),
            _ => base.map_or(arch_span, sp),
        };
        let base = base.map_or(&empty, |s| s.get_ref());
        let d = CacheOptions::default();
        let max_entries = o
            .max_entries
            .as_ref()
            .or(base.max_entries.as_ref())
            .map(|m| {
                if *m.get_ref() == 0 {
                    self.err(
                        sp(m),
                        "max_entries must be at least 1 (use ttl = \"0s\" for no caching)",
                    );
                }
                *m.get_ref()
            });
        let backend = match (
            o.backend.or(base.backend),
            o.redis_url.as_ref().or(base.redis_url.as_ref()),
        ) {
            (None | Some(BackendSpec::Memory), None) => Backend::Memory,
            (Some(BackendSpec::Redis), Some(url)) => Backend::Redis { url: url.clone() },
            (Some(BackendSpec::Redis), None) => {
                self.err(
                    span,
                    "backend = \"redis\" needs redis_url, e.g. \"redis://127.0.0.1:6379\"",
                );
                Backend::Memory
            }
            (_, Some(_)) => {
                self.err(span, "redis_url is set but backend is not \"redis\"");
                Backend::Memory
            }
        };
        CacheOptions {
            ttl: o.ttl.or(base.ttl).map_or(d.ttl, |x| x.0),
            stale_while_revalidate: o
                .stale_while_revalidate
                .or(base.stale_while_revalidate)
                .map_or(d.stale_while_revalidate, |x| x.0),
            stale_if_error: o
                .stale_if_error
                .or(base.stale_if_error)
                .map_or(d.stale_if_error, |x| x.0),
            coalesce: o.coalesce.or(base.coalesce).unwrap_or(d.coalesce),
            purge_on_publish: o
                .purge_on_publish
                .or(base.purge_on_publish)
                .unwrap_or(d.purge_on_publish),
            max_entries,
            max_bytes: o.max_bytes.or(base.max_bytes).map(|b| b.0),
            backend,
            key_scope: match o.key_scope.or(base.key_scope) {
                None | Some(KeyScopeSpec::All) => KeyScope::All,
                Some(KeyScopeSpec::Page) => KeyScope::Page,
            },
        }
    }

    fn architectures(&mut self, f: &ScenarioFile, global: &[Threshold]) -> Vec<ArchitectureConfig> {
        if f.architectures.get_ref().is_empty() {
            self.err(sp(&f.architectures), "name at least one architecture");
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for a in f.architectures.get_ref() {
            let spec = a.get_ref();
            let name = spec.name.get_ref();
            let Some(arch) = Architecture::parse(name) else {
                let known: Vec<_> = Architecture::ALL.iter().map(|a| a.as_str()).collect();
                self.err(
                    sp(&spec.name),
                    format!(
                        "unknown architecture \"{name}\"; expected one of {}",
                        known.join(", ")
                    ),
                );
                continue;
            };
            if !seen.insert(arch) {
                self.err(
                    sp(&spec.name),
                    format!("architecture \"{name}\" is listed twice"),
                );
            }
            if !arch.caches() {
                if let Some(c) = &spec.cache {
                    self.err(
                        sp(c),
                        "ssr-nocache has no cache, so it takes no cache options",
                    );
                }
            }
            let cache = self.cache(f.cache.as_ref(), spec.cache.as_ref(), sp(a));
            let mut thresholds = global.to_vec();
            if let Some(t) = &spec.thresholds {
                for own in self.thresholds(t) {
                    thresholds.retain(|g| g.measure != own.measure);
                    thresholds.push(own);
                }
            }
            thresholds.sort_by_key(|t| t.measure);
            out.push(ArchitectureConfig {
                arch,
                cache,
                thresholds,
            });
        }
        out
    }

    fn thresholds(&mut self, t: &ThresholdsSpec) -> Vec<Threshold> {
        let all = [
            (Measure::WrongVariant, &t.wrong_variant),
            (Measure::WrongVariantRate, &t.wrong_variant_rate),
            (Measure::Leak, &t.leak),
            (Measure::LeakRate, &t.leak_rate),
            (Measure::StaleVariant, &t.stale_variant),
            (Measure::StaleVariantRate, &t.stale_variant_rate),
            (Measure::StaleContent, &t.stale_content),
            (Measure::StaleContentRate, &t.stale_content_rate),
            (Measure::Error, &t.error),
            (Measure::ErrorRate, &t.error_rate),
            (Measure::Fallback, &t.fallback),
            (Measure::FallbackRate, &t.fallback_rate),
            (Measure::Offload, &t.offload),
            (Measure::HitRate, &t.hit_rate),
            (Measure::P50, &t.p50),
            (Measure::P90, &t.p90),
            (Measure::P99, &t.p99),
            (Measure::P999, &t.p999),
            (Measure::MaxLatency, &t.max_latency),
            (Measure::StalenessP99, &t.staleness_p99),
        ];
        all.into_iter()
            .filter_map(|(m, b)| b.as_ref().and_then(|b| self.bound(m, b)))
            .collect()
    }

    fn bound(&mut self, measure: Measure, b: &Spanned<BoundSpec>) -> Option<Threshold> {
        let name = measure.as_str();
        let (cmp, value) = match b.get_ref() {
            BoundSpec::Number(n) => {
                if measure.unit() == Unit::Duration {
                    self.err(
                        sp(b),
                        format!("{name} is a duration: write a bound such as \"<= 50ms\""),
                    );
                    return None;
                }
                (
                    if measure.higher_is_better() {
                        Cmp::Ge
                    } else {
                        Cmp::Le
                    },
                    *n,
                )
            }
            BoundSpec::Text(text) => {
                let s = text.trim();
                let ops = [
                    ("<=", Cmp::Le),
                    (">=", Cmp::Ge),
                    ("==", Cmp::Eq),
                    ("<", Cmp::Lt),
                    (">", Cmp::Gt),
                ];
                let Some((op, rest)) = ops
                    .iter()
                    .find_map(|(p, c)| s.strip_prefix(p).map(|r| (*c, r.trim())))
                else {
                    self.err(sp(b), format!("bound \"{text}\" of {name} needs a comparison first: <=, <, >=, > or ==, e.g. \"<= 0.01\""));
                    return None;
                };
                let value = if measure.unit() == Unit::Duration {
                    match HumanDuration::parse(rest) {
                        Ok(d) => d.0.as_secs_f64(),
                        Err(e) => {
                            self.err(sp(b), format!("{name}: {e}"));
                            return None;
                        }
                    }
                } else if let Ok(v) = rest.parse::<f64>() {
                    v
                } else {
                    self.err(sp(b), format!("bound \"{text}\" of {name} needs a number after the comparison, e.g. \"<= 0.01\""));
                    return None;
                };
                (op, value)
            }
        };
        match measure.unit() {
            Unit::Rate if !(0.0..=1.0).contains(&value) => {
                self.err(sp(b), format!("{name} is a share from 0 to 1, got {value}"));
                return None;
            }
            Unit::Count if value < 0.0 || !value.is_finite() => {
                self.err(sp(b), format!("{name} is a count, got {value}"));
                return None;
            }
            _ => {}
        }
        Some(Threshold {
            measure,
            cmp,
            value,
        })
    }

    fn sweep(&mut self, s: &Spanned<crate::spec::SweepSpec>) -> Option<Sweep> {
        let v = s.get_ref();
        let us = |d: &Vec<HumanDuration>| d.iter().map(|x| x.0).collect::<Vec<_>>();
        let mut found: Vec<Sweep> = Vec::new();
        if let Some(x) = &v.ttl {
            found.push(Sweep::Ttl(us(x)));
        }
        if let Some(x) = &v.stale_while_revalidate {
            found.push(Sweep::StaleWhileRevalidate(us(x)));
        }
        if let Some(x) = &v.stale_if_error {
            found.push(Sweep::StaleIfError(us(x)));
        }
        if let Some(x) = &v.coalesce {
            found.push(Sweep::Coalesce(x.clone()));
        }
        if let Some(x) = &v.purge_on_publish {
            found.push(Sweep::PurgeOnPublish(x.clone()));
        }
        if let Some(x) = &v.max_entries {
            if x.contains(&0) {
                self.err(sp(s), "max_entries values must be at least 1");
            }
            found.push(Sweep::MaxEntries(x.clone()));
        }
        if let Some(x) = &v.key_scope {
            found.push(Sweep::KeyScope(
                x.iter()
                    .map(|k| match k {
                        KeyScopeSpec::All => KeyScope::All,
                        KeyScopeSpec::Page => KeyScope::Page,
                    })
                    .collect(),
            ));
        }
        if found.len() != 1 {
            self.err(
                sp(s),
                "a sweep varies exactly one cache option, e.g. ttl = [\"0s\", \"5s\", \"30s\"]",
            );
            return None;
        }
        let sweep = found.pop().expect("one");
        if sweep.len() < 2 {
            self.err(
                sp(s),
                format!(
                    "a sweep of {} needs at least two values to compare",
                    sweep.option()
                ),
            );
            return None;
        }
        Some(sweep)
    }
}

fn f_span_of_traffic(t: &crate::spec::TrafficSpec) -> Range<usize> {
    sp(&t.visitors)
}

fn action_name(a: ActionSpec) -> &'static str {
    match a {
        ActionSpec::AttributeChange => "attribute_change",
        ActionSpec::Activate => "activate",
        ActionSpec::Deactivate => "deactivate",
        ActionSpec::SetSplits => "set_splits",
        ActionSpec::Publish => "publish",
    }
}

/// A number without a needless ".0": 90, 99.5.
fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
