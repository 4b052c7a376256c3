//! The series of an architecture's report: one point per second, or per
//! bucket of seconds for a long run (see [`crate::record::Series`]).

use ttlab_reports::{ClassCounts, OriginLoad, SecondPoint};

use crate::live::load_since;
use crate::record::Recorder;

/// The series from the recorder, with the origin load between the
/// cumulative `samples` a real run takes at each second boundary added to
/// its buckets (the simulator counts its origin load into the recorder's
/// series directly and passes none). Returns the bucket width and points.
pub(super) fn series(rec: &Recorder, samples: &[OriginLoad]) -> (u32, Vec<SecondPoint>) {
    let mut series = rec.series.clone();
    for (i, pair) in samples.windows(2).enumerate() {
        let load = load_since(&pair[1], &pair[0]);
        let origin = &mut series.at(i).origin;
        *origin = origin.combine(&load, |a, b| a + b);
    }
    let width = series.width_s();
    let points = series
        .buckets()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let c = b.classes;
            let latency = (!b.latency.is_empty()).then_some(&b.latency);
            let q = |p: f64| latency.map_or(0.0, |h| h.value_at_quantile(p) as f64 / 1000.0);
            SecondPoint {
                t_s: i as u32 * width,
                requests: c.iter().sum(),
                from_cache: b.from_cache,
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
                origin: b.origin.clone(),
                latency_hdr: latency
                    .is_some()
                    .then(|| ttlab_reports::hdr::encode(&b.latency_bounded())),
            }
        })
        .collect();
    (width, points)
}
