//! `merge` is exact: the reports of workers that each recorded part of the
//! responses merge into the very report one recorder of all of them writes
//! (counters, histograms, percentiles, per-second points, thresholds).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use proptest::prelude::*;
use ttlab_reports::merge::{MergeError, merge};
use ttlab_reports::{
    ArchReport, ClassCounts, Histograms, LatencyReport, LayerCounts, LayerReport, MockCounters,
    OriginLoad, Report, SecondPoint, Worker, gate, hdr,
};
use ttlab_scenarios::model::{Cmp, Measure, Threshold};

const CLASSES: [&str; 7] = [
    "fresh",
    "stale_variant",
    "stale_content",
    "wrong_variant",
    "leak",
    "error",
    "fallback",
];

/// One judged response: class, latency µs, from the cache, staleness µs,
/// second of the run.
type Response = (usize, u64, bool, Option<u64>, usize);

fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, sigfig).unwrap()
}

fn thresholds() -> Vec<Threshold> {
    vec![
        Threshold {
            measure: Measure::P99,
            cmp: Cmp::Le,
            value: 0.05,
        },
        Threshold {
            measure: Measure::HitRate,
            cmp: Cmp::Ge,
            value: 0.5,
        },
        Threshold {
            measure: Measure::Error,
            cmp: Cmp::Le,
            value: 0.0,
        },
        Threshold {
            measure: Measure::StalenessP99,
            cmp: Cmp::Lt,
            value: 1.0,
        },
    ]
}

/// The architecture report a recorder of `responses` writes, as a real run
/// builds it (3 significant digits overall, 2 per second); the origin takes
/// what the cache did not answer. Its series has `width` seconds a point
/// (1 for a short run), each recorded straight at that width.
fn arch_at(responses: &[Response], width: usize) -> ArchReport {
    let (mut hit, mut miss, mut stale) = (histogram(3), histogram(3), histogram(3));
    let mut classes = [0_u64; 7];
    let seconds = responses.iter().map(|r| r.4 / width + 1).max().unwrap_or(0);
    let mut per_second: Vec<(ClassCounts, u64, Histogram<u64>)> = (0..seconds)
        .map(|_| (ClassCounts::default(), 0, histogram(2)))
        .collect();
    for &(class, latency, from_cache, staleness, second) in responses {
        classes[class] += 1;
        if from_cache { &mut hit } else { &mut miss }
            .record(latency)
            .unwrap();
        if let Some(s) = staleness {
            stale.record(s).unwrap();
        }
        let (c, cached, h) = &mut per_second[second / width];
        let counts = [
            &mut c.fresh,
            &mut c.stale_variant,
            &mut c.stale_content,
            &mut c.wrong_variant,
            &mut c.leak,
            &mut c.error,
            &mut c.fallback,
        ];
        *counts.into_iter().nth(class).unwrap() += 1;
        *cached += u64::from(from_cache);
        h.record(latency).unwrap();
    }
    let requests = responses.len() as u64;
    let hits = responses.iter().filter(|r| r.2).count() as u64;
    let origin = OriginLoad {
        requests: requests - hits,
        renders: requests - hits,
        personalize_calls: requests,
        delivery_calls: 2 * (requests - hits),
    };
    let mut all = hit.clone();
    all.add(&miss).unwrap();
    let mut arch = ArchReport {
        name: "ssr-edge".to_owned(),
        origin_replicas: 1,
        mock_counters: None,
        elapsed_s: 3.0,
        requests,
        classes: CLASSES
            .iter()
            .zip(classes)
            .map(|(c, n)| ((*c).to_owned(), n))
            .collect::<BTreeMap<_, _>>(),
        offload: if requests == 0 {
            0.0
        } else {
            1.0 - origin.requests as f64 / requests as f64
        },
        origin,
        layer: Some(LayerReport::new(
            "edge",
            LayerCounts {
                hits,
                misses: requests - hits,
                ..LayerCounts::default()
            },
        )),
        latency: LatencyReport {
            all: hdr::percentiles(&all),
            hit: hdr::percentiles(&hit),
            miss: hdr::percentiles(&miss),
        },
        staleness: hdr::percentiles(&stale),
        attribute_updates: 0,
        generator_cpu: 0.0,
        process_cpu: 0.0,
        arrivals: None,
        app: None,
        cdn: None,
        warnings: Vec::new(),
        thresholds: Vec::new(),
        series_width_s: width as u32,
        series: series_of(&per_second, width),
        histograms: Some(Histograms {
            latency_hit: hdr::encode(&hit),
            latency_miss: hdr::encode(&miss),
            staleness: hdr::encode(&stale),
        }),
    };
    arch.thresholds = gate::evaluate(&arch, &thresholds());
    arch
}

/// The per-second points of a recorder's seconds: classes, answers from
/// the cache and latency.
fn series_of(per_second: &[(ClassCounts, u64, Histogram<u64>)], width: usize) -> Vec<SecondPoint> {
    per_second
        .iter()
        .enumerate()
        .map(|(t, (c, cached, h))| {
            let q = |p| {
                if h.is_empty() {
                    0.0
                } else {
                    h.value_at_quantile(p) as f64 / 1000.0
                }
            };
            let n = h.len();
            SecondPoint {
                t_s: (t * width) as u32,
                requests: n,
                from_cache: *cached,
                classes: c.clone(),
                p50_ms: q(0.5),
                p99_ms: q(0.99),
                origin: OriginLoad {
                    requests: n - cached,
                    ..OriginLoad::default()
                },
                latency_hdr: (!h.is_empty()).then(|| hdr::encode(h)),
            }
        })
        .collect()
}

fn report_of(responses: &[Response], worker: Option<Worker>) -> Report {
    report_at(responses, worker, 1)
}

fn report_at(responses: &[Response], worker: Option<Worker>, width: usize) -> Report {
    Report {
        schema_version: ttlab_reports::SCHEMA_VERSION,
        mode: "real".to_owned(),
        scenario: "s".to_owned(),
        seed: 1,
        started_at: format!("2026-11-27T00:00:0{}Z", worker.map_or(0, |w| w.id)),
        duration_s: 3.0,
        interrupted: false,
        architectures: vec![arch_at(responses, width)],
        sweep: None,
        markers: Vec::new(),
        page_views: Some(5),
        worker,
        merged_workers: None,
        warmup_s: 0.0,
    }
}

fn response() -> impl Strategy<Value = (Response, u32)> {
    (
        0..7_usize,
        // µs, from 1 µs to over an hour (clamped as the recorder does).
        prop_oneof![1..5_000_u64, 1..3_600_000_000_u64],
        any::<bool>(),
        proptest::option::of(1..600_000_000_u64),
        0..6_usize,
        0..4_u32,
    )
        .prop_map(|(c, l, h, s, t, w)| ((c, l, h, s, t), w))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merging_workers_reports_gives_the_report_of_all_their_responses(
        tagged in proptest::collection::vec(response(), 0..300),
        workers in 1..5_u32,
    ) {
        let all: Vec<Response> = tagged.iter().map(|r| r.0).collect();
        let parts: Vec<(String, Report)> = (0..workers)
            .rev()
            .map(|k| {
                let mine: Vec<Response> =
                    tagged.iter().filter(|r| r.1 % workers == k).map(|r| r.0).collect();
                (format!("w{k}.json"), report_of(&mine, Some(Worker { id: k, of: workers })))
            })
            .collect();
        let merged = merge(&parts).unwrap();
        let mut single = report_of(&all, None);
        single.merged_workers = Some(workers);
        prop_assert_eq!(&merged, &single);
        // Histograms themselves, not only their encodings, are equal.
        let (m, s) = (
            merged.architectures[0].histograms.as_ref().unwrap(),
            single.architectures[0].histograms.as_ref().unwrap(),
        );
        prop_assert_eq!(hdr::decode(&m.latency_miss).unwrap(), hdr::decode(&s.latency_miss).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Workers whose series have different widths (runs of different
    /// lengths, each bounded by the series rule) merge at the widest: the
    /// report one recorder of all the responses writes at that width.
    #[test]
    fn workers_series_of_different_widths_merge_exactly_at_the_widest(
        tagged in proptest::collection::vec(response(), 1..300),
        shifts in proptest::collection::vec(0..3_u32, 2..4),
    ) {
        let workers = shifts.len() as u32;
        let widest = 1 << shifts.iter().max().unwrap();
        let all: Vec<Response> = tagged.iter().map(|r| r.0).collect();
        let parts: Vec<(String, Report)> = (0..workers)
            .map(|k| {
                let mine: Vec<Response> =
                    tagged.iter().filter(|r| r.1 % workers == k).map(|r| r.0).collect();
                let w = Some(Worker { id: k, of: workers });
                (format!("w{k}.json"), report_at(&mine, w, 1 << shifts[k as usize]))
            })
            .collect();
        let merged = merge(&parts).unwrap();
        let mut single = report_at(&all, None, widest);
        single.merged_workers = Some(workers);
        prop_assert_eq!(merged.architectures[0].series_width_s, widest as u32);
        prop_assert_eq!(&merged.architectures[0].series, &single.architectures[0].series);
        prop_assert_eq!(&merged, &single);
    }
}

#[test]
fn every_threshold_measure_and_comparison_reads_back_by_name() {
    for m in Measure::ALL {
        assert_eq!(Measure::parse(m.as_str()), Some(m));
    }
    for c in [Cmp::Le, Cmp::Lt, Cmp::Ge, Cmp::Gt, Cmp::Eq] {
        assert_eq!(Cmp::parse(c.as_str()), Some(c));
    }
    assert_eq!(Measure::parse("p42"), None);
}

#[test]
fn reports_that_do_not_fit_are_refused_naming_the_file() {
    let w = |id, of| Some(Worker { id, of });
    let r = |worker| report_of(&[(0, 1_000, false, None, 0)], worker);
    let named = |pairs: Vec<(&str, Report)>| -> Vec<(String, Report)> {
        pairs.into_iter().map(|(n, r)| (n.to_owned(), r)).collect()
    };
    let err = |pairs| merge(&named(pairs)).unwrap_err().to_string();

    assert!(matches!(merge(&[]), Err(MergeError::Empty)));
    let mut other = r(w(1, 2));
    other.scenario = "t".to_owned();
    assert_eq!(
        err(vec![("a.json", r(w(0, 2))), ("b.json", other)]),
        "b.json: scenario \"t\", expected \"s\" as in a.json"
    );
    assert_eq!(
        err(vec![("a.json", r(w(0, 3))), ("b.json", r(w(1, 2)))]),
        "b.json: worker count 2, expected 3 as in a.json"
    );
    assert_eq!(
        err(vec![("a.json", r(w(0, 3))), ("c.json", r(w(2, 3)))]),
        "missing the report of worker 1 of 3 (have a.json = worker 0, c.json = worker 2): merge needs every worker's"
    );
    let mut v2 = r(None);
    v2.schema_version = 2;
    assert!(
        err(vec![("old.json", v2)]).starts_with("old.json: report schema 2 carries no histograms")
    );
    let mut bare = r(w(0, 1));
    bare.architectures[0].histograms = None;
    assert_eq!(
        err(vec![("bare.json", bare)]),
        "bare.json: architecture ssr-edge has no histograms: merge needs report schema 3"
    );
    let mut timed = r(w(1, 2));
    timed.page_views = None;
    assert_eq!(
        err(vec![("a.json", r(w(0, 2))), ("b.json", timed)]),
        "b.json: page views per user none (timed), expected 5 as in a.json"
    );
    let mut unknown = r(w(0, 1));
    unknown.architectures[0].thresholds[0].measure = "p42".to_owned();
    assert!(err(vec![("u.json", unknown)]).contains("\"p42 <=\" names a measure"));
    // One worker of one merges into itself.
    let one = merge(&named(vec![("a.json", r(w(0, 1)))])).unwrap();
    assert_eq!(one.architectures, r(None).architectures);
}

#[test]
fn workers_against_one_external_origin_count_the_mocks_calls_once() {
    // Two `--target` workers ran at the same time against one app and one
    // set of mocks: each read the mocks' counters before and after its own
    // run, so each window holds some of the other's calls.
    let calls = |personalize_calls, delivery_calls| OriginLoad {
        personalize_calls,
        delivery_calls,
        ..OriginLoad::default()
    };
    let worker = |id, before: OriginLoad, after: OriginLoad| {
        let mut r = report_of(&[], Some(Worker { id, of: 2 }));
        let a = &mut r.architectures[0];
        a.name = "target http://127.0.0.1:3000".to_owned();
        a.origin = after.combine(&before, u64::saturating_sub);
        a.mock_counters = Some(MockCounters { before, after });
        (format!("w{id}.json"), r)
    };
    let parts = [
        worker(0, calls(100, 300), calls(160, 420)),
        worker(1, calls(120, 330), calls(190, 500)),
    ];
    let merged = merge(&parts).unwrap();
    let a = &merged.architectures[0];
    // From the first start to the last end: 190 - 100 and 500 - 300, not
    // the sums 60 + 70 and 120 + 170.
    assert_eq!(
        (a.origin.personalize_calls, a.origin.delivery_calls),
        (90, 200)
    );
    assert_eq!(
        a.mock_counters,
        Some(MockCounters {
            before: calls(100, 300),
            after: calls(190, 500)
        })
    );
    // Workers with their own systems (no mock counters) still add up.
    let own = [
        (
            "a.json".to_owned(),
            report_of(&[], Some(Worker { id: 0, of: 2 })),
        ),
        (
            "b.json".to_owned(),
            report_of(&[], Some(Worker { id: 1, of: 2 })),
        ),
    ];
    assert_eq!(merge(&own).unwrap().architectures[0].mock_counters, None);
}
