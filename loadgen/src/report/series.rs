//! The per-second series of an architecture's report.

use ttlab_reports::{ClassCounts, OriginLoad, SecondPoint};

use crate::record::Recorder;

/// The per-second series from the recorder and the cumulative samples.
pub(super) fn series(rec: &Recorder, samples: &[OriginLoad]) -> Vec<SecondPoint> {
    let n = rec.seconds.len().max(samples.len().saturating_sub(1));
    (0..n)
        .map(|i| {
            let second = rec.seconds.get(i);
            let c = second.map_or([0; 7], |s| s.classes);
            let origin = match (samples.get(i), samples.get(i + 1)) {
                (Some(a), Some(b)) => OriginLoad {
                    requests: b.requests - a.requests,
                    renders: b.renders - a.renders,
                    personalize_calls: b.personalize_calls - a.personalize_calls,
                    delivery_calls: b.delivery_calls - a.delivery_calls,
                },
                _ => OriginLoad::default(),
            };
            let latency = second.map(|s| &s.latency).filter(|h| !h.is_empty());
            let q = |p: f64| latency.map_or(0.0, |h| h.value_at_quantile(p) as f64 / 1000.0);
            SecondPoint {
                t_s: i as u32,
                requests: c.iter().sum(),
                from_cache: second.map_or(0, |s| s.from_cache),
                classes: ClassCounts {
                    fresh: c[0],
                    stale_variant: c[1],
                    stale_content: c[2],
                    wrong_variant: c[3],
                    leak: c[4],
                    error: c[5],
                    fallback: c[6],
                },
                p50_ms: q(0.5),
                p99_ms: q(0.99),
                origin,
                latency_hdr: latency.map(ttlab_reports::hdr::encode),
            }
        })
        .collect()
}

/// Cumulative samples at each second boundary, from 0, out of each
/// second's load: what a real run's once-a-second sampler reads, for a
/// run (the simulator) that counts per second.
pub(crate) fn cumulative(per_second: &[OriginLoad]) -> Vec<OriginLoad> {
    let mut samples = vec![OriginLoad::default()];
    for l in per_second {
        let last = samples.last().expect("starts with zero").clone();
        samples.push(OriginLoad {
            requests: last.requests + l.requests,
            renders: last.renders + l.renders,
            personalize_calls: last.personalize_calls + l.personalize_calls,
            delivery_calls: last.delivery_calls + l.delivery_calls,
        });
    }
    samples
}
