//! From a scenario file's text to a [`Scenario`]: parse, check every rule,
//! resolve names, fill defaults, expand page sets.
//!
//! Validation does not stop at the first problem: it collects every one it can
//! find, each with the span of the value at fault, so a person fixes a file in
//! one pass. Rules are listed in `docs/scenario-format.md`; each has a broken
//! file under `scenarios/tests/bad/`.

mod app;
mod content;
mod export;
mod options;
mod population;
mod timeline;
mod trace;
mod traffic;

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use crate::bounds::{self, MAX_FILE_BYTES, MAX_LATENCY, MAX_RATE, MAX_RUN};
use crate::error::{Diagnostic, ScenarioError};
use crate::model::{Dist, Faults, OriginOptions, Scenario};
use crate::spec::{ActionSpec, DistSpec, ScenarioFile};
use crate::time::Micros;

/// Reads and validates a scenario file; a file longer than
/// [`MAX_FILE_BYTES`] is refused before it is read.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let shown = path.display().to_string();
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() > MAX_FILE_BYTES
    {
        return Err(too_long(&shown, meta.len()));
    }
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_str(&shown, &source)
}

/// Validates scenario text; `file` names it in diagnostics.
pub fn parse_str(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    if source.len() as u64 > MAX_FILE_BYTES {
        return Err(too_long(file, source.len() as u64));
    }
    let spec: ScenarioFile = toml::from_str(source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ScenarioError::Invalid(vec![Diagnostic::at(
            file,
            source,
            span,
            e.message().trim().to_owned(),
        )])
    })?;
    let mut cx = Cx {
        base: Path::new(file)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf),
        source: source.to_owned(),
        ..Cx::default()
    };
    let mut scenario = cx.scenario(&spec);
    scenario.source_hash = xxhash_rust::xxh3::xxh3_64(source.as_bytes());
    if cx.problems.is_empty() {
        // Every key is within its bound; their product may still not be.
        if let Some((site, why)) = bounds::estimate(&scenario, scenario.sweep.as_ref()).refusal() {
            return Err(ScenarioError::Invalid(vec![Diagnostic::at(
                file,
                source,
                site_span(&spec, site),
                why,
            )]));
        }
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

/// The value a memory refusal points at.
fn site_span(f: &ScenarioFile, site: bounds::Site) -> Range<usize> {
    let t = &f.traffic;
    match site {
        bounds::Site::Visitors => sp(&t.visitors),
        bounds::Site::Users => t
            .users
            .as_ref()
            .or(t.pool.as_ref())
            .map_or(sp(&t.visitors), sp),
        bounds::Site::Requests => t
            .arrival_rate
            .as_ref()
            .map(sp)
            .or(t.session_rate.as_ref().map(sp))
            .or(t.trace.as_ref().map(sp))
            .or(t.users.as_ref().map(sp))
            .unwrap_or(sp(&t.visitors)),
        bounds::Site::Duration => sp(&f.scenario.duration),
        bounds::Site::TimelineRule(i) => f.timeline.get(i).map_or(sp(&t.visitors), sp),
        bounds::Site::Content => sp(&f.content),
    }
}

/// A file past [`MAX_FILE_BYTES`], refused at its first line.
fn too_long(file: &str, len: u64) -> ScenarioError {
    ScenarioError::Invalid(vec![Diagnostic::at(
        file,
        "",
        0..0,
        format!(
            "the file is {len} bytes; a scenario file is at most {MAX_FILE_BYTES} bytes (16 MiB)"
        ),
    )])
}

/// Validation state: the problems found so far and the names resolved so far.
#[derive(Default)]
struct Cx {
    problems: Vec<(Range<usize>, String)>,
    duration: Micros,
    /// The scenario file's folder: files it names (a trace) are relative to it.
    base: Option<std::path::PathBuf>,
    /// `[traffic] visitors` and `[scenario] seed`, for mapping a trace.
    visitors: u32,
    seed: u64,
    /// `[content] export` is set: pages name the export's entries.
    export_named: bool,
    /// The file's text, to point inside a string value (a placeholder).
    source: String,
}

fn sp<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl Cx {
    pub(super) fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.problems.push((span, msg.into()));
    }

    /// Problems found so far.
    pub(super) fn problems_len(&self) -> usize {
        self.problems.len()
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
        let name = self.scenario_name(meta);
        let duration = meta.duration.get_ref().0;
        if duration == Micros::ZERO {
            self.err(sp(&meta.duration), "duration must be longer than 0s");
        } else if duration > MAX_RUN {
            self.err(
                sp(&meta.duration),
                format!("duration must be at most {MAX_RUN} (a day), got {duration}"),
            );
        }
        self.duration = duration;
        self.seed = meta.seed;
        self.visitors = *f.traffic.visitors.get_ref();
        let warmup = meta.warmup.as_ref().map_or(Micros::ZERO, |w| {
            let v = w.get_ref().0;
            if v >= duration {
                self.err(
                    sp(w),
                    format!("warmup ({v}) must be shorter than the run ({duration}): nothing would be measured"),
                );
            }
            v
        });

        let attributes = self.attributes(f);
        let experiences = self.experiences(f, &attributes);
        let content = self.content(f, &experiences);
        let traffic = self.traffic(f, &content);
        if let Some(t) = f.timeline.get(bounds::MAX_TIMELINE_RULES) {
            self.err(
                sp(t),
                format!(
                    "at most {} timeline rules are supported",
                    bounds::MAX_TIMELINE_RULES
                ),
            );
        }
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
                .as_ref()
                .map_or(Micros::from_millis(200), |d| {
                    self.budget(d, "personalize_timeout")
                }),
            delivery_timeout: f
                .origin
                .delivery_timeout
                .as_ref()
                .map_or(Micros::from_secs(2), |d| self.budget(d, "delivery_timeout")),
            render_time: f
                .origin
                .render_time
                .as_ref()
                .map_or(Dist::Fixed(Micros::from_millis(2)), |d| self.dist(d)),
        };
        let app = self.app(f.app.as_ref());
        let cdn = self.cdn(&f.cdn, f.app.is_some());
        let global_thresholds = self.thresholds(&f.thresholds);
        let architectures = self.architectures(f, &global_thresholds);
        self.store_outages_need_redis(&f.timeline, &architectures);
        let sweep = f.sweep.as_ref().and_then(|s| self.sweep(s));
        if let (Some(s), Some(spec)) = (&sweep, &f.sweep) {
            self.sweep_whole_seconds(s, sp(spec), &architectures);
            self.sweep_eviction_on_redis(s, sp(spec), &architectures);
        }
        Scenario {
            name: name.clone(),
            description: meta.description.clone(),
            seed: meta.seed,
            duration,
            warmup,
            traffic,
            attributes,
            experiences,
            content,
            timeline,
            faults,
            origin,
            architectures,
            sweep,
            app,
            cdn,
            source_hash: 0,
        }
    }

    /// The scenario's name: it names report folders.
    fn scenario_name<'a>(&mut self, meta: &'a crate::spec::ScenarioMeta) -> &'a String {
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
        name
    }

    /// `[cdn] engine`. Varnish stands in front of ttlab's origin only: the
    /// generated VCL tags pages by the entries ttlab's origin names in its
    /// headers, which a team's app does not send.
    fn cdn(&mut self, spec: &crate::spec::CdnSpec, app: bool) -> crate::model::CdnEngine {
        use crate::model::CdnEngine;
        use crate::spec::CdnEngineSpec;
        let Some(e) = &spec.engine else {
            return CdnEngine::Ttlab;
        };
        match e.get_ref() {
            CdnEngineSpec::Ttlab => CdnEngine::Ttlab,
            CdnEngineSpec::Varnish => {
                if app {
                    self.err(
                        sp(e),
                        "engine = \"varnish\" runs Varnish in front of ttlab's origin; with [app] the CDN or edge is ttlab's (drop [app], or use engine = \"ttlab\")",
                    );
                }
                CdnEngine::Varnish
            }
        }
    }

    /// An origin's time budget, at most [`MAX_LATENCY`].
    fn budget(&mut self, d: &Spanned<crate::spec::HumanDuration>, what: &str) -> Micros {
        let v = d.get_ref().0;
        if v > MAX_LATENCY {
            self.err(
                sp(d),
                format!(
                    "{what} must be at most {MAX_LATENCY} (latency histograms stop there), got {v}"
                ),
            );
        }
        v
    }

    /// A distribution of durations, each at most [`MAX_LATENCY`].
    pub(super) fn dist(&mut self, d: &Spanned<DistSpec>) -> Dist {
        let dist = self.dist_shape(d);
        let top = bounds::dist_top(&dist);
        if top > MAX_LATENCY {
            self.err(
                sp(d),
                format!("a latency, render or think time is at most {MAX_LATENCY} (latency histograms stop there), got {top}"),
            );
        }
        dist
    }

    fn dist_shape(&mut self, d: &Spanned<DistSpec>) -> Dist {
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

fn action_name(a: ActionSpec) -> &'static str {
    match a {
        ActionSpec::AttributeChange => "attribute_change",
        ActionSpec::Activate => "activate",
        ActionSpec::Deactivate => "deactivate",
        ActionSpec::SetSplits => "set_splits",
        ActionSpec::Publish => "publish",
        ActionSpec::StoreOutage => "store_outage",
    }
}

/// The problem of a rate past [`MAX_RATE`].
fn over_rate(what: &str, v: f64) -> String {
    let got = if v < 1e15 {
        fmt_num(v)
    } else {
        format!("{v:e}")
    };
    format!(
        "{what} must be at most {} per second (the simulator's clock counts whole microseconds: one event per microsecond), got {got}",
        fmt_num(MAX_RATE)
    )
}

/// A number without a needless ".0": 90, 99.5.
fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
