//! The JSON report of a run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
pub use ttlab_scenarios::LayerCounts;

/// Version of the report format. 1: first version (real runs, with a
/// per-second series). 2: thresholds evaluated per architecture
/// (`thresholds`) and timeline markers (`markers`); version 1 reports still
/// read, with both empty. 3: serialized HDR histograms (`histograms`, a
/// series point's `latency_hdr`), the load machine's share (`worker`),
/// `page_views` and `merged_workers`, so that the reports of several load
/// machines merge exactly; version 2 reports still read, without them.
pub const SCHEMA_VERSION: u32 = 3;

/// A whole run: one scenario, one or more architectures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// "real" or "sim".
    pub mode: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Wall-clock start, RFC 3339.
    pub started_at: String,
    /// Planned length of each architecture's run, seconds.
    pub duration_s: f64,
    /// Whether the run was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// One result per architecture, in run order (the scenario's own
    /// options; for a sweep, see `sweep`).
    pub architectures: Vec<ArchReport>,
    /// A sweep over one cache option: the architectures at each value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepReport>,
    /// What happened on the scenario's timeline, for charts.
    #[serde(default)]
    pub markers: Vec<Marker>,
    /// Each goose user's page views when the run was bounded by a count
    /// (`ttlab run --page-views N`) rather than by the scenario's duration:
    /// then the visitor script, and so the request count, is the same on
    /// every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_views: Option<u32>,
    /// The share of the users this report holds, when it is one of several
    /// load machines' (`ttlab run --worker-id K --workers N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Worker>,
    /// How many workers' reports `ttlab merge` added up into this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_workers: Option<u32>,
    /// Seconds at the start of the run that warmed the caches: in the
    /// per-second series (and marked), out of every headline measure and
    /// threshold. Absent when none.
    #[serde(default, skip_serializing_if = "no_warmup")]
    pub warmup_s: f64,
}

/// One load machine's share of a run: the goose users `u` with
/// `u % of == id`, each playing the same script as in a single run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    /// This worker, `0..of`.
    pub id: u32,
    /// Workers in all.
    pub of: u32,
}

/// Something on the scenario's timeline that changes the truth: drawn on
/// every time-series chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// When, seconds from the start.
    pub t_s: f64,
    /// `publish`, `experience` or `storm`.
    pub kind: String,
    /// What, in a few words ("2 publishes", "experience 0 deactivated").
    pub label: String,
}

/// One threshold of the scenario, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdCheck {
    /// The measure, as written in `[thresholds]` (`wrong_variant`, `p99`, …).
    pub measure: String,
    /// `<=`, `<`, `>=`, `>` or `==`.
    pub cmp: String,
    /// The bound, in `unit`.
    pub bound: f64,
    /// The measured value, in `unit`.
    pub value: f64,
    /// `count`, `rate` (0..1) or `ms`.
    pub unit: String,
    /// Whether `value cmp bound` holds.
    pub holds: bool,
}

impl ThresholdCheck {
    /// `wrong_variant <= 0`, as written.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.measure,
            self.cmp,
            fmt_value(self.bound, &self.unit)
        )
    }

    /// The measured value with its unit.
    pub fn shown_value(&self) -> String {
        fmt_value(self.value, &self.unit)
    }
}

/// A value in its unit, for people: counts whole, rates as percentages, ms.
pub fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "count" => format!("{v:.0}"),
        "rate" => format!("{:.3}%", v * 100.0),
        "ms" => format!("{v:.1} ms"),
        _ => format!("{v}"),
    }
}

/// Results of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The cache option varied.
    pub option: String,
    /// One point per value, in the order given.
    pub points: Vec<SweepPoint>,
}

/// One value of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The value, as written ("30s", "true").
    pub value: String,
    /// Every architecture at this value.
    pub architectures: Vec<ArchReport>,
}

/// The measures of one architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchReport {
    /// Architecture name.
    pub name: String,
    /// Actual length of the run, seconds.
    pub elapsed_s: f64,
    /// Visitor requests judged.
    pub requests: u64,
    /// Count per class (`fresh`, `stale_variant`, …); every class present.
    pub classes: BTreeMap<String, u64>,
    /// Origin load.
    pub origin: OriginLoad,
    /// A run against an external origin (`ttlab run --target`): the
    /// mocks' own cumulative call counts when it began and ended, from
    /// which `origin` is the difference. Kept so that `ttlab merge` counts
    /// the calls of workers that ran at the same time once: the span from
    /// the earliest start to the latest end, not the sum of overlapping
    /// spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_counters: Option<MockCounters>,
    /// 1 − origin requests / visitor requests ([`offload_of`]).
    pub offload: f64,
    /// The caching layer's counters, if the architecture caches (added up
    /// over origin replicas that each hold one).
    pub layer: Option<LayerReport>,
    /// Origin replicas the run started (real runs; `origin_replicas` in the
    /// scenario). Absent when 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub origin_replicas: u32,
    /// Visitor-observed latency, overall and by the caching layer's outcome.
    pub latency: LatencyReport,
    /// How long after the truth changed stale responses were served.
    pub staleness: Percentiles,
    /// Attribute changes sent to Personalize as the SDK does.
    pub attribute_updates: u64,
    /// CPU the load generator's own threads used, in cores (it runs on one).
    pub generator_cpu: f64,
    /// CPU the whole process used, in cores (generator and servers).
    pub process_cpu: f64,

    /// Open-loop runs: the visits planned, and those dropped because every
    /// user of the pool was busy when they were due (absent for a closed loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<ArrivalCounts>,
    /// The team's own app this architecture ran in place of ttlab's origin
    /// (`[app]`); absent for ttlab's origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppReport>,
    /// The software that was the CDN or edge cache, when it was not ttlab's
    /// own (`[cdn] engine = "varnish"`); absent for ttlab's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdn: Option<CdnReport>,
    /// Warnings about the run itself (the generator as a bottleneck, say).
    pub warnings: Vec<String>,
    /// The scenario's thresholds for this architecture, evaluated.
    #[serde(default)]
    pub thresholds: Vec<ThresholdCheck>,
    /// Seconds each point of `series` covers, a power of two: 1 (and
    /// absent) for a run of up to [`crate::series::MAX_POINTS`] seconds,
    /// more for a longer one, whose series is bounded to that many points
    /// (see [`crate::series`]).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub series_width_s: u32,
    /// Each measure per second of the run, or per `series_width_s` seconds.
    pub series: Vec<SecondPoint>,
    /// The histograms behind `latency` and `staleness`, serialized, so that
    /// reports merge exactly (absent before version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histograms: Option<Histograms>,
}

/// The team's own app an architecture ran (`ttlab run` with `[app]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppReport {
    /// The command that started it.
    pub command: String,
    /// Where it answered.
    pub url: String,
    /// Its output (stdout and stderr), as a file name in the report's
    /// folder (`app-ssr-edge.log`); absent when it was not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Whether ttlab counted the requests the app was sent: its CDN or edge
    /// stood in front of the app; not for `as-is`, which ttlab cannot see
    /// into. An app's renders are never seen.
    pub requests_seen: bool,
}

/// The CDN engine an architecture ran with, when it was not ttlab's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdnReport {
    /// `varnish`.
    pub engine: String,
    /// What the engine says it is (`varnishd -V`'s first line).
    pub version: String,
    /// Where the layer's counts came from: `x-cache` of the answers (hit,
    /// stale, miss, bypass), the engine's own counters for the rest.
    pub counts_from: String,
}

impl CdnReport {
    /// The engine and its release, short, for tables: `varnish-7.1.1` from
    /// `varnishd (varnish-7.1.1 revision …)`; the engine's name otherwise.
    pub fn short(&self) -> String {
        self.version
            .split_once('(')
            .and_then(|(_, rest)| rest.split([' ', ')']).next())
            .filter(|v| !v.is_empty())
            .map_or_else(|| self.engine.clone(), str::to_owned)
    }
}

impl ArchReport {
    /// The caching layer's name as tables show it: `cdn`, or `cdn,
    /// varnish-7.1.1` when the layer was not ttlab's.
    pub fn layer_label(&self, layer: &LayerReport) -> String {
        match &self.cdn {
            Some(c) => format!("{}, {}", layer.name, c.short()),
            None => layer.name.clone(),
        }
    }
}

/// What an open-loop run planned and what it could not send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalCounts {
    /// Visits (sessions, single requests or replayed requests) the schedule
    /// planned within the run.
    pub planned: u64,
    /// Of them, visits that found every user of the pool busy when due:
    /// not sent, rather than sent late (which would hide the overload).
    pub dropped: u64,
    /// Goose users that took the arrivals (real runs; the simulator's pool
    /// has no bound and drops nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<u32>,
}

/// An architecture's HDR histograms, each in the V2 encoding, base64 (see
/// [`crate::hdr`]); values in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Latency of responses from the cache.
    pub latency_hit: String,
    /// Latency of responses that went upstream.
    pub latency_miss: String,
    /// How long after the truth changed stale responses were served.
    pub staleness: String,
}

/// The measures of one second of a run, or of one bucket of
/// `series_width_s` seconds (counts added, histogram merged).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondPoint {
    /// Second of the run (0-based) the point starts at: a multiple of the
    /// series' width.
    pub t_s: u32,
    /// Visitor requests answered in this second (or bucket).
    pub requests: u64,
    /// Of those, answered from the cache.
    pub from_cache: u64,
    /// Of those, per class.
    pub classes: ClassCounts,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Origin load in this second.
    pub origin: OriginLoad,
    /// This second's (or bucket's) latency histogram (µs, V2 encoding,
    /// base64), so that merged reports recompute `p50_ms` and `p99_ms`
    /// exactly; absent for a point without responses and before version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_hdr: Option<String>,
}

/// Responses per class.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ClassCounts {
    pub fresh: u64,
    pub stale_variant: u64,
    pub stale_content: u64,
    pub wrong_variant: u64,
    pub leak: u64,
    pub error: u64,
    pub fallback: u64,
}

impl ArchReport {
    /// Whether ttlab saw this architecture's origin: not for a run against
    /// an external origin (see [`target_name`]), whose requests and renders
    /// it cannot count. What it cannot know is shown as "-", never as 0.
    pub fn origin_seen(&self) -> bool {
        !is_target(&self.name) && self.app.as_ref().is_none_or(|a| a.requests_seen)
    }

    /// Whether ttlab counted the origin's renders: its own origin only
    /// (neither an external one nor the team's app).
    pub fn renders_seen(&self) -> bool {
        !is_target(&self.name) && self.app.is_none()
    }

    /// The offload, if ttlab could measure it ([`ArchReport::origin_seen`]).
    pub fn known_offload(&self) -> Option<f64> {
        self.origin_seen().then_some(self.offload)
    }

    /// Pages the origin rendered, if ttlab could count them.
    pub fn known_renders(&self) -> Option<u64> {
        self.renders_seen().then_some(self.origin.renders)
    }

    /// Count of a class.
    pub fn class(&self, name: &str) -> u64 {
        self.classes.get(name).copied().unwrap_or(0)
    }

    /// Whether every threshold holds (true when there are none).
    pub fn passes(&self) -> bool {
        self.thresholds.iter().all(|t| t.holds)
    }

    /// Share of a class among requests.
    pub fn rate(&self, name: &str) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.class(name) as f64 / self.requests as f64
        }
    }
}

/// The architecture name of a run against an external origin at `url`
/// (`ttlab run --target`).
pub fn target_name(url: &str) -> String {
    format!("{TARGET_PREFIX}{url}")
}

/// Whether an architecture is a run against an external origin (see
/// [`target_name`]).
pub fn is_target(name: &str) -> bool {
    name.starts_with(TARGET_PREFIX)
}

const TARGET_PREFIX: &str = "target ";

/// An architecture's `offload`: [`OriginLoad::offload`], except 0 for an
/// external origin, whose requests ttlab does not see (its `origin.requests`
/// is 0, which would read as everything offloaded).
pub fn offload_of(name: &str, requests: u64, origin: &OriginLoad) -> f64 {
    if is_target(name) {
        0.0
    } else {
        origin.offload(requests)
    }
}

/// The mocks' cumulative counters (their `/metrics`) around a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MockCounters {
    /// When the run began.
    pub before: OriginLoad,
    /// When it ended.
    pub after: OriginLoad,
}

/// Requests and calls that reached the origin and the upstreams.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginLoad {
    /// Page requests that reached the origin.
    pub requests: u64,
    /// Pages rendered.
    pub renders: u64,
    /// Manifest calls the Personalize mock answered.
    pub personalize_calls: u64,
    /// Entry fetches the Delivery mock answered.
    pub delivery_calls: u64,
}

impl OriginLoad {
    /// 1 − origin requests / `requests` (visitor requests): the share of
    /// visitor requests the caching kept from the origin; 0 with none. The
    /// one formula of the offload (reports, merges, the live view).
    pub fn offload(&self, requests: u64) -> f64 {
        if requests == 0 {
            0.0
        } else {
            1.0 - self.requests as f64 / requests as f64
        }
    }

    /// Each count of `self` and `other` combined by `f`: sums, differences
    /// between two readings, spans.
    #[must_use]
    pub fn combine(&self, other: &OriginLoad, f: impl Fn(u64, u64) -> u64) -> OriginLoad {
        OriginLoad {
            requests: f(self.requests, other.requests),
            renders: f(self.renders, other.renders),
            personalize_calls: f(self.personalize_calls, other.personalize_calls),
            delivery_calls: f(self.delivery_calls, other.delivery_calls),
        }
    }
}

/// A caching layer's part of the report: its counts (the one
/// [`LayerCounts`] the layer snapshots into), the hit rate computed from them,
/// and what the layer's store went through.
///
/// The JSON keeps its published layout (see `docs/report-format.md`): the
/// counts are written out among the other fields, in their historical order
/// and names (`hit`, `miss`, ...), through [`LayerReportJson`]; the counts a
/// report does not publish (lock timeouts, fetches, refreshes, ...) are left
/// out, and read back as 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "LayerReportJson", into = "LayerReportJson")]
pub struct LayerReport {
    /// Layer name (`origin`, `cdn`, `edge`).
    pub name: String,
    /// What the layer counted (added up over origin replicas, or over the
    /// load machines of a merge): the counts the report publishes; the
    /// others are 0.
    pub counts: LayerCounts,
    /// (hit + stale) / all answers: [`LayerCounts::hit_rate`] of `counts`,
    /// kept as written when a report is read back.
    pub hit_rate: f64,
    /// Where the layer kept its entries when not in memory: `redis`.
    /// Absent for the memory store (and in reports before it existed).
    pub backend: Option<String>,
    /// When the store was unavailable, in run time; across origin replicas,
    /// the union. Absent when it never was.
    pub store_outages: Vec<StoreOutage>,
}

impl LayerReport {
    /// The report of layer `name` from its counts, with the hit rate
    /// computed from them; no backend, no outages. Only the counts the
    /// report publishes are kept (through [`LayerReportJson`], the one list
    /// of them), so a report reads back equal to what was written.
    pub fn new(name: &str, counts: LayerCounts) -> Self {
        let all = LayerReport {
            name: name.to_owned(),
            counts,
            hit_rate: counts.hit_rate(),
            backend: None,
            store_outages: Vec::new(),
        };
        LayerReport::from(LayerReportJson::from(all))
    }
}

/// [`LayerReport`] as the JSON writes it: the published field order and
/// names. Only the serialization goes through it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerReportJson {
    /// Layer name (`origin`, `cdn`, `edge`).
    pub name: String,
    /// `HIT` answers.
    pub hit: u64,
    /// `STALE` answers.
    pub stale: u64,
    /// `MISS` answers.
    pub miss: u64,
    /// `BYPASS` answers.
    pub bypass: u64,
    /// (hit + stale) / all answers.
    pub hit_rate: f64,
    /// Misses answered by another request's fill.
    pub coalesced: u64,
    /// Entries purged.
    pub purged: u64,
    /// Entries evicted.
    pub evicted: u64,
    /// Where the layer kept its entries when not in memory: `redis`.
    /// Absent for the memory store (and in reports before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Store calls that failed or timed out (Redis down or slow). Absent
    /// when none did.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub store_errors: u64,
    /// `BYPASS` answers because the store was unavailable (part of
    /// `bypass`): served by the origin, not an error. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub store_bypass: u64,
    /// Fills answered with another origin replica's entry from the shared
    /// store, after waiting for its fill lock. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub remote_fills: u64,
    /// When the store was unavailable, in run time; across origin replicas,
    /// the union. Absent when it never was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub store_outages: Vec<StoreOutage>,
}

impl From<LayerReport> for LayerReportJson {
    fn from(l: LayerReport) -> Self {
        let c = l.counts;
        LayerReportJson {
            name: l.name,
            hit: c.hits,
            stale: c.stale,
            miss: c.misses,
            bypass: c.bypass,
            hit_rate: l.hit_rate,
            coalesced: c.coalesced,
            purged: c.purged,
            evicted: c.evicted,
            backend: l.backend,
            store_errors: c.store_errors,
            store_bypass: c.store_bypass,
            remote_fills: c.remote_fills,
            store_outages: l.store_outages,
        }
    }
}

impl From<LayerReportJson> for LayerReport {
    fn from(j: LayerReportJson) -> Self {
        LayerReport {
            name: j.name,
            counts: LayerCounts {
                hits: j.hit,
                stale: j.stale,
                misses: j.miss,
                bypass: j.bypass,
                coalesced: j.coalesced,
                purged: j.purged,
                evicted: j.evicted,
                store_errors: j.store_errors,
                store_bypass: j.store_bypass,
                remote_fills: j.remote_fills,
                ..LayerCounts::default()
            },
            hit_rate: j.hit_rate,
            backend: j.backend,
            store_outages: j.store_outages,
        }
    }
}

/// A stretch of a run in which a caching layer's store was unavailable:
/// from its first failed call to the first call that succeeded again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreOutage {
    /// Seconds from the start of the run.
    pub from_s: f64,
    /// Seconds from the start when the store answered again; `null` if it
    /// had not by the end of the run.
    pub until_s: Option<f64>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one(n: &u32) -> bool {
    *n == 1
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// Latency overall and by outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyReport {
    /// Every request.
    pub all: Percentiles,
    /// Answered from the cache (`HIT` or `STALE` at the outermost caching layer).
    pub hit: Percentiles,
    /// Went upstream.
    pub miss: Percentiles,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn no_warmup(s: &f64) -> bool {
    *s <= 0.0
}

#[cfg(test)]
mod tests {
    use super::{LayerCounts, LayerReport};

    /// The layer's JSON keeps its published names and order, leaves out
    /// the counts it does not publish, and reads back equal.
    #[test]
    fn a_layer_report_writes_its_published_layout_and_reads_back_equal() {
        let counts = LayerCounts {
            hits: 6,
            stale: 2,
            misses: 1,
            bypass: 1,
            coalesced: 3,
            lock_timeouts: 9,
            upstream_fetches: 9,
            refreshes: 9,
            stale_if_error: 9,
            fill_errors: 9,
            purged: 4,
            evicted: 5,
            store_errors: 7,
            store_bypass: 1,
            remote_fills: 8,
        };
        let mut l = LayerReport::new("origin", counts);
        l.backend = Some("redis".to_owned());
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(
            json,
            r#"{"name":"origin","hit":6,"stale":2,"miss":1,"bypass":1,"hit_rate":0.8,"coalesced":3,"purged":4,"evicted":5,"backend":"redis","store_errors":7,"store_bypass":1,"remote_fills":8}"#
        );
        let back: LayerReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, l);
        assert_eq!(back.counts.upstream_fetches, 0);
    }
}
