//! The CI gate: a scenario's thresholds evaluated against a report.
//!
//! Each architecture (and each sweep point's) [`ArchReport`] gets one
//! [`ThresholdCheck`] per threshold its configuration carries (the global
//! `[thresholds]` with the architecture's own overrides, resolved by the
//! scenario crate), so every renderer and `ttlab check` read the verdicts
//! from the report alone.

use thiserror::Error;
use ttlab_scenarios::model::{ArchitectureConfig, Cmp, Measure, Threshold, Unit};

use crate::model::{ArchReport, Report, ThresholdCheck};

/// The value of `measure` in `arch`, in the unit the check shows (counts,
/// rates 0..1, milliseconds).
pub fn value_of(arch: &ArchReport, measure: Measure) -> f64 {
    let l = &arch.latency.all;
    match measure {
        Measure::WrongVariant => arch.class("wrong_variant") as f64,
        Measure::WrongVariantRate => arch.rate("wrong_variant"),
        Measure::Leak => arch.class("leak") as f64,
        Measure::LeakRate => arch.rate("leak"),
        Measure::StaleVariant => arch.class("stale_variant") as f64,
        Measure::StaleVariantRate => arch.rate("stale_variant"),
        Measure::StaleContent => arch.class("stale_content") as f64,
        Measure::StaleContentRate => arch.rate("stale_content"),
        Measure::Error => arch.class("error") as f64,
        Measure::ErrorRate => arch.rate("error"),
        Measure::Fallback => arch.class("fallback") as f64,
        Measure::FallbackRate => arch.rate("fallback"),
        Measure::Offload => arch.offload,
        Measure::HitRate => arch.layer.as_ref().map_or(0.0, |x| x.hit_rate),
        Measure::P50 => l.p50_ms,
        Measure::P90 => l.p90_ms,
        Measure::P99 => l.p99_ms,
        Measure::P999 => l.p999_ms,
        Measure::MaxLatency => l.max_ms,
        Measure::StalenessP99 => arch.staleness.p99_ms,
    }
}

/// Evaluates `thresholds` against `arch`.
pub fn evaluate(arch: &ArchReport, thresholds: &[Threshold]) -> Vec<ThresholdCheck> {
    thresholds
        .iter()
        .map(|t| {
            let (unit, bound) = match t.measure.unit() {
                Unit::Count => ("count", t.value),
                Unit::Rate => ("rate", t.value),
                // Thresholds hold durations in seconds; reports show ms.
                Unit::Duration => ("ms", t.value * 1000.0),
            };
            let value = value_of(arch, t.measure);
            ThresholdCheck {
                measure: t.measure.as_str().to_owned(),
                cmp: t.cmp.as_str().to_owned(),
                bound,
                value,
                unit: unit.to_owned(),
                holds: t.cmp.holds(value, bound),
            }
        })
        .collect()
}

/// A threshold check in a report that names a measure or comparison this
/// version of ttlab does not know, so it cannot be evaluated again.
#[derive(Debug, Error)]
#[error("threshold \"{measure} {cmp}\" names a measure or comparison this ttlab does not know")]
pub struct UnknownCheck {
    /// The check's measure, as the report has it.
    pub measure: String,
    /// The check's comparison, as the report has it.
    pub cmp: String,
}

/// Evaluates `arch`'s threshold checks again on its current numbers (after
/// `ttlab merge` added up several workers' reports), from the checks alone:
/// each carries its measure, comparison and bound, so no scenario is needed.
pub fn reevaluate(arch: &mut ArchReport) -> Result<(), UnknownCheck> {
    let mut checks = std::mem::take(&mut arch.thresholds);
    for c in &mut checks {
        let (Some(measure), Some(cmp)) = (Measure::parse(&c.measure), Cmp::parse(&c.cmp)) else {
            return Err(UnknownCheck {
                measure: c.measure.clone(),
                cmp: c.cmp.clone(),
            });
        };
        // The bound is already in the unit `value_of` gives (ms for durations).
        c.value = value_of(arch, measure);
        c.holds = cmp.holds(c.value, c.bound);
    }
    arch.thresholds = checks;
    Ok(())
}

/// Fills in every architecture's (and sweep point's) threshold checks from
/// the configurations the report was run with (matched by name).
pub fn apply(report: &mut Report, archs: &[ArchitectureConfig]) {
    let thresholds_of = |name: &str| {
        archs
            .iter()
            .find(|a| a.arch.as_str() == name)
            .map_or(&[][..], |a| a.thresholds.as_slice())
    };
    for a in &mut report.architectures {
        a.thresholds = evaluate(a, thresholds_of(&a.name));
    }
    if let Some(sweep) = &mut report.sweep {
        for p in &mut sweep.points {
            for a in &mut p.architectures {
                a.thresholds = evaluate(a, thresholds_of(&a.name));
            }
        }
    }
}

/// Thresholds that do not hold, as (architecture, check), for the
/// architectures run at the scenario's own options (sweep points are
/// explorations, not the gate).
pub fn breaches(report: &Report) -> Vec<(&str, &ThresholdCheck)> {
    report
        .architectures
        .iter()
        .flat_map(|a| {
            a.thresholds
                .iter()
                .filter(|t| !t.holds)
                .map(move |t| (a.name.as_str(), t))
        })
        .collect()
}
