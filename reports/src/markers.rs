//! Timeline markers for charts: what changed the truth, and when.
//!
//! Events are grouped per second and kind so a timeline with a publish rate
//! gives one marker per second ("3 publishes"), not thousands; in a run
//! longer than the series' bound, per point of the series (its width, see
//! [`crate::series`]), so a day's markers are bounded as its series is and
//! line up with its points; attribute
//! changes show only as storms (many visitors at one instant), since single
//! visitors' changes are background noise on a chart.

use std::collections::BTreeMap;

use ttlab_scenarios::World;
use ttlab_scenarios::world::EventKind;

use crate::model::Marker;

/// Changes a marker's label names; more are counted.
const MAX_LABELS: usize = 3;

/// Visitors changing at one instant that make an attribute storm.
const STORM: usize = 10;

/// The markers of `world`'s timeline.
pub fn of_world(world: &World) -> Vec<Marker> {
    let s = world.scenario();
    // The width of the series of a run as long as the scenario.
    let last_second = s.duration.0.div_ceil(1_000_000).saturating_sub(1);
    let shift = crate::series::shift_for(usize::try_from(last_second).unwrap_or(usize::MAX));
    let point = |at: u64| (at / 1_000_000) >> shift << shift;
    // (second, kind) → labels, in time order.
    let mut groups: BTreeMap<(u64, &'static str), Vec<String>> = BTreeMap::new();
    let mut changes_at: BTreeMap<u64, usize> = BTreeMap::new();
    for e in world.events() {
        let second = point(e.at.0);
        match &e.kind {
            EventKind::Publish { entry, .. } => groups
                .entry((second, "publish"))
                .or_default()
                .push(s.content.entries[*entry as usize].uid.clone()),
            EventKind::SetActive { experience, active } => groups
                .entry((second, "experience"))
                .or_default()
                .push(format!(
                    "experience {} {}",
                    s.experiences[usize::from(*experience)].uid,
                    if *active { "activated" } else { "deactivated" }
                )),
            EventKind::SetSplits { experience, .. } => groups
                .entry((second, "experience"))
                .or_default()
                .push(format!(
                    "experience {} splits changed",
                    s.experiences[usize::from(*experience)].uid
                )),
            EventKind::AttributeChange { .. } => *changes_at.entry(e.at.0).or_default() += 1,
        }
    }
    for (at, n) in changes_at {
        if n >= STORM {
            groups
                .entry((point(at), "storm"))
                .or_default()
                .push(format!("attribute storm: {n} visitors"));
        }
    }
    if s.warmup > ttlab_scenarios::Micros::ZERO {
        groups
            .entry((warmup_seconds(s.warmup) as u64, "warmup"))
            .or_default()
            .push("end of warm-up: measures count from here".to_owned());
    }
    groups
        .into_iter()
        .map(|((second, kind), labels)| Marker {
            t_s: second as f64,
            kind: kind.to_owned(),
            label: match (kind, labels.len()) {
                ("publish", 1) => format!("publish {}", labels[0]),
                ("publish", n) => format!("{n} publishes"),
                // A label stays short however many changes a point holds.
                (_, n) if n > MAX_LABELS => format!(
                    "{}; and {} more",
                    labels[..MAX_LABELS].join("; "),
                    n - MAX_LABELS
                ),
                _ => labels.join("; "),
            },
        })
        .collect()
}

/// Whole seconds of warm-up: the per-second series counts in whole
/// seconds, so a warm-up ends at the second boundary at or after it.
pub fn warmup_seconds(warmup: ttlab_scenarios::Micros) -> usize {
    warmup.0.div_ceil(1_000_000) as usize
}
