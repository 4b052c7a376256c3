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

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;
    use ttlab_reports::series::MAX_POINTS;

    use super::series;
    use crate::check::Class;
    use crate::record::Recorder;
    use ttlab_reports::OriginLoad;

    /// A reference bucket: recorded straight at the width the series ends
    /// with, as if the run had known its length from the start.
    #[derive(Clone)]
    struct Reference {
        classes: [u64; 7],
        from_cache: u64,
        latency: Histogram<u64>,
        origin: u64,
    }

    /// Records `n` responses at pseudo-random seconds below `seconds` (in
    /// no particular order, so the series coarsens in the middle of the
    /// run and late responses land in already merged buckets), and one
    /// origin request per second through the cumulative samples; returns
    /// the report's width and points and the references at `width`.
    fn run(
        seconds: usize,
        n: usize,
        width: usize,
    ) -> ((u32, Vec<ttlab_reports::SecondPoint>), Vec<Reference>) {
        let mut rec = Recorder::default();
        let empty = Reference {
            classes: [0; 7],
            from_cache: 0,
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 2).unwrap(),
            origin: 0,
        };
        let mut refs = vec![empty; seconds.div_ceil(width)];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..n {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let second = (x >> 33) as usize % seconds;
            let class = Class::ALL[(x >> 20) as usize % 7];
            // Latencies from 1 µs to about 17 s, spread over many buckets.
            let latency = 1 + ((x >> 8) & 0xFFFF) * ((x >> 40) & 0xFF);
            let from_cache = x & 1 == 1;
            rec.record(second, class, latency, from_cache, None);
            let r = &mut refs[second / width];
            r.classes[class.index()] += 1;
            r.from_cache += u64::from(from_cache);
            r.latency.record(latency).unwrap();
        }
        let samples: Vec<OriginLoad> = (0..=seconds as u64)
            .map(|s| OriginLoad {
                requests: s,
                ..OriginLoad::default()
            })
            .collect();
        for s in 0..seconds {
            refs[s / width].origin += 1;
        }
        (series(&rec, &samples), refs)
    }

    fn assert_matches(points: &[ttlab_reports::SecondPoint], refs: &[Reference], width: u32) {
        assert_eq!(points.len(), refs.len());
        for (i, (p, r)) in points.iter().zip(refs).enumerate() {
            assert_eq!(p.t_s, i as u32 * width);
            assert_eq!(p.requests, r.classes.iter().sum::<u64>(), "point {i}");
            assert_eq!(p.classes.fresh, r.classes[0], "point {i}");
            assert_eq!(p.classes.fallback, r.classes[6], "point {i}");
            assert_eq!(p.from_cache, r.from_cache, "point {i}");
            assert_eq!(p.origin.requests, r.origin, "point {i}");
            match &p.latency_hdr {
                Some(text) => {
                    let h = ttlab_reports::hdr::decode(text).unwrap();
                    assert_eq!(
                        h, r.latency,
                        "point {i}: the merged histogram, count for count"
                    );
                    assert_eq!(text, &ttlab_reports::hdr::encode(&r.latency), "point {i}");
                    let q = |p: f64| r.latency.value_at_quantile(p) as f64 / 1000.0;
                    assert_eq!((p.p50_ms, p.p99_ms), (q(0.5), q(0.99)), "point {i}");
                }
                None => assert!(r.latency.is_empty(), "point {i}"),
            }
        }
    }

    /// A run of the bound's length or less keeps one point per second,
    /// each equal to what that second recorded.
    #[test]
    fn a_short_run_keeps_every_second() {
        let ((width, points), refs) = run(MAX_POINTS, 20_000, 1);
        assert_eq!(width, 1);
        assert_matches(&points, &refs, 1);
    }

    /// A run 3.5 times the bound ends at 4 s a point: at most the bound's
    /// points, each exactly the counts, origin load and histogram of its 4
    /// seconds as if recorded at 4 s from the start; its percentiles are
    /// read from that histogram.
    #[test]
    fn a_long_run_is_bounded_and_its_buckets_are_merged_exactly() {
        let seconds = MAX_POINTS * 7 / 2;
        let ((width, points), refs) = run(seconds, 40_000, 4);
        assert_eq!(width, 4);
        assert!(points.len() <= MAX_POINTS);
        assert_eq!(points.len(), seconds.div_ceil(4));
        assert_matches(&points, &refs, 4);
    }
}
