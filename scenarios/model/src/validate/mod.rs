//! From a scenario file's text to a [`Scenario`]: parse, check every rule,
//! resolve names, fill defaults, expand page sets.
//!
//! Validation does not stop at the first problem: it collects every one it can
//! find, each with the span of the value at fault, so a person fixes a file in
//! one pass. Rules are listed in `docs/scenario-format.md`; each has a broken
//! file under `scenarios/tests/bad/`.

mod content;
mod options;
mod population;
mod timeline;

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use crate::error::{Diagnostic, ScenarioError};
use crate::model::{Content, Dist, Faults, OriginOptions, Popularity, Scenario, Traffic};
use crate::spec::{ActionSpec, DistSpec, PopularitySpec, ScenarioFile};
use crate::time::Micros;

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
    let mut scenario = cx.scenario(&spec);
    scenario.source_hash = xxhash_rust::xxh3::xxh3_64(source.as_bytes());
    if cx.problems.is_empty() {
        Ok(scenario)
    } else {
        cx.problems.sort_by_key(|(span, _)| span.start);
        // `[cache]` is resolved once per architecture: say its problems once.
        cx.problems.dedup();
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

impl Cx {
    pub(super) fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.problems.push((span, msg.into()));
    }

    /// The index of value `v` of attribute `a`, or a problem naming the
    /// values it has (audiences and timeline changes both name values).
    pub(super) fn attribute_value(
        &mut self,
        a: &crate::model::Attribute,
        v: &Spanned<String>,
    ) -> Option<crate::model::ValueIdx> {
        let found = a.value_index(v.get_ref());
        if found.is_none() {
            self.err(
                sp(v),
                format!(
                    "attribute \"{}\" has no value \"{}\"; its values: {}",
                    a.name,
                    v.get_ref(),
                    a.values.join(", ")
                ),
            );
        }
        found
    }

    pub(super) fn scenario(&mut self, f: &ScenarioFile) -> Scenario {
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
            source_hash: 0,
        }
    }

    pub(super) fn traffic(&mut self, f: &ScenarioFile, content: &Content) -> Traffic {
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
        if let Some(u) = &t.users
            && *u.get_ref() == 0
        {
            self.err(sp(u), "users must be at least 1");
        }
        if let Some(r) = &t.arrival_rate
            && !(r.get_ref().is_finite() && *r.get_ref() > 0.0)
        {
            self.err(
                sp(r),
                format!(
                    "arrival_rate must be a positive number of requests per second, got {}",
                    r.get_ref()
                ),
            );
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
                if let Some(s) = s
                    && !(v.is_finite() && v > 0.0)
                {
                    self.err(
                        sp(s),
                        format!("zipf_s must be a positive exponent, got {v}"),
                    );
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

    pub(super) fn dist(&mut self, d: &Spanned<DistSpec>) -> Dist {
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
