//! TTL advice from a sweep: the cheapest option value whose stale rates stay
//! within budget, and the origin load it buys.
//!
//! For each architecture, the sweep's points are read in the order given
//! (for `ttl`, shortest first); the advice is the point with the lowest
//! origin load — pages rendered, then requests reaching the origin (a cache
//! inside the origin saves renders, not requests) — among those whose stale-variant and stale-content rates (and
//! wrong-variant, which no cache setting should trade for load) are within
//! the budget. The budget comes from the scenario's thresholds
//! (`stale_variant_rate`, `stale_content_rate`) when it has them, else from
//! the caller (`ttlab advise --max-stale-rate`).

use crate::model::{ArchReport, Report};

/// How much staleness a recommendation may cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Most stale-variant responses, as a share.
    pub stale_variant_rate: f64,
    /// Most stale-content responses, as a share.
    pub stale_content_rate: f64,
}

/// The advice for one architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct Advice {
    /// Architecture.
    pub arch: String,
    /// The recommended value (`None`: no value keeps within budget).
    pub value: Option<String>,
    /// Pages rendered at the recommended value and at the sweep's first value.
    pub renders: Option<(u64, u64)>,
    /// Requests that reached the origin at the recommended value.
    pub origin_requests: Option<u64>,
    /// Offload at the recommended value.
    pub offload: Option<f64>,
    /// Stale-variant and stale-content rates at the recommended value.
    pub stale: Option<(f64, f64)>,
}

impl Budget {
    /// The budget an architecture's thresholds set, if they bound both stale
    /// rates with an upper bound; `fallback` fills what they do not.
    pub fn from_thresholds(arch: &ArchReport, fallback: f64) -> Budget {
        let bound = |m: &str| {
            arch.thresholds
                .iter()
                .find(|t| t.measure == m && t.cmp.starts_with('<'))
                .map_or(fallback, |t| t.bound)
        };
        Budget {
            stale_variant_rate: bound("stale_variant_rate"),
            stale_content_rate: bound("stale_content_rate"),
        }
    }

    fn admits(&self, a: &ArchReport) -> bool {
        a.rate("stale_variant") <= self.stale_variant_rate
            && a.rate("stale_content") <= self.stale_content_rate
            && a.class("wrong_variant") == 0
            && a.class("leak") == 0
    }
}

/// Advice per architecture of a sweep report; `None` when the report has no
/// sweep. `budget_of` gives each architecture's budget.
pub fn advise(report: &Report, budget_of: impl Fn(&ArchReport) -> Budget) -> Option<Vec<Advice>> {
    let sweep = report.sweep.as_ref()?;
    let names: Vec<&str> = sweep
        .points
        .first()?
        .architectures
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    Some(
        names
            .iter()
            .map(|name| {
                let at = |i: usize| {
                    sweep.points[i]
                        .architectures
                        .iter()
                        .find(|a| a.name == *name)
                };
                let first = at(0);
                let best = (0..sweep.points.len())
                    .filter_map(|i| at(i).map(|a| (i, a)))
                    .filter(|(_, a)| budget_of(a).admits(a))
                    // Lowest origin load; on a tie the later (longer) value.
                    .min_by_key(|(i, a)| {
                        (a.origin.renders, a.origin.requests, std::cmp::Reverse(*i))
                    });
                match best {
                    Some((i, a)) => Advice {
                        arch: (*name).to_owned(),
                        value: Some(sweep.points[i].value.clone()),
                        renders: first.map(|f| (a.origin.renders, f.origin.renders)),
                        origin_requests: Some(a.origin.requests),
                        offload: Some(a.offload),
                        stale: Some((a.rate("stale_variant"), a.rate("stale_content"))),
                    },
                    None => Advice {
                        arch: (*name).to_owned(),
                        value: None,
                        renders: None,
                        origin_requests: None,
                        offload: None,
                        stale: None,
                    },
                }
            })
            .collect(),
    )
}

/// One line per architecture, for people.
pub fn describe(option: &str, advice: &[Advice]) -> Vec<String> {
    advice
        .iter()
        .map(|a| match (&a.value, a.renders, a.origin_requests, a.stale, a.offload) {
            (Some(v), Some((at, first)), Some(requests), Some((sv, sc)), Some(off)) => {
                let saved = if first == 0 {
                    0.0
                } else {
                    100.0 * (1.0 - at as f64 / first as f64)
                };
                format!(
                    "{}: {option} = {v} — {at} renders ({saved:.0}% fewer than at the first value), {requests} origin requests, offload {:.1}%, stale_variant {:.2}%, stale_content {:.2}%",
                    a.arch,
                    off * 100.0,
                    sv * 100.0,
                    sc * 100.0
                )
            }
            _ => format!(
                "{}: no value of {option} keeps the stale rates within budget (or it serves wrong variants)",
                a.arch
            ),
        })
        .collect()
}
