//! `[traffic]`: the population, the one load model, its rate curve, and
//! the keys that belong to each model.

use std::ops::Range;

use toml::Spanned;

use crate::arrivals::{RateCurve, Shape};
use crate::bounds::{
    self, MAX_PAGES_PER_SESSION, MAX_RATE, MAX_RUN, MAX_USERS, MAX_VISITORS, MAX_ZIPF_S,
    MIN_THINK_TIME,
};
use crate::model::{Content, Dist, Load, Popularity, Traffic};
use crate::spec::{PopularitySpec, RateSpec, RateTable, ScenarioFile, TrafficSpec};
use crate::time::Micros;

use super::{Cx, over_rate, sp};

/// The four load models' keys, in the order they are named in messages.
const MODELS: &str = "`users` (closed loop), `session_rate` (open sessions), `arrival_rate` (open single requests) or `trace` (replay)";

impl Cx {
    pub(super) fn traffic(&mut self, f: &ScenarioFile, content: &Content) -> Traffic {
        let t = &f.traffic;
        if *t.visitors.get_ref() == 0 {
            self.err(sp(&t.visitors), "visitors must be at least 1");
        } else if *t.visitors.get_ref() > MAX_VISITORS {
            self.err(
                sp(&t.visitors),
                format!(
                    "visitors must be at most {MAX_VISITORS}, got {}",
                    t.visitors.get_ref()
                ),
            );
        }
        let load = self.load(t, content);
        let sessions = matches!(load, Some(Load::Closed { .. } | Load::Sessions { .. }));
        // Keys of one model given with another: an error, not a silent no-op.
        if !sessions {
            for (key, span) in [
                ("think_time", t.think_time.as_ref().map(sp)),
                ("pages_per_session", t.pages_per_session.as_ref().map(sp)),
            ] {
                if let (Some(span), Some(_)) = (span, &load) {
                    self.err(
                        span,
                        format!("{key} applies only to sessions (`users` or `session_rate`); `arrival_rate` sends single requests and `trace` replays the file's"),
                    );
                }
            }
        }
        let open = matches!(
            load,
            Some(Load::Sessions { .. } | Load::Requests { .. } | Load::Trace(_))
        );
        if let (Some(p), false, Some(_)) = (&t.pool, open, &load) {
            self.err(
                sp(p),
                "pool applies only to open models (`session_rate`, `arrival_rate`, `trace`): a closed loop's users are `users`",
            );
        }
        if t.trace.is_none() {
            for (key, span) in [
                ("trace_format", t.trace_format.as_ref().map(sp)),
                ("trace_columns", t.trace_columns.as_ref().map(sp)),
                ("speed", t.speed.as_ref().map(sp)),
            ] {
                if let Some(span) = span {
                    self.err(span, format!("{key} applies only with `trace`"));
                }
            }
        }
        let pool = t.pool.as_ref().map(|p| {
            let v = *p.get_ref();
            if v == 0 || v > MAX_USERS {
                self.err(
                    sp(p),
                    format!("pool must be 1 to {MAX_USERS} goose users, got {v}"),
                );
            }
            v
        });
        let pages_per_session = t.pages_per_session.as_ref().map_or(1, |p| {
            if *p.get_ref() == 0 {
                self.err(sp(p), "pages_per_session must be at least 1");
            } else if *p.get_ref() > MAX_PAGES_PER_SESSION {
                self.err(
                    sp(p),
                    format!(
                        "pages_per_session must be at most {MAX_PAGES_PER_SESSION}, got {}",
                        p.get_ref()
                    ),
                );
            }
            *p.get_ref()
        });
        let popularity = self.popularity(t);
        let think_time = self.think_time(t);
        Traffic {
            visitors: *t.visitors.get_ref(),
            load: load.unwrap_or(Load::Closed { users: 1 }),
            think_time,
            pages_per_session,
            popularity,
            pool,
        }
    }

    /// The one load model the file sets, or `None` after reporting that
    /// it sets none or several.
    fn load(&mut self, t: &TrafficSpec, content: &Content) -> Option<Load> {
        let given: Vec<(&str, Range<usize>)> = [
            ("users", t.users.as_ref().map(sp)),
            ("session_rate", t.session_rate.as_ref().map(sp)),
            ("arrival_rate", t.arrival_rate.as_ref().map(sp)),
            ("trace", t.trace.as_ref().map(sp)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        match given.as_slice() {
            [] => {
                self.err(
                    sp(&t.visitors),
                    format!("[traffic] needs one load model: {MODELS}"),
                );
                return None;
            }
            [_] => {}
            [(first, _), rest @ ..] => {
                for (key, span) in rest {
                    self.err(
                        span.clone(),
                        format!(
                            "`{key}` and `{first}` are two load models; a scenario has exactly one ({MODELS}) so that simulated and real runs send the same traffic"
                        ),
                    );
                }
                return None;
            }
        }
        if let Some(u) = &t.users {
            let v = *u.get_ref();
            if v == 0 {
                self.err(sp(u), "users must be at least 1");
            } else if v > MAX_USERS {
                self.err(sp(u), format!("users must be at most {MAX_USERS}, got {v}"));
            }
            return Some(Load::Closed { users: v });
        }
        if let Some(r) = &t.session_rate {
            return Some(Load::Sessions {
                rate: self.rate_curve(r, "session_rate"),
            });
        }
        if let Some(r) = &t.arrival_rate {
            return Some(Load::Requests {
                rate: self.rate_curve(r, "arrival_rate"),
            });
        }
        let file = t.trace.as_ref()?;
        self.replay(t, file, content).map(Load::Trace)
    }

    fn popularity(&mut self, t: &TrafficSpec) -> Popularity {
        if t.trace.is_some() {
            // A replay's pages come from the file: a popularity would be
            // silently ignored.
            for (key, span) in [
                ("popularity", t.popularity.as_ref().map(sp)),
                ("zipf_s", t.zipf_s.as_ref().map(sp)),
            ] {
                if let Some(span) = span {
                    self.err(
                        span,
                        format!("{key} does not apply with `trace`: a replay's requests name their pages"),
                    );
                }
            }
            return Popularity::Uniform;
        }
        let kind = t
            .popularity
            .as_ref()
            .map_or(PopularitySpec::Uniform, |p| *p.get_ref());
        match (kind, &t.zipf_s) {
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
                    } else if v > MAX_ZIPF_S {
                        self.err(
                            sp(s),
                            format!("zipf_s must be at most {MAX_ZIPF_S} (past it every request is for the first page), got {v}"),
                        );
                    }
                }
                Popularity::Zipf { s: v }
            }
        }
    }

    /// The think time: a closed loop's averages at least [`MIN_THINK_TIME`],
    /// which is also its default; open sessions default to none.
    fn think_time(&mut self, t: &TrafficSpec) -> Dist {
        let closed = t.users.is_some();
        let Some(d) = &t.think_time else {
            // No pause given: the floor, so that a closed loop always moves on.
            return Dist::Fixed(if closed { MIN_THINK_TIME } else { Micros::ZERO });
        };
        let before = self.problems.len();
        let dist = self.dist(d);
        if closed && self.problems.len() == before && bounds::think_too_short(&dist) {
            self.err(
                sp(d),
                format!(
                    "think_time of a closed loop must average at least {MIN_THINK_TIME}, got {}: with no pause a user whose pages come from the cache in no simulated time asks again at the same instant, without end",
                    dist.mean()
                ),
            );
        }
        dist
    }

    /// A rate curve: every rate in `[0, MAX_RATE]`, some rate above zero,
    /// instants in order and within the longest run.
    fn rate_curve(&mut self, r: &Spanned<RateSpec>, key: &str) -> RateCurve {
        let span = sp(r);
        let curve = match r.get_ref() {
            RateSpec::Constant(v) => RateCurve::constant(*v),
            RateSpec::Table(table) => match self.rate_table(table, key, &span) {
                Some(c) => c,
                None => return RateCurve::constant(1.0),
            },
        };
        for &(at, v) in &curve.points {
            if !(v.is_finite() && v >= 0.0) {
                self.err(
                    span.clone(),
                    format!(
                        "{key}: a rate must be a number of events per second, 0 or more, got {v}"
                    ),
                );
                return RateCurve::constant(1.0);
            }
            if v > MAX_RATE {
                self.err(span.clone(), over_rate(key, v));
                return RateCurve::constant(1.0);
            }
            if at > MAX_RUN {
                self.err(
                    span.clone(),
                    format!("{key}: an instant of the curve is past {MAX_RUN}, the longest run"),
                );
                return RateCurve::constant(1.0);
            }
        }
        if curve.points.windows(2).any(|w| w[0].0 >= w[1].0) {
            self.err(
                span.clone(),
                format!("{key}: the curve's instants must increase"),
            );
        }
        if curve.peak() <= 0.0 {
            self.err(
                span,
                format!("{key} is 0 everywhere: nobody would arrive; give a rate above 0"),
            );
        }
        curve
    }

    fn rate_table(&mut self, t: &RateTable, key: &str, span: &Range<usize>) -> Option<RateCurve> {
        let shapes = [
            ("{ every, rates }", t.every.is_some() || t.rates.is_some()),
            ("{ steps }", t.steps.is_some()),
            ("{ from, to, over }", t.to.is_some() || t.over.is_some()),
            ("{ from, stages }", t.stages.is_some()),
            ("{ daily, day }", t.daily.is_some() || t.day.is_some()),
        ];
        let chosen: Vec<&str> = shapes.iter().filter(|s| s.1).map(|s| s.0).collect();
        if chosen.len() != 1 {
            self.err(
                span.clone(),
                format!(
                    "{key} as a table takes exactly one shape: {{ every, rates }}, {{ steps }}, {{ from, to, over }}, {{ from, stages }} or {{ daily, day }}{}",
                    if chosen.is_empty() {
                        String::new()
                    } else {
                        format!("; this one mixes {}", chosen.join(" and "))
                    }
                ),
            );
            return None;
        }
        let mut missing = |what: &str| {
            self.err(span.clone(), format!("{key}: {what}"));
            None
        };
        match chosen[0] {
            "{ every, rates }" => {
                let (Some(every), Some(rates)) = (t.every, &t.rates) else {
                    return missing("{ every, rates } needs both: a step's length and its rates");
                };
                if every.0 == Micros::ZERO || rates.is_empty() {
                    return missing("`every` must be longer than 0s and `rates` not empty");
                }
                Some(RateCurve {
                    points: rates
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (Micros(every.0.0.saturating_mul(i as u64)), *r))
                        .collect(),
                    shape: Shape::Step,
                    period: None,
                })
            }
            "{ steps }" => {
                let steps = t.steps.as_ref()?;
                if steps.first().is_none_or(|s| s.at.0 != Micros::ZERO) {
                    return missing("the first of `steps` must be `at = \"0s\"`");
                }
                Some(RateCurve {
                    points: steps.iter().map(|s| (s.at.0, s.rate)).collect(),
                    shape: Shape::Step,
                    period: None,
                })
            }
            "{ from, to, over }" => {
                let (Some(from), Some(to), Some(over)) = (t.from, t.to, t.over) else {
                    return missing("a ramp needs `from`, `to` and `over`");
                };
                if over.0 == Micros::ZERO {
                    return missing("a ramp's `over` must be longer than 0s");
                }
                Some(RateCurve {
                    points: vec![(Micros::ZERO, from), (over.0, to)],
                    shape: Shape::Linear,
                    period: None,
                })
            }
            "{ from, stages }" => {
                let stages = t.stages.as_ref()?;
                let mut at = Micros::ZERO;
                let mut points = vec![(at, t.from.unwrap_or(0.0))];
                for s in stages {
                    if s.over.0 == Micros::ZERO {
                        return missing("each stage's `over` must be longer than 0s");
                    }
                    at = at.saturating_add(s.over.0);
                    points.push((at, s.to));
                }
                Some(RateCurve {
                    points,
                    shape: Shape::Linear,
                    period: None,
                })
            }
            _ => self.daily_curve(t, key, span),
        }
    }

    /// `{ daily, day }`: 24 hourly rates, linear between hours, repeating.
    fn daily_curve(&mut self, t: &RateTable, key: &str, span: &Range<usize>) -> Option<RateCurve> {
        let mut missing = |what: &str| {
            self.err(span.clone(), format!("{key}: {what}"));
            None
        };
        let Some(daily) = &t.daily else {
            return missing("a daily profile needs `daily`, its 24 hourly rates");
        };
        if daily.len() != 24 {
            return missing(&format!(
                "`daily` holds 24 hourly rates, got {}",
                daily.len()
            ));
        }
        let day = t.day.map_or(Micros::from_secs(86_400), |d| d.0);
        if day.0 < 24 {
            return missing("`day` must be at least 24µs");
        }
        let mut points: Vec<(Micros, f64)> = daily
            .iter()
            .enumerate()
            .map(|(h, r)| (Micros(day.0 * h as u64 / 24), *r))
            .collect();
        // Back to midnight's rate at the end of the day.
        points.push((day, daily[0]));
        Some(RateCurve {
            points,
            shape: Shape::Linear,
            period: Some(day),
        })
    }
}
