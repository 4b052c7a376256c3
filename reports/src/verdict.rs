//! The verdict: which architecture (and which swept value) to ship.
//!
//! A reader opens a report to choose. The verdict names the candidate — an
//! architecture, or an architecture at one sweep point — with the lowest
//! origin load among those that hold every threshold and serve no wrong
//! variant and no other visitor's page (whatever the thresholds say: a
//! scenario may expect them of an architecture it shows to be unsafe), and
//! says for each
//! other candidate the first threshold it breaks and by how much. When none
//! holds, it says so and names the nearest (fewest thresholds broken, then
//! the smallest excess). Origin load is a share of the visitor requests:
//! pages rendered per request where ttlab counted renders, else requests
//! reaching the origin per request. Candidates whose load intervals (95%,
//! Wilson) overlap the winner's are not distinguishable at the run's sample
//! size, and the verdict names them beside it rather than pretending the
//! point estimate decides.

use crate::model::{ArchReport, Report, ThresholdCheck, fmt_value};

/// The two-sided 95% normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// The 95% Wilson score interval of a share: `k` of `n`. Unlike the normal
/// approximation it stays inside [0, 1] and is not empty at 0 or `n`
/// successes, which is where cache shares live (no wrong variants, nearly
/// all hits). `(0, 1)` when `n` is 0: nothing is known.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let k = k.min(n);
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    // At 0 and at `n` successes the ends are exactly 0 and 1 (the formula
    // reaches them up to rounding).
    let low = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (low, high)
}

/// A share with its 95% Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Share {
    /// Successes.
    pub k: u64,
    /// Trials.
    pub n: u64,
    /// `k / n` (0 when `n` is 0).
    pub p: f64,
    /// The interval's ends.
    pub low: f64,
    /// See `low`.
    pub high: f64,
}

impl Share {
    /// `k` of `n`, with its interval.
    pub fn of(k: u64, n: u64) -> Self {
        let (low, high) = wilson(k, n);
        Share {
            k,
            n,
            p: if n == 0 {
                0.0
            } else {
                k.min(n) as f64 / n as f64
            },
            low,
            high,
        }
    }

    /// The share of responses of class `class` in `arch`.
    pub fn of_class(arch: &ArchReport, class: &str) -> Self {
        Share::of(arch.class(class), arch.requests)
    }

    /// `6.5% (6.0–7.0%)`: the share, then its 95% interval, for tables.
    pub fn shown(&self) -> String {
        format!(
            "{:.1}% ({:.1}–{:.1}%)",
            self.p * 100.0,
            self.low * 100.0,
            self.high * 100.0
        )
    }

    /// Whether the two intervals overlap: the run cannot tell the shares apart.
    pub fn overlaps(&self, other: &Share) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

/// What a candidate's origin load counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKind {
    /// Pages the origin rendered, per visitor request.
    Renders,
    /// Requests that reached the origin, per visitor request (the team's
    /// own app, whose renders ttlab does not see).
    OriginRequests,
}

/// One candidate, and how it fares.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The architecture.
    pub arch: String,
    /// The sweep point's value, in a sweep.
    pub value: Option<String>,
    /// Its origin load, when ttlab could count it (not for an external
    /// target).
    pub load: Option<(LoadKind, Share)>,
    /// The thresholds it breaks, in the scenario's order.
    pub broken: Vec<Breach>,
}

impl Candidate {
    /// `arch` or `arch at option = value`.
    pub fn label(&self, option: Option<&str>) -> String {
        match (&self.value, option) {
            (Some(v), Some(o)) => format!("{} at {o} = {v}", self.arch),
            (Some(v), None) => format!("{} at {v}", self.arch),
            _ => self.arch.clone(),
        }
    }
}

/// A threshold a candidate breaks, and by how much.
#[derive(Clone, Debug, PartialEq)]
pub struct Breach {
    /// The threshold as written (`stale_variant_rate <= 1.000%`).
    pub threshold: String,
    /// The measured value, with its unit.
    pub value: String,
    /// How far past the bound, with its unit (percentage points for rates).
    pub by: String,
    /// The breach in words, as the verdict says it.
    pub said: String,
    /// The excess relative to the bound (to name the nearest candidate).
    relative: f64,
}

impl Breach {
    fn of(t: &ThresholdCheck) -> Self {
        let over = (t.value - t.bound).abs();
        let by = match t.unit.as_str() {
            "rate" => format!("{:.3} points", over * 100.0),
            unit => fmt_value(over, unit),
        };
        Breach {
            said: format!("breaks {}: {} ({by} over)", t.describe(), t.shown_value()),
            threshold: t.describe(),
            value: t.shown_value(),
            by,
            relative: over / t.bound.abs().max(f64::EPSILON),
        }
    }
}

/// The verdict over a report's candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The swept option, in a sweep.
    pub option: Option<String>,
    /// The candidate to ship: the lowest origin load among those holding
    /// every threshold; `None` when none holds.
    pub best: Option<Candidate>,
    /// Candidates holding every threshold whose origin load the run cannot
    /// tell from the best's (overlapping 95% intervals).
    pub indistinguishable: Vec<Candidate>,
    /// When none holds: the nearest (fewest thresholds broken, then the
    /// smallest relative excess).
    pub nearest: Option<Candidate>,
    /// Every other candidate: those that hold, lowest load first, then
    /// those that break a threshold, fewest broken first.
    pub others: Vec<Candidate>,
}

/// What rules a candidate out whatever its thresholds say: serving a
/// visitor variants that were never theirs, or another visitor's page. No
/// origin load is worth either, and a scenario may well carry a threshold
/// that *expects* them (`wrong_variant >= 1` on an architecture shown to
/// be unsafe), which must not make it the one to ship.
fn unshippable(a: &ArchReport) -> Vec<Breach> {
    [
        (
            "wrong_variant",
            "no wrong variants",
            "serves wrong variants",
        ),
        (
            "leak",
            "no page of another visitor",
            "serves other visitors' pages",
        ),
    ]
    .into_iter()
    .filter_map(|(class, rule, does)| {
        let n = a.class(class);
        (n > 0).then(|| Breach {
            said: format!(
                "{does}: {n} of its responses ({:.1}%)",
                a.rate(class) * 100.0
            ),
            threshold: rule.to_owned(),
            value: format!("{n} {class} ({:.1}%)", a.rate(class) * 100.0),
            by: format!("{n} responses"),
            relative: f64::INFINITY,
        })
    })
    .collect()
}

/// The candidates of `report`: each architecture, or in a sweep each
/// architecture at each point.
pub fn candidates(report: &Report) -> Vec<Candidate> {
    let of = |a: &ArchReport, value: Option<&str>| Candidate {
        arch: a.name.clone(),
        value: value.map(str::to_owned),
        load: if a.renders_seen() {
            Some((LoadKind::Renders, Share::of(a.origin.renders, a.requests)))
        } else if a.origin_seen() {
            Some((
                LoadKind::OriginRequests,
                Share::of(a.origin.requests, a.requests),
            ))
        } else {
            None
        },
        broken: unshippable(a)
            .into_iter()
            .chain(a.thresholds.iter().filter(|t| !t.holds).map(Breach::of))
            .collect(),
    };
    match &report.sweep {
        Some(sweep) => sweep
            .points
            .iter()
            .flat_map(|p| {
                p.architectures
                    .iter()
                    .map(move |a| of(a, Some(p.value.as_str())))
            })
            .collect(),
        None => report.architectures.iter().map(|a| of(a, None)).collect(),
    }
}

/// The verdict over `report`'s candidates.
pub fn verdict(report: &Report) -> Verdict {
    decide(
        candidates(report),
        report.sweep.as_ref().map(|s| s.option.clone()),
    )
}

/// The verdict over `all`: see the module's docs. Ties in load go to the
/// earlier candidate (the report's order).
pub fn decide(all: Vec<Candidate>, option: Option<String>) -> Verdict {
    // Ranked by load: known loads first, lowest point estimate first.
    let rank = |c: &Candidate| c.load.map_or(f64::INFINITY, |(_, s)| s.p);
    let best_at = all
        .iter()
        .enumerate()
        .filter(|(_, c)| c.broken.is_empty())
        .min_by(|(i, a), (j, b)| rank(a).total_cmp(&rank(b)).then(i.cmp(j)))
        .map(|(i, _)| i);
    let nearest_at = match best_at {
        Some(_) => None,
        None => all
            .iter()
            .enumerate()
            .min_by(|(i, a), (j, b)| {
                let worst = |c: &Candidate| c.broken.iter().map(|x| x.relative).fold(0.0, f64::max);
                a.broken
                    .len()
                    .cmp(&b.broken.len())
                    .then(worst(a).total_cmp(&worst(b)))
                    .then(i.cmp(j))
            })
            .map(|(i, _)| i),
    };
    let best_load = best_at.and_then(|i| all[i].load);
    let mut verdict = Verdict {
        option,
        best: None,
        indistinguishable: Vec::new(),
        nearest: None,
        others: Vec::new(),
    };
    for (i, c) in all.into_iter().enumerate() {
        if Some(i) == best_at {
            verdict.best = Some(c);
        } else if Some(i) == nearest_at {
            verdict.nearest = Some(c);
        } else if c.broken.is_empty()
            && matches!((best_load, c.load), (Some((k, b)), Some((kc, s))) if k == kc && b.overlaps(&s))
        {
            verdict.indistinguishable.push(c);
        } else {
            verdict.others.push(c);
        }
    }
    // The closest alternatives first: those that hold, by load, then those
    // that break a threshold, fewest broken first (stable: report order on
    // ties).
    verdict.others.sort_by(|a, b| {
        (!a.broken.is_empty())
            .cmp(&!b.broken.is_empty())
            .then(a.broken.len().cmp(&b.broken.len()))
            .then(rank(a).total_cmp(&rank(b)))
    });
    verdict
}

impl Verdict {
    /// The verdict in sentences, for people: the first line says what to
    /// ship (or that nothing holds), the rest one line per other candidate.
    pub fn lines(&self) -> Vec<String> {
        let option = self.option.as_deref();
        let load = |c: &Candidate| match c.load {
            Some((kind, s)) => format!(
                "{:.1}% of requests {} (95% interval {:.1}–{:.1}%)",
                s.p * 100.0,
                match kind {
                    LoadKind::Renders => "rendered at the origin",
                    LoadKind::OriginRequests => "reached the origin",
                },
                s.low * 100.0,
                s.high * 100.0
            ),
            None => "origin load not measured (external target)".to_owned(),
        };
        let breaks = |c: &Candidate| match c.broken.first() {
            Some(b) => {
                let more = match c.broken.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                };
                format!("{}{more}", b.said)
            }
            None => format!("holds every threshold, {}", load(c)),
        };
        let mut out = Vec::new();
        match (&self.best, &self.nearest) {
            (Some(best), _) => {
                out.push(format!(
                    "Ship {}: it holds every threshold with the lowest origin load, {}.",
                    best.label(option),
                    load(best)
                ));
                if !self.indistinguishable.is_empty() {
                    let names: Vec<String> = self
                        .indistinguishable
                        .iter()
                        .map(|c| c.label(option))
                        .collect();
                    out.push(format!(
                        "Not distinguishable from it at this sample size: {} (their 95% intervals overlap); a longer run would tell them apart.",
                        names.join(", ")
                    ));
                }
            }
            (None, Some(nearest)) => out.push(format!(
                "No candidate holds every threshold. The nearest is {}: it {}.",
                nearest.label(option),
                breaks(nearest)
            )),
            (None, None) => out.push("Nothing to judge: the report has no candidates.".to_owned()),
        }
        for c in &self.others {
            out.push(format!("{}: {}.", c.label(option), breaks(c)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(
        arch: &str,
        renders: u64,
        requests: u64,
        broken: &[(&str, f64, f64)],
    ) -> Candidate {
        Candidate {
            arch: arch.to_owned(),
            value: None,
            load: Some((LoadKind::Renders, Share::of(renders, requests))),
            broken: broken
                .iter()
                .map(|(m, bound, value)| {
                    Breach::of(&ThresholdCheck {
                        measure: (*m).to_owned(),
                        cmp: "<=".to_owned(),
                        bound: *bound,
                        value: *value,
                        unit: "rate".to_owned(),
                        holds: false,
                    })
                })
                .collect(),
        }
    }

    proptest::proptest! {
        /// The interval lies in [0, 1], holds the point estimate, and
        /// narrows as the sample grows a hundredfold at the same share.
        #[test]
        fn a_wilson_interval_holds_its_share_and_narrows_with_the_sample(
            k in 0u64..1_000, extra in 0u64..1_000,
        ) {
            let n = k + extra + 1;
            let (lo, hi) = wilson(k, n);
            let p = k as f64 / n as f64;
            proptest::prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            proptest::prop_assert!(lo <= p && p <= hi, "{lo} {p} {hi}");
            let (lo100, hi100) = wilson(k * 100, n * 100);
            proptest::prop_assert!(hi100 - lo100 < hi - lo);
        }
    }

    #[test]
    fn wilson_matches_the_textbook_values() {
        // 10 of 100: (0.0552, 0.1744) to four places; 0 of 10: (0, 0.2775).
        let (lo, hi) = wilson(10, 100);
        assert!(
            (lo - 0.0552).abs() < 1e-4 && (hi - 0.1744).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 10);
        assert!(lo.abs() < 1e-12 && (hi - 0.2775).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = wilson(10, 10);
        assert!(
            (lo - 0.7225).abs() < 1e-4 && (hi - 1.0).abs() < 1e-12,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 0);
        assert!(
            lo.abs() < 1e-12 && (hi - 1.0).abs() < 1e-12,
            "nothing known: {lo} {hi}"
        );
    }

    #[test]
    fn the_lowest_load_that_holds_wins_and_the_others_say_what_they_break() {
        let v = decide(
            vec![
                candidate("a", 500, 10_000, &[]),
                candidate("b", 100, 10_000, &[("stale_variant_rate", 0.01, 0.023)]),
                candidate("c", 200, 10_000, &[]),
            ],
            None,
        );
        assert_eq!(v.best.as_ref().map(|c| c.arch.as_str()), Some("c"));
        assert!(v.indistinguishable.is_empty());
        let lines = v.lines();
        assert!(lines[0].starts_with("Ship c: "), "{lines:?}");
        assert!(
            lines.iter().any(|l| l
                .contains("b: breaks stale_variant_rate <= 1.000%: 2.300% (1.300 points over)")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("a: holds every threshold")),
            "{lines:?}"
        );
    }

    #[test]
    fn two_candidates_whose_intervals_overlap_are_not_distinguishable() {
        // 4.0% and 4.4% of 1,000 requests: intervals about 2.9–5.4% and
        // 3.3–5.9% overlap. The same shares of 1,000,000 requests do not.
        let v = decide(
            vec![
                candidate("a", 44, 1_000, &[]),
                candidate("b", 40, 1_000, &[]),
            ],
            None,
        );
        assert_eq!(v.best.as_ref().map(|c| c.arch.as_str()), Some("b"));
        assert_eq!(v.indistinguishable.len(), 1);
        assert!(v.lines()[1].starts_with("Not distinguishable from it at this sample size: a"));
        let v = decide(
            vec![
                candidate("a", 44_000, 1_000_000, &[]),
                candidate("b", 40_000, 1_000_000, &[]),
            ],
            None,
        );
        assert!(v.indistinguishable.is_empty());
        assert_eq!(v.others.len(), 1);
    }

    #[test]
    fn when_none_holds_the_nearest_is_named() {
        let v = decide(
            vec![
                candidate(
                    "a",
                    1,
                    100,
                    &[
                        ("stale_variant_rate", 0.01, 0.02),
                        ("wrong_variant_rate", 0.0, 0.01),
                    ],
                ),
                candidate("b", 50, 100, &[("stale_variant_rate", 0.01, 0.05)]),
                candidate("c", 50, 100, &[("stale_variant_rate", 0.01, 0.011)]),
            ],
            Some("ttl".to_owned()),
        );
        assert!(v.best.is_none());
        assert_eq!(v.nearest.as_ref().map(|c| c.arch.as_str()), Some("c"));
        let lines = v.lines();
        assert!(
            lines[0].starts_with("No candidate holds every threshold. The nearest is c"),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("a: breaks") && l.contains("and 1 more")),
            "{lines:?}"
        );
    }
}
