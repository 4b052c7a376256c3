//! `ttlab merge`: the reports of several load machines (`ttlab run
//! --worker-id K --workers N`) added up into the report of the whole run.
//!
//! Exact by construction: counters are summed, histograms are added bucket
//! by bucket (so percentiles of the merged report are those of every
//! response of every worker), per-second points are added second by
//! second (or bucket by bucket, at the widest worker's width, for long
//! runs: see [`crate::series`]), and thresholds are evaluated again on the merged numbers.
//! What is not a sum is said where it is merged (`elapsed_s` is the
//! longest worker's, CPU is the total over the machines).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use thiserror::Error;

use crate::gate;
use crate::hdr::{self, HdrError};
use crate::model::{
    ArchReport, ArrivalCounts, ClassCounts, Histograms, LatencyReport, LayerReport, MockCounters,
    OriginLoad, Report, SCHEMA_VERSION, SecondPoint, SweepPoint, SweepReport, offload_of,
};

/// Why reports cannot be merged. Every message names the file at fault
/// (as given to [`merge`]) and says what was expected.
#[derive(Debug, Error)]
pub enum MergeError {
    /// No reports.
    #[error("no reports to merge: give the report.json of every worker")]
    Empty,
    /// A report that does not fit with the others, or cannot be merged at all.
    #[error("{file}: {what}")]
    Report {
        /// The report, as named to [`merge`].
        file: String,
        /// What is wrong, and what was expected.
        what: String,
    },
    /// Reports that fit but do not cover every worker.
    #[error(
        "missing the report of worker {missing} of {of} (have {have}): merge needs every worker's"
    )]
    Missing {
        /// The worker ids without a report.
        missing: String,
        /// Workers in all.
        of: u32,
        /// The reports given, with their workers.
        have: String,
    },
}

fn wrong(file: &str, what: impl Into<String>) -> MergeError {
    MergeError::Report {
        file: file.to_owned(),
        what: what.into(),
    }
}

/// Merges the reports of workers `0..N` of one run into one report.
/// `reports` pairs each report with the name to show in errors (its path).
/// The order does not matter: workers are taken in id order.
pub fn merge(reports: &[(String, Report)]) -> Result<Report, MergeError> {
    let mut parts: Vec<(&str, &Report, u32)> = Vec::new();
    for (file, r) in reports {
        let Some(w) = r.worker else {
            return Err(wrong(
                file,
                if r.schema_version < 3 {
                    format!(
                        "report schema {} carries no histograms or worker: merge needs reports of `ttlab run --worker-id K --workers N` (schema {SCHEMA_VERSION})",
                        r.schema_version
                    )
                } else {
                    "not a worker's report (no \"worker\"): write it with `ttlab run --worker-id K --workers N`".to_owned()
                },
            ));
        };
        parts.push((file, r, w.id));
    }
    parts.sort_by_key(|p| p.2);
    let Some(&(first_file, first, _)) = parts.first() else {
        return Err(MergeError::Empty);
    };
    let of = first.worker.map_or(1, |w| w.of);
    for &(file, r, _) in &parts {
        compatible(file, r, first_file, first)?;
    }
    for pair in parts.windows(2) {
        if pair[0].2 == pair[1].2 {
            return Err(wrong(
                pair[1].0,
                format!(
                    "worker {} of {of} again (also {}): each worker's report once",
                    pair[1].2, pair[0].0
                ),
            ));
        }
    }
    let missing: Vec<String> = (0..of)
        .filter(|k| !parts.iter().any(|p| p.2 == *k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            of,
            have: parts
                .iter()
                .map(|p| format!("{} = worker {}", p.0, p.2))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }

    // The architectures of the run (`point` None) or of a sweep point.
    let archs_at = |point: Option<usize>| -> Result<Vec<ArchReport>, MergeError> {
        (0..archs_of(first, point).len())
            .map(|i| {
                let of_arch: Vec<(&str, &ArchReport, u32)> = parts
                    .iter()
                    .map(|p| (p.0, &archs_of(p.1, point)[i], p.2))
                    .collect();
                merge_arch(&of_arch)
            })
            .collect()
    };
    let architectures = archs_at(None)?;
    let sweep = match &first.sweep {
        None => None,
        Some(s) => Some(SweepReport {
            option: s.option.clone(),
            points: (0..s.points.len())
                .map(|i| {
                    Ok(SweepPoint {
                        value: s.points[i].value.clone(),
                        architectures: archs_at(Some(i))?,
                    })
                })
                .collect::<Result<_, MergeError>>()?,
        }),
    };
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        mode: first.mode.clone(),
        scenario: first.scenario.clone(),
        seed: first.seed,
        // RFC 3339 in UTC, one format: the earliest sorts first.
        started_at: parts
            .iter()
            .map(|p| p.1.started_at.as_str())
            .min()
            .unwrap_or_default()
            .to_owned(),
        duration_s: first.duration_s,
        interrupted: parts.iter().any(|p| p.1.interrupted),
        architectures,
        sweep,
        markers: first.markers.clone(),
        page_views: first.page_views,
        worker: None,
        merged_workers: Some(of),
        warmup_s: first.warmup_s,
    })
}

/// The run's architectures, or those of sweep point `point` (compatible
/// reports have the same points).
fn archs_of(r: &Report, point: Option<usize>) -> &[ArchReport] {
    match (point, &r.sweep) {
        (None, _) => &r.architectures,
        (Some(i), Some(s)) => s.points.get(i).map_or(&[], |p| &p.architectures),
        (Some(_), None) => &[],
    }
}

/// Whether `r` (from `file`) was run like `first`: the same scenario, seed,
/// mode, length, page-view bound, worker count and architectures.
fn compatible(file: &str, r: &Report, first_file: &str, first: &Report) -> Result<(), MergeError> {
    let differs = |what: &str, got: String, want: String| {
        wrong(
            file,
            format!("{what} {got}, expected {want} as in {first_file}"),
        )
    };
    if r.mode != first.mode {
        return Err(differs(
            "mode",
            format!("\"{}\"", r.mode),
            format!("\"{}\"", first.mode),
        ));
    }
    if r.scenario != first.scenario {
        return Err(differs(
            "scenario",
            format!("\"{}\"", r.scenario),
            format!("\"{}\"", first.scenario),
        ));
    }
    if r.seed != first.seed {
        return Err(differs("seed", r.seed.to_string(), first.seed.to_string()));
    }
    if r.duration_s.to_bits() != first.duration_s.to_bits() {
        return Err(differs(
            "duration",
            format!("{} s", r.duration_s),
            format!("{} s", first.duration_s),
        ));
    }
    if r.page_views != first.page_views {
        let show = |p: Option<u32>| p.map_or("none (timed)".to_owned(), |n| n.to_string());
        return Err(differs(
            "page views per user",
            show(r.page_views),
            show(first.page_views),
        ));
    }
    let (w, w0) = (
        r.worker.map_or(1, |w| w.of),
        first.worker.map_or(1, |w| w.of),
    );
    if w != w0 {
        return Err(differs("worker count", w.to_string(), w0.to_string()));
    }
    if let Some(worker) = r.worker
        && worker.id >= worker.of
    {
        return Err(wrong(
            file,
            format!(
                "worker {} of {}: ids go from 0 to {}",
                worker.id,
                worker.of,
                worker.of.saturating_sub(1)
            ),
        ));
    }
    let names = |a: &[ArchReport]| a.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    if names(&r.architectures) != names(&first.architectures) {
        return Err(differs(
            "architectures",
            names(&r.architectures).join(", "),
            names(&first.architectures).join(", "),
        ));
    }
    match (&r.sweep, &first.sweep) {
        (None, None) => {}
        (Some(a), Some(b))
            if a.option == b.option
                && a.points.len() == b.points.len()
                && a.points.iter().zip(&b.points).all(|(p, q)| {
                    p.value == q.value && names(&p.architectures) == names(&q.architectures)
                }) => {}
        _ => {
            let show = |s: &Option<SweepReport>| {
                s.as_ref().map_or("none".to_owned(), |s| {
                    let values: Vec<&str> = s.points.iter().map(|p| p.value.as_str()).collect();
                    format!("{}={}", s.option, values.join(","))
                })
            };
            return Err(differs("sweep", show(&r.sweep), show(&first.sweep)));
        }
    }
    Ok(())
}

/// One architecture of every worker, added up.
fn merge_arch(parts: &[(&str, &ArchReport, u32)]) -> Result<ArchReport, MergeError> {
    let (_, first, _) = parts[0];
    let [hit, miss, stale] = merge_histograms(parts)?;
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    let mut origin = OriginLoad::default();
    let mut warnings = Vec::new();
    let (mut requests, mut attribute_updates) = (0, 0);
    let (mut generator_cpu, mut process_cpu, mut elapsed_s) = (0.0, 0.0, 0.0_f64);
    for &(_, a, id) in parts {
        requests += a.requests;
        for (class, n) in &a.classes {
            *classes.entry(class.clone()).or_default() += n;
        }
        add_load(&mut origin, &a.origin);
        attribute_updates += a.attribute_updates;
        // CPU in cores, over all the load machines; the run lasted as long as
        // its slowest worker.
        generator_cpu += a.generator_cpu;
        process_cpu += a.process_cpu;
        elapsed_s = elapsed_s.max(a.elapsed_s);
        warnings.extend(a.warnings.iter().map(|w| format!("worker {id}: {w}")));
    }
    // Workers against one external origin read the same mocks: calls
    // counted from the earliest start to the latest end, once.
    let mock_counters = span_of_mocks(parts);
    if let Some(m) = &mock_counters {
        let calls = m.after.combine(&m.before, u64::saturating_sub);
        origin.personalize_calls = calls.personalize_calls;
        origin.delivery_calls = calls.delivery_calls;
    }
    let mut all = hit.clone();
    hdr::add(&mut all, &miss).map_err(|e| wrong(parts[0].0, e.to_string()))?;
    let offload = offload_of(&first.name, requests, &origin);
    let (series_width_s, series) = merge_series(parts)?;
    let mut merged = ArchReport {
        name: first.name.clone(),
        origin_replicas: first.origin_replicas,
        mock_counters,
        elapsed_s,
        requests,
        classes,
        origin,
        offload,
        layer: merge_layers(parts)?,
        latency: LatencyReport {
            all: hdr::percentiles(&all),
            hit: hdr::percentiles(&hit),
            miss: hdr::percentiles(&miss),
        },
        staleness: hdr::percentiles(&stale),
        attribute_updates,
        generator_cpu,
        process_cpu,
        arrivals: parts
            .iter()
            .filter_map(|p| p.1.arrivals)
            .reduce(|a, b| ArrivalCounts {
                planned: a.planned + b.planned,
                dropped: a.dropped + b.dropped,
                pool: a.pool.zip(b.pool).map(|(x, y)| x + y).or(a.pool).or(b.pool),
            }),
        app: first.app.clone(),
        cdn: first.cdn.clone(),
        warnings,
        thresholds: first.thresholds.clone(),
        series_width_s,
        series,
        histograms: Some(Histograms {
            latency_hit: hdr::encode(&hit),
            latency_miss: hdr::encode(&miss),
            staleness: hdr::encode(&stale),
        }),
    };
    gate::reevaluate(&mut merged).map_err(|e| wrong(parts[0].0, e.to_string()))?;
    Ok(merged)
}

/// The workers' `latency_hit`, `latency_miss` and `staleness` histograms,
/// each added up.
fn merge_histograms(parts: &[(&str, &ArchReport, u32)]) -> Result<[Histogram<u64>; 3], MergeError> {
    let mut merged: [Option<Histogram<u64>>; 3] = [None, None, None];
    for &(file, a, _) in parts {
        let Some(h) = &a.histograms else {
            return Err(wrong(
                file,
                format!(
                    "architecture {} has no histograms: merge needs report schema {SCHEMA_VERSION}",
                    a.name
                ),
            ));
        };
        let texts = [
            ("latency_hit", &h.latency_hit),
            ("latency_miss", &h.latency_miss),
            ("staleness", &h.staleness),
        ];
        for (slot, (which, text)) in merged.iter_mut().zip(texts) {
            let h = hdr::decode(text)
                .map_err(|e| wrong(file, format!("{} histogram {which}: {e}", a.name)))?;
            match slot {
                None => *slot = Some(h),
                Some(into) => {
                    hdr::add(into, &h).map_err(|e: HdrError| wrong(file, e.to_string()))?;
                }
            }
        }
    }
    let [hit, miss, stale] = merged;
    let one = "merge has one report at least";
    Ok([hit.expect(one), miss.expect(one), stale.expect(one)])
}

/// The workers' caching-layer counters, added up, with the hit rate of the
/// sums; every worker must have the same layer (or none).
fn merge_layers(parts: &[(&str, &ArchReport, u32)]) -> Result<Option<LayerReport>, MergeError> {
    let first = parts[0].1;
    let mut merged: Option<LayerReport> = None;
    for &(file, a, _) in parts {
        let same = a.layer.as_ref().map(|l| &l.name) == first.layer.as_ref().map(|l| &l.name);
        if !same {
            return Err(wrong(
                file,
                format!(
                    "architecture {}: caching layer {}, expected {} as the first worker's",
                    a.name,
                    a.layer.as_ref().map_or("none", |l| l.name.as_str()),
                    first.layer.as_ref().map_or("none", |l| l.name.as_str())
                ),
            ));
        }
        merged = match (merged, &a.layer) {
            (Some(mut m), Some(l)) => {
                m.counts.add(&l.counts);
                // Each worker's own store, from its own start: every
                // window is kept (in time order, below).
                m.store_outages.extend(l.store_outages.iter().cloned());
                Some(m)
            }
            (None, l) => l.clone(),
            (m, None) => m,
        };
    }
    if let Some(l) = &mut merged {
        l.hit_rate = l.counts.hit_rate();
        l.store_outages
            .sort_by(|a, b| a.from_s.total_cmp(&b.from_s));
    }
    Ok(merged)
}

/// The mocks' counters from the earliest worker's start to the latest
/// one's end, when every worker read them (runs against an external
/// origin); `None` otherwise, and the workers' own loads add up.
fn span_of_mocks(parts: &[(&str, &ArchReport, u32)]) -> Option<MockCounters> {
    let mut all = parts.iter().map(|(_, a, _)| a.mock_counters.as_ref());
    let mut span = all.next()??.clone();
    for m in all {
        let m = m?;
        span.before = span.before.combine(&m.before, u64::min);
        span.after = span.after.combine(&m.after, u64::max);
    }
    Some(span)
}

fn add_load(into: &mut OriginLoad, l: &OriginLoad) {
    *into = into.combine(l, |a, b| a + b);
}

fn add_classes(into: &mut ClassCounts, c: &ClassCounts) {
    into.fresh += c.fresh;
    into.stale_variant += c.stale_variant;
    into.stale_content += c.stale_content;
    into.wrong_variant += c.wrong_variant;
    into.leak += c.leak;
    into.error += c.error;
    into.fallback += c.fallback;
}

/// Point `t` of the merged series is point `t` of every worker's run (each
/// counted from its own start), added up; its percentiles come from the
/// added histograms. Workers whose series have different widths (runs of
/// different lengths) are first brought to the widest, by the one rule of
/// [`crate::series`]: a point of width `w` falls in the merged point that
/// covers its first second, which it lies within whole as widths are powers
/// of two. A point some worker recorded without its histogram (reports
/// from before schema 3 are refused earlier, so only a hand-made report)
/// gets the request-weighted mean of the workers' percentiles. Returns the
/// merged width and points.
fn merge_series(parts: &[(&str, &ArchReport, u32)]) -> Result<(u32, Vec<SecondPoint>), MergeError> {
    let mut width = 1u32;
    let mut last_s = 0usize;
    for &(file, a, _) in parts {
        let w = a.series_width_s;
        if !w.is_power_of_two() {
            return Err(wrong(
                file,
                format!(
                    "{}: series_width_s {w} is not a power of two (1, 2, 4, ...)",
                    a.name
                ),
            ));
        }
        width = width.max(w);
        last_s = last_s.max(a.series.len().saturating_sub(1) * w as usize);
    }
    let width = width.max(1 << crate::series::shift_for(last_s));
    let len = if parts.iter().all(|p| p.1.series.is_empty()) {
        0
    } else {
        last_s / width as usize + 1
    };
    let mut acc: Vec<Acc> = (0..len)
        .map(|t| Acc {
            point: SecondPoint {
                t_s: (t as u32) * width,
                ..SecondPoint::default()
            },
            histogram: None,
            exact: true,
            p50: 0.0,
            p99: 0.0,
        })
        .collect();
    for &(file, a, _) in parts {
        let w = a.series_width_s as usize;
        for (i, p) in a.series.iter().enumerate() {
            let into = &mut acc[i * w / width as usize];
            into.point.requests += p.requests;
            into.point.from_cache += p.from_cache;
            add_classes(&mut into.point.classes, &p.classes);
            add_load(&mut into.point.origin, &p.origin);
            into.p50 += p.p50_ms * p.requests as f64;
            into.p99 += p.p99_ms * p.requests as f64;
            match &p.latency_hdr {
                Some(text) => {
                    let h = hdr::decode(text).map_err(|e| {
                        wrong(file, format!("{} point {i}: latency_hdr {e}", a.name))
                    })?;
                    match &mut into.histogram {
                        None => into.histogram = Some(h),
                        Some(m) => hdr::add(m, &h).map_err(|e| wrong(file, e.to_string()))?,
                    }
                }
                None => into.exact &= p.requests == 0,
            }
        }
    }
    let out = acc
        .into_iter()
        .map(|a| {
            let mut point = a.point;
            match a.histogram.filter(|h| a.exact && !h.is_empty()) {
                Some(h) => {
                    point.p50_ms = h.value_at_quantile(0.5) as f64 / 1000.0;
                    point.p99_ms = h.value_at_quantile(0.99) as f64 / 1000.0;
                    point.latency_hdr = Some(hdr::encode(&h));
                }
                None if point.requests > 0 => {
                    point.p50_ms = a.p50 / point.requests as f64;
                    point.p99_ms = a.p99 / point.requests as f64;
                }
                None => {}
            }
            point
        })
        .collect();
    Ok((width, out))
}

/// One merged point as it is added up.
struct Acc {
    point: SecondPoint,
    histogram: Option<Histogram<u64>>,
    /// Whether every part with responses brought its histogram.
    exact: bool,
    /// Request-weighted sums of the parts' percentiles, for a point without
    /// histograms.
    p50: f64,
    p99: f64,
}
