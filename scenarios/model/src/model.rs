//! The validated scenario: what every other crate reads.
//!
//! Unlike [`crate::spec`], names are resolved to indices (attributes,
//! values, experiences, variants, entries), defaults are filled in and page
//! sets are expanded, so the world and the simulator never look a name up on a
//! hot path.

use crate::time::Micros;

// The architectures and key scopes live with the topology they name, so an
// architecture is one module; the model keeps their old paths.
pub use crate::app::App;
pub use crate::arrivals::{RateCurve, Shape as RateShape};
pub use crate::topology::{Architecture, KeyScope};

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Short name, used in report folder names.
    pub name: String,
    /// What question the scenario answers.
    pub description: String,
    /// Seed of every random draw.
    pub seed: u64,
    /// Length of the run.
    pub duration: Micros,
    /// The first part of the run that warms the caches: kept in the
    /// per-second series, left out of headline measures and thresholds.
    pub warmup: Micros,
    /// Who visits, how often, which pages.
    pub traffic: Traffic,
    /// Visitor attributes.
    pub attributes: Vec<Attribute>,
    /// Experiences in priority order (manifest order).
    pub experiences: Vec<Experience>,
    /// Entries and pages.
    pub content: Content,
    /// Changes during the run, as written (the world expands them into events).
    pub timeline: Vec<TimelineRule>,
    /// Upstream latency and failures.
    pub faults: Faults,
    /// The origin's budgets and costs.
    pub origin: OriginOptions,
    /// Architectures to run, in file order.
    pub architectures: Vec<ArchitectureConfig>,
    /// A sweep over one cache option, if any.
    pub sweep: Option<Sweep>,
    /// The team's own app (`[app]`), which real runs start and put ttlab's
    /// CDN or edge in front of; `None`: ttlab's own origin.
    pub app: Option<App>,
    /// Which software is the CDN or edge cache in real runs (`[cdn]
    /// engine`); the simulator models ttlab's whatever it says.
    pub cdn: CdnEngine,
    /// XXH3-64 of the scenario's text as read (0 for one built in code):
    /// two processes that read "the same scenario" — the mocks and a run
    /// against them — compare it, with the seed, to know they read the same
    /// file, since the name alone says nothing of its contents.
    pub source_hash: u64,
}

impl Scenario {
    /// The windows `[from, until)` in which the Redis cache store is cut
    /// off (`store_outage` rules), in time order, overlapping ones merged:
    /// what a real run's store proxy enacts and the simulator models.
    pub fn store_outages(&self) -> Vec<(Micros, Micros)> {
        let mut all: Vec<(Micros, Micros)> = self
            .timeline
            .iter()
            .filter_map(TimelineRule::store_outage)
            .collect();
        all.sort_unstable();
        let mut out: Vec<(Micros, Micros)> = Vec::with_capacity(all.len());
        for (from, until) in all {
            match out.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(until),
                _ => out.push((from, until)),
            }
        }
        out
    }

    /// The store outages `arch`'s caching layer goes through: the
    /// scenario's windows for a layer on Redis, none for a layer in memory
    /// (its store is in the process and never fails) or no cache. The one
    /// rule both engines apply: a real run cuts that layer's Redis
    /// connections in these windows, the simulator fails its store calls.
    pub fn store_outages_of(&self, arch: &ArchitectureConfig) -> Vec<(Micros, Micros)> {
        match arch.cache.backend {
            Backend::Redis { .. } if arch.arch.caches() => self.store_outages(),
            _ => Vec::new(),
        }
    }
}

/// Whether instant `t` lies in one of `windows` (`[from, until)` each):
/// whether the cache store is cut off then, for both engines.
pub fn within_windows(windows: &[(Micros, Micros)], t: Micros) -> bool {
    windows.iter().any(|(from, until)| *from <= t && t < *until)
}

/// The origin replica visitor `visitor` is sent to when `replicas` serve
/// visitors directly: visitor k → replica k mod N, as a sticky load
/// balancer would. Real runs send each visitor there and the simulator
/// models the same split.
pub const fn replica_of(visitor: u32, replicas: u32) -> u32 {
    if replicas <= 1 { 0 } else { visitor % replicas }
}

/// A distribution of durations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// Always this value.
    Fixed(Micros),
    /// Exponential with this mean.
    Exponential {
        /// Mean.
        mean: Micros,
    },
    /// Uniform between the bounds.
    Uniform {
        /// Lower bound.
        min: Micros,
        /// Upper bound.
        max: Micros,
    },
    /// Log-normal through the two quantiles.
    LogNormal {
        /// Median.
        p50: Micros,
        /// 99th percentile.
        p99: Micros,
    },
}

impl Dist {
    /// The distribution's mean, for summaries and closed-form estimates.
    pub fn mean(&self) -> Micros {
        match *self {
            Dist::Fixed(v) | Dist::Exponential { mean: v } => v,
            Dist::Uniform { min, max } => Micros(u64::midpoint(min.0, max.0)),
            Dist::LogNormal { p50, p99 } => {
                let (mu, sigma) = lognormal_params(p50, p99);
                Micros::from_secs_f64((mu + sigma * sigma / 2.0).exp())
            }
        }
    }
}

/// μ and σ (of ln seconds) of the log-normal with the given median and p99.
pub fn lognormal_params(p50: Micros, p99: Micros) -> (f64, f64) {
    const Z99: f64 = 2.326_347_874_040_841;
    let mu = p50.as_secs_f64().max(1e-9).ln();
    let sigma = ((p99.as_secs_f64().max(1e-9)).ln() - mu).max(0.0) / Z99;
    (mu, sigma)
}

/// Traffic model: who visits, and the one load model that says when.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    /// Distinct visitors.
    pub visitors: u32,
    /// When requests come: closed-loop users, open arrivals, or a trace.
    pub load: Load,
    /// Think time between pages of a session (closed loop and open sessions).
    pub think_time: Dist,
    /// Pages per session (closed loop and open sessions; 1 otherwise).
    pub pages_per_session: u32,
    /// Page popularity.
    pub popularity: Popularity,
    /// Real open-loop runs: goose users that take arrivals; `None` derives
    /// it from the peak rate and the length of a session.
    pub pool: Option<u32>,
}

impl Traffic {
    /// Closed-loop users, if the model is closed.
    pub fn users(&self) -> Option<u32> {
        match self.load {
            Load::Closed { users } => Some(users),
            _ => None,
        }
    }
}

/// When requests come. A scenario has exactly one, run the same way by the
/// simulator and by real runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Closed loop: this many users, each browsing one visitor's session at
    /// a time with think time between pages. The server's speed sets the
    /// rate: a slow server is sent less.
    Closed {
        /// Concurrent users.
        users: u32,
    },
    /// Open loop: sessions start at this rate (Poisson), each a visitor
    /// browsing `pages_per_session` pages with think time, whether or not
    /// the server keeps up.
    Sessions {
        /// Session starts per second.
        rate: RateCurve,
    },
    /// Open loop: single page requests at this rate (Poisson), each from a
    /// visitor drawn from the population.
    Requests {
        /// Requests per second.
        rate: RateCurve,
    },
    /// Requests replayed from a trace file, in time order.
    Trace(std::sync::Arc<Replay>),
}

impl Load {
    /// The `[traffic]` key that sets this model.
    pub fn key(&self) -> &'static str {
        match self {
            Load::Closed { .. } => "users",
            Load::Sessions { .. } => "session_rate",
            Load::Requests { .. } => "arrival_rate",
            Load::Trace(_) => "trace",
        }
    }
}

/// A trace read and mapped onto the scenario: each request's instant (the
/// trace's time from its first request, divided by the speed), page and
/// visitor.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    /// The file, as the scenario names it.
    pub file: String,
    /// Trace time runs this many times faster in the run.
    pub speed: f64,
    /// The requests, in time order.
    pub requests: Vec<ReplayRequest>,
    /// Lines of the file that could not be read (skipped).
    pub bad_lines: u64,
    /// The first bad line's number and why, to show.
    pub first_bad: Option<(u64, String)>,
    /// Distinct paths in the trace that matched none of the scenario's
    /// pages and were mapped onto pages by popularity rank.
    pub unmatched_paths: u64,
    /// Distinct visitor ids in the trace.
    pub trace_visitors: u64,
}

/// One request of a [`Replay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayRequest {
    /// Its instant in the run.
    pub at: Micros,
    /// The page.
    pub page: PageIdx,
    /// The visitor of the population it plays.
    pub visitor: u32,
}

/// Page popularity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Popularity {
    /// Every page equally likely.
    Uniform,
    /// Rank k has weight 1/k^s.
    Zipf {
        /// Exponent.
        s: f64,
    },
}

/// Index of an attribute in [`Scenario::attributes`].
pub type AttrIdx = usize;
/// Index of a value in [`Attribute::values`].
pub type ValueIdx = u16;

/// A visitor attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Name as the Personalize API sees it.
    pub name: String,
    /// Possible values (sorted).
    pub values: Vec<String>,
    /// Relative weight of each value.
    pub weights: Vec<f64>,
}

impl Attribute {
    /// Index of a value by name.
    pub fn value_index(&self, value: &str) -> Option<ValueIdx> {
        self.values
            .iter()
            .position(|v| v == value)
            .map(|i| i as ValueIdx)
    }
}

/// An audience rule over attribute value indices.
#[derive(Clone, Debug, PartialEq)]
pub enum Audience {
    /// The attribute has one of the values.
    In(AttrIdx, Vec<ValueIdx>),
    /// The attribute has none of the values (an unset attribute has none).
    NotIn(AttrIdx, Vec<ValueIdx>),
    /// Every rule holds.
    All(Vec<Audience>),
    /// Some rule holds.
    Any(Vec<Audience>),
}

impl Audience {
    /// Whether a visitor whose attribute values `value_of` returns is in the
    /// audience. `None` is an attribute the visitor has no known value for.
    pub fn matches(&self, value_of: &impl Fn(AttrIdx) -> Option<ValueIdx>) -> bool {
        match self {
            Audience::In(a, vs) => value_of(*a).is_some_and(|v| vs.contains(&v)),
            Audience::NotIn(a, vs) => value_of(*a).is_none_or(|v| !vs.contains(&v)),
            Audience::All(rules) => rules.iter().all(|r| r.matches(value_of)),
            Audience::Any(rules) => rules.iter().any(|r| r.matches(value_of)),
        }
    }

    /// Attributes the rule reads.
    pub fn attributes(&self, out: &mut Vec<AttrIdx>) {
        match self {
            Audience::In(a, _) | Audience::NotIn(a, _) => out.push(*a),
            Audience::All(rules) | Audience::Any(rules) => {
                for r in rules {
                    r.attributes(out);
                }
            }
        }
    }
}

/// How an experience picks a visitor's variant.
#[derive(Clone, Debug, PartialEq)]
pub enum Assignment {
    /// A/B: participants split by a stable hash of (visitor uid, experience uid).
    Ab {
        /// Percent per variant at the start, in [`Experience::variants`] order.
        splits: Vec<f64>,
        /// Only visitors in this audience take part.
        audience: Option<Audience>,
    },
    /// Segmented: the first variant whose audience matches.
    Segmented {
        /// One audience per variant.
        audiences: Vec<Audience>,
    },
}

/// A Personalize experience.
#[derive(Clone, Debug, PartialEq)]
pub struct Experience {
    /// Short uid ("0", "a").
    pub uid: String,
    /// Human name.
    pub name: String,
    /// Running at the start.
    pub active: bool,
    /// Tags, for the manifest's `tags[]` filter.
    pub tags: Vec<String>,
    /// Variant short uids.
    pub variants: Vec<String>,
    /// Human names of the variants (may be empty strings).
    pub variant_names: Vec<String>,
    /// How visitors get variants.
    pub assignment: Assignment,
}

/// Index of an experience in [`Scenario::experiences`].
pub type ExpIdx = u16;
/// Index of a variant in [`Experience::variants`].
pub type VarIdx = u16;

/// One variant of one experience.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VariantRef {
    /// The experience.
    pub experience: ExpIdx,
    /// Its variant.
    pub variant: VarIdx,
}

/// Index of an entry in [`Content::entries`].
pub type EntryIdx = u32;
/// Index of a page in [`Content::pages`].
pub type PageIdx = u32;

/// Entries and pages.
#[derive(Clone, Debug, PartialEq)]
pub struct Content {
    /// Locale of every entry.
    pub locale: String,
    /// The stack export the mock Delivery API serves, when the scenario
    /// names one: the team's own content model, in its full shapes.
    pub export: Option<std::sync::Arc<ttlab_export::Export>>,
    /// Entries.
    pub entries: Vec<Entry>,
    /// Pages, page sets expanded, in popularity rank order.
    pub pages: Vec<Page>,
}

/// A content entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Entry uid.
    pub uid: String,
    /// Content type uid.
    pub content_type: String,
    /// Variants the entry has, sorted.
    pub variants: Vec<VariantRef>,
}

/// A page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// URL path.
    pub path: String,
    /// Entries it renders, in order.
    pub entries: Vec<EntryIdx>,
    /// Carries a per-visitor fragment.
    pub visitor_fragment: bool,
}

/// A timeline rule as written; the world expands it into events.
#[derive(Clone, Debug, PartialEq)]
pub enum TimelineRule {
    /// `fraction` of visitors change `attribute` at `at`.
    AttributeStorm {
        /// When.
        at: Micros,
        /// Which attribute.
        attribute: AttrIdx,
        /// Share of visitors.
        fraction: f64,
        /// Fixed new value, or drawn.
        value: Option<ValueIdx>,
    },
    /// Attribute changes at `rate` per second across visitors.
    AttributeRate {
        /// Window start.
        from: Micros,
        /// Window end.
        until: Micros,
        /// Which attribute.
        attribute: AttrIdx,
        /// Changes per second.
        rate: f64,
        /// Fixed new value, or drawn.
        value: Option<ValueIdx>,
    },
    /// Each visitor changes `attribute` every `mean_interval` on average.
    AttributeDrift {
        /// Window start.
        from: Micros,
        /// Window end.
        until: Micros,
        /// Which attribute.
        attribute: AttrIdx,
        /// Mean time between a visitor's changes.
        mean_interval: Micros,
        /// Fixed new value, or drawn.
        value: Option<ValueIdx>,
    },
    /// An experience starts or stops.
    SetActive {
        /// When.
        at: Micros,
        /// Which experience.
        experience: ExpIdx,
        /// Running after the change.
        active: bool,
    },
    /// An A/B experience's splits change.
    SetSplits {
        /// When.
        at: Micros,
        /// Which experience.
        experience: ExpIdx,
        /// Percent per variant.
        splits: Vec<f64>,
    },
    /// Entries published at one time.
    PublishAt {
        /// When.
        at: Micros,
        /// Which entries.
        entries: Vec<EntryIdx>,
        /// One variant only, or the base entry.
        variant: Option<VariantRef>,
    },
    /// Publishes at `rate` per second, each of an entry drawn from `pool`.
    PublishRate {
        /// Window start.
        from: Micros,
        /// Window end.
        until: Micros,
        /// Publishes per second.
        rate: f64,
        /// Entries to draw from (every entry when written without a list).
        pool: Vec<EntryIdx>,
        /// One variant only, or the base entry.
        variant: Option<VariantRef>,
    },
    /// The Redis cache store is unreachable from `at` for `duration`: no
    /// world event (the truth does not change), but both engines cut the
    /// caching layers off their store for that window.
    StoreOutage {
        /// When it begins.
        at: Micros,
        /// How long it lasts.
        duration: Micros,
    },
}

impl TimelineRule {
    /// The store outage's window `[from, until)`, for a `store_outage` rule.
    pub fn store_outage(&self) -> Option<(Micros, Micros)> {
        match self {
            TimelineRule::StoreOutage { at, duration } => Some((*at, at.saturating_add(*duration))),
            _ => None,
        }
    }
}

/// Faults of both upstreams.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Faults {
    /// Personalize Edge API.
    pub personalize: UpstreamFaults,
    /// Delivery API.
    pub delivery: UpstreamFaults,
}

/// Latency and failures of one upstream.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamFaults {
    /// Response latency.
    pub latency: Dist,
    /// Share of requests answered with `error_status`.
    pub error_rate: f64,
    /// Status of injected errors.
    pub error_status: u16,
    /// Share of requests that hang.
    pub timeout_rate: f64,
    /// Rate limiting.
    pub rate_limit: Option<RateLimit>,
    /// Windows of harder failure.
    pub outages: Vec<Outage>,
}

impl Default for UpstreamFaults {
    fn default() -> Self {
        UpstreamFaults {
            latency: Dist::Fixed(Micros::ZERO),
            error_rate: 0.0,
            error_status: 503,
            timeout_rate: 0.0,
            rate_limit: None,
            outages: Vec::new(),
        }
    }
}

/// A token-bucket rate limit answered with 429 and `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests per second.
    pub requests_per_second: f64,
    /// Bucket size.
    pub burst: u32,
}

/// The real Delivery API's limit on uncached requests per organization.
pub const CONTENTSTACK_DELIVERY_MISS_RPS: f64 = 80.0;

/// A failure window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outage {
    /// Start.
    pub from: Micros,
    /// End (exclusive).
    pub until: Micros,
    /// Share of requests failing.
    pub error_rate: f64,
    /// Status of failures.
    pub error_status: u16,
    /// Failures hang instead.
    pub timeout: bool,
}

/// The origin's budgets and costs.
#[derive(Clone, Debug, PartialEq)]
pub struct OriginOptions {
    /// Budget for Personalize before falling back to base content.
    pub personalize_timeout: Micros,
    /// Budget for Delivery.
    pub delivery_timeout: Micros,
    /// Render cost (simulated runs).
    pub render_time: Dist,
}

/// Where cached pages live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// In process.
    Memory,
    /// A shared Redis server.
    Redis {
        /// Its URL.
        url: String,
    },
}

/// Which software is the CDN or edge cache of a real run: ttlab's own
/// model, or Varnish with VCL generated from the same topology and cache
/// options, to show that the model's numbers hold for software teams run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CdnEngine {
    /// ttlab's own CDN and edge (`ssr_origin::proxy`).
    #[default]
    Ttlab,
    /// `varnishd` with generated VCL (`ssr_origin::varnish`).
    Varnish,
}

impl CdnEngine {
    /// Its name in a scenario, on the command line and in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            CdnEngine::Ttlab => "ttlab",
            CdnEngine::Varnish => "varnish",
        }
    }

    /// By name.
    pub fn parse(name: &str) -> Option<CdnEngine> {
        [CdnEngine::Ttlab, CdnEngine::Varnish]
            .into_iter()
            .find(|e| e.as_str() == name)
    }
}

/// Which entry a bounded memory store evicts to make room. One definition
/// for the scenario and the store (`ttlab_ssr_origin::cache::MemoryStore`),
/// so the simulator and the servers run the same policy. A Redis store
/// ignores it: Redis evicts by its own `maxmemory-policy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Eviction {
    /// Least recently used (the default: what every release before the
    /// option ran).
    #[default]
    Lru,
    /// First in, first out: a read changes nothing.
    Fifo,
    /// FIFO with a second chance: a read sets a bit that saves the entry
    /// once when it reaches the end of the queue.
    Clock,
    /// SIEVE: a FIFO queue whose hand sweeps from old to new, sparing
    /// entries read since it last passed, without moving them.
    Sieve,
    /// S3-FIFO: a small probationary FIFO, a main FIFO with reinsertion, and
    /// a ghost queue of keys recently evicted from the small one.
    S3Fifo,
    /// W-TinyLFU: a small LRU window before a segmented LRU whose admission
    /// compares estimated frequencies (a count-min sketch that ages).
    WTinyLfu,
}

impl Eviction {
    /// Every policy, in the order the docs list them.
    pub const ALL: [Eviction; 6] = [
        Eviction::Lru,
        Eviction::Fifo,
        Eviction::Clock,
        Eviction::Sieve,
        Eviction::S3Fifo,
        Eviction::WTinyLfu,
    ];

    /// The name a scenario writes.
    pub const fn name(self) -> &'static str {
        match self {
            Eviction::Lru => "lru",
            Eviction::Fifo => "fifo",
            Eviction::Clock => "clock",
            Eviction::Sieve => "sieve",
            Eviction::S3Fifo => "s3-fifo",
            Eviction::WTinyLfu => "w-tinylfu",
        }
    }
}

impl std::fmt::Display for Eviction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the CDN and edge layers take their lifetimes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CachePolicy {
    /// The scenario's windows, applied by the layers themselves.
    #[default]
    Scenario,
    /// The origin states the scenario's windows in its response headers
    /// (`Cache-Control: s-maxage`, `stale-while-revalidate`,
    /// `stale-if-error`) and the CDN and edge follow the headers, as a real
    /// CDN does. Windows are then whole seconds, HTTP's unit.
    Http,
}

impl CachePolicy {
    /// Its name in a scenario.
    pub const fn as_str(self) -> &'static str {
        match self {
            CachePolicy::Scenario => "scenario",
            CachePolicy::Http => "http",
        }
    }
}

/// Options of one caching layer, defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheOptions {
    /// Freshness lifetime.
    pub ttl: Micros,
    /// Stale-while-revalidate window after the TTL.
    pub stale_while_revalidate: Micros,
    /// Stale-if-error window after the TTL.
    pub stale_if_error: Micros,
    /// One upstream fill per key at a time.
    pub coalesce: bool,
    /// Purge by entry tag on the publish webhook.
    pub purge_on_publish: bool,
    /// Entry bound.
    pub max_entries: Option<u64>,
    /// Byte bound.
    pub max_bytes: Option<u64>,
    /// Which entry a bounded memory store evicts.
    pub eviction: Eviction,
    /// Where entries live.
    pub backend: Backend,
    /// Variant-key scope.
    pub key_scope: KeyScope,
    /// Origin replicas a run starts (1 unless `backend` is Redis, which
    /// they share); the simulator models them too.
    pub origin_replicas: u32,
    /// Where the CDN and edge take their lifetimes from.
    pub policy: CachePolicy,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            ttl: Micros::from_secs(30),
            stale_while_revalidate: Micros::ZERO,
            stale_if_error: Micros::ZERO,
            coalesce: true,
            purge_on_publish: false,
            max_entries: None,
            max_bytes: None,
            eviction: Eviction::Lru,
            backend: Backend::Memory,
            key_scope: KeyScope::All,
            origin_replicas: 1,
            policy: CachePolicy::Scenario,
        }
    }
}

/// One architecture to run, with its resolved options.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchitectureConfig {
    /// Which architecture.
    pub arch: Architecture,
    /// Its cache options (ignored by `ssr-nocache`).
    pub cache: CacheOptions,
    /// Bounds it must keep: `[thresholds]` with its own overrides applied.
    pub thresholds: Vec<Threshold>,
}

impl ArchitectureConfig {
    /// The topology it runs with (its key scope from its cache options).
    /// Resolve it once per run: it is `Copy`, and its answers are field
    /// reads.
    pub const fn topology(&self) -> crate::topology::Topology {
        crate::topology::Topology::of(self.arch, self.cache.key_scope)
    }
}

/// A measure a threshold can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Measure {
    WrongVariant,
    WrongVariantRate,
    Leak,
    LeakRate,
    StaleVariant,
    StaleVariantRate,
    StaleContent,
    StaleContentRate,
    Error,
    ErrorRate,
    Fallback,
    FallbackRate,
    Offload,
    HitRate,
    P50,
    P90,
    P99,
    P999,
    MaxLatency,
    StalenessP99,
}

/// What a measure counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count of responses.
    Count,
    /// A share in [0, 1].
    Rate,
    /// A duration.
    Duration,
}

impl Measure {
    /// Every measure, for lookups by name.
    pub const ALL: [Measure; 20] = [
        Measure::WrongVariant,
        Measure::WrongVariantRate,
        Measure::Leak,
        Measure::LeakRate,
        Measure::StaleVariant,
        Measure::StaleVariantRate,
        Measure::StaleContent,
        Measure::StaleContentRate,
        Measure::Error,
        Measure::ErrorRate,
        Measure::Fallback,
        Measure::FallbackRate,
        Measure::Offload,
        Measure::HitRate,
        Measure::P50,
        Measure::P90,
        Measure::P99,
        Measure::P999,
        Measure::MaxLatency,
        Measure::StalenessP99,
    ];

    /// The measure named `name` as in `[thresholds]` (and in a report's
    /// threshold checks, which `ttlab merge` evaluates again).
    pub fn parse(name: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Name as written in `[thresholds]`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Measure::WrongVariant => "wrong_variant",
            Measure::WrongVariantRate => "wrong_variant_rate",
            Measure::Leak => "leak",
            Measure::LeakRate => "leak_rate",
            Measure::StaleVariant => "stale_variant",
            Measure::StaleVariantRate => "stale_variant_rate",
            Measure::StaleContent => "stale_content",
            Measure::StaleContentRate => "stale_content_rate",
            Measure::Error => "error",
            Measure::ErrorRate => "error_rate",
            Measure::Fallback => "fallback",
            Measure::FallbackRate => "fallback_rate",
            Measure::Offload => "offload",
            Measure::HitRate => "hit_rate",
            Measure::P50 => "p50",
            Measure::P90 => "p90",
            Measure::P99 => "p99",
            Measure::P999 => "p999",
            Measure::MaxLatency => "max_latency",
            Measure::StalenessP99 => "staleness_p99",
        }
    }

    /// The unit of the measure's value.
    pub const fn unit(self) -> Unit {
        match self {
            Measure::WrongVariant
            | Measure::Leak
            | Measure::StaleVariant
            | Measure::StaleContent
            | Measure::Error
            | Measure::Fallback => Unit::Count,
            Measure::P50
            | Measure::P90
            | Measure::P99
            | Measure::P999
            | Measure::MaxLatency
            | Measure::StalenessP99 => Unit::Duration,
            _ => Unit::Rate,
        }
    }

    /// Whether more is better (offload, hit rate); a bare number bounds such a
    /// measure from below and every other measure from above.
    pub const fn higher_is_better(self) -> bool {
        matches!(self, Measure::Offload | Measure::HitRate)
    }
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Cmp {
    Le,
    Lt,
    Ge,
    Gt,
    Eq,
}

impl Cmp {
    /// The comparison written `op` (`<=`, `<`, `>=`, `>`, `==`), as a
    /// report's threshold checks carry it.
    pub fn parse(op: &str) -> Option<Cmp> {
        [Cmp::Le, Cmp::Lt, Cmp::Ge, Cmp::Gt, Cmp::Eq]
            .into_iter()
            .find(|c| c.as_str() == op)
    }

    /// As written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cmp::Le => "<=",
            Cmp::Lt => "<",
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
            Cmp::Eq => "==",
        }
    }

    /// Whether `value <op> bound` holds.
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Cmp::Le => value <= bound,
            Cmp::Lt => value < bound,
            Cmp::Ge => value >= bound,
            Cmp::Gt => value > bound,
            Cmp::Eq => (value - bound).abs() <= f64::EPSILON * bound.abs().max(1.0),
        }
    }
}

/// A bound on a measure. Durations are in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    /// What is bounded.
    pub measure: Measure,
    /// How.
    pub cmp: Cmp,
    /// The bound (seconds for durations).
    pub value: f64,
}

/// A sweep: one cache option, several values.
#[derive(Clone, Debug, PartialEq)]
pub enum Sweep {
    /// TTL values.
    Ttl(Vec<Micros>),
    /// Stale-while-revalidate values.
    StaleWhileRevalidate(Vec<Micros>),
    /// Stale-if-error values.
    StaleIfError(Vec<Micros>),
    /// Coalescing on/off.
    Coalesce(Vec<bool>),
    /// Purge on publish on/off.
    PurgeOnPublish(Vec<bool>),
    /// Entry bounds.
    MaxEntries(Vec<u64>),
    /// Key scopes.
    KeyScope(Vec<KeyScope>),
    /// Eviction policies.
    Eviction(Vec<Eviction>),
}

impl Sweep {
    /// The option's name.
    pub const fn option(&self) -> &'static str {
        match self {
            Sweep::Ttl(_) => "ttl",
            Sweep::StaleWhileRevalidate(_) => "stale_while_revalidate",
            Sweep::StaleIfError(_) => "stale_if_error",
            Sweep::Coalesce(_) => "coalesce",
            Sweep::PurgeOnPublish(_) => "purge_on_publish",
            Sweep::MaxEntries(_) => "max_entries",
            Sweep::KeyScope(_) => "key_scope",
            Sweep::Eviction(_) => "eviction",
        }
    }

    /// How many points.
    pub fn len(&self) -> usize {
        match self {
            Sweep::Ttl(v) | Sweep::StaleWhileRevalidate(v) | Sweep::StaleIfError(v) => v.len(),
            Sweep::Coalesce(v) | Sweep::PurgeOnPublish(v) => v.len(),
            Sweep::MaxEntries(v) => v.len(),
            Sweep::KeyScope(v) => v.len(),
            Sweep::Eviction(v) => v.len(),
        }
    }

    /// Whether there are no points (validation forbids it).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Point `i` as written, for labels.
    pub fn label(&self, i: usize) -> String {
        match self {
            Sweep::Ttl(v) | Sweep::StaleWhileRevalidate(v) | Sweep::StaleIfError(v) => {
                v[i].to_string()
            }
            Sweep::Coalesce(v) | Sweep::PurgeOnPublish(v) => v[i].to_string(),
            Sweep::MaxEntries(v) => v[i].to_string(),
            Sweep::KeyScope(v) => match v[i] {
                KeyScope::All => "all".to_owned(),
                KeyScope::Page => "page".to_owned(),
            },
            Sweep::Eviction(v) => v[i].name().to_owned(),
        }
    }

    /// Sets point `i` on a layer's options.
    pub fn apply(&self, i: usize, options: &mut CacheOptions) {
        match self {
            Sweep::Ttl(v) => options.ttl = v[i],
            Sweep::StaleWhileRevalidate(v) => options.stale_while_revalidate = v[i],
            Sweep::StaleIfError(v) => options.stale_if_error = v[i],
            Sweep::Coalesce(v) => options.coalesce = v[i],
            Sweep::PurgeOnPublish(v) => options.purge_on_publish = v[i],
            Sweep::MaxEntries(v) => options.max_entries = Some(v[i]),
            Sweep::KeyScope(v) => options.key_scope = v[i],
            Sweep::Eviction(v) => options.eviction = v[i],
        }
    }
}
