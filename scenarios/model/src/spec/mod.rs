//! The scenario file as written: TOML types that mirror the format one to
//! one, with source spans where validation needs to point at a value.
//!
//! Nothing here is checked beyond TOML syntax and types: [`crate::validate`]
//! turns a [`ScenarioFile`] into a [`crate::Scenario`] and reports every rule
//! it breaks with file, line and column. Doc comments on these types become the
//! descriptions in `ttlab schema`, which editors show as completion help.
//! Every table denies unknown keys, so a typo is an error, not a silent default.

// The doc comments here are also the user-facing schema descriptions, where
// Markdown backticks would show literally.
#![allow(clippy::doc_markdown)]

mod values;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

pub use values::{
    BoundSpec, ByteSize, DistSpec, DistTable, HumanDuration, RateSpec, RateStage, RateStep,
    RateTable,
};

/// A whole scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ttlab scenario")]
pub struct ScenarioFile {
    /// Name, seed and length of the run.
    pub scenario: ScenarioMeta,
    /// Who visits, how often, and which pages.
    pub traffic: TrafficSpec,
    /// Visitor attributes that segmented experiences target.
    #[serde(default)]
    #[schemars(with = "Vec<AttributeSpec>")]
    pub attributes: Vec<Spanned<AttributeSpec>>,
    /// Personalize experiences, in priority order (the manifest's order).
    #[serde(default)]
    #[schemars(with = "Vec<ExperienceSpec>")]
    pub experiences: Vec<Spanned<ExperienceSpec>>,
    /// Pages and the entries they render.
    #[schemars(with = "ContentSpec")]
    pub content: Spanned<ContentSpec>,
    /// Changes during the run: attribute changes, experience changes, publishes.
    #[serde(default)]
    #[schemars(with = "Vec<TimelineSpec>")]
    pub timeline: Vec<Spanned<TimelineSpec>>,
    /// Latency and failures of the upstream APIs.
    #[serde(default)]
    pub faults: FaultsSpec,
    /// The origin's time budgets for its upstreams and its render cost.
    #[serde(default)]
    pub origin: OriginSpec,
    /// Cache options shared by every architecture that caches; each
    /// architecture may override them.
    #[schemars(with = "Option<CacheSpec>")]
    pub cache: Option<Spanned<CacheSpec>>,
    /// The architectures to run, one after another, on the same visitors.
    #[schemars(length(min = 1))]
    #[schemars(with = "Vec<ArchitectureSpec>")]
    pub architectures: Spanned<Vec<Spanned<ArchitectureSpec>>>,
    /// Bounds every architecture must keep; `ttlab check` turns them into a gate.
    #[serde(default)]
    pub thresholds: ThresholdsSpec,
    /// Vary one cache option over several values and compare the runs.
    #[schemars(with = "Option<SweepSpec>")]
    pub sweep: Option<Spanned<SweepSpec>>,
    /// The team's own app: `ttlab run` starts it for each architecture,
    /// pointed at that architecture's mocks, and puts ttlab's CDN or edge in
    /// front of it (or judges it as-is).
    #[schemars(with = "Option<AppSpec>")]
    pub app: Option<Spanned<AppSpec>>,
    /// Which software is the CDN or edge cache in real runs: ttlab's own
    /// model (default) or Varnish with VCL generated from the scenario.
    #[serde(default)]
    pub cdn: CdnSpec,
}

/// `[cdn]`: which software is the CDN or edge cache in real runs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CdnSpec {
    /// "ttlab" (default): ttlab's own CDN and edge; "varnish": varnishd
    /// (7.1 or later, with varnish-modules) runs the cache of ssr-cdn-shared,
    /// ssr-cdn-user and ssr-edge with VCL ttlab generates (`ttlab vcl`).
    /// Simulated runs model ttlab's cache whatever this says.
    #[schemars(with = "Option<CdnEngineSpec>")]
    pub engine: Option<Spanned<CdnEngineSpec>>,
}

/// The CDN engine's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CdnEngineSpec {
    /// ttlab's own CDN and edge.
    Ttlab,
    /// Varnish, with generated VCL.
    Varnish,
}

/// `[app]`: the team's own app. Every text but `command`, `dir` and `ready`
/// may hold placeholders: {api_key}, {delivery_token}, {environment},
/// {project_uid}, {personalize_url}, {delivery_url}, {delivery_host},
/// {delivery_port}, {port}, {locale}.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// The command that starts the app, run with `sh -c` in its own process
    /// group, e.g. "node server.mjs" or "npm start".
    #[schemars(with = "String")]
    pub command: Spanned<String>,
    /// The folder it runs in, relative to the scenario file (default: the
    /// scenario's folder).
    #[schemars(with = "Option<String>")]
    pub dir: Option<Spanned<String>>,
    /// Where it answers (default "http://127.0.0.1:{port}"; {port} is a free
    /// port ttlab picked, also in the PORT variable).
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// The path polled until the app answers with any status below 500
    /// (default "/").
    #[schemars(with = "Option<String>")]
    pub ready: Option<Spanned<String>>,
    /// How long the app may take to answer `ready` (default "30s").
    #[schemars(with = "Option<HumanDuration>")]
    pub ready_timeout: Option<Spanned<HumanDuration>>,
    /// The query parameter ttlab's edge passes the visitor's variants in,
    /// as the Personalize SDK's getVariantParam() writes them (default
    /// "personalize_variants").
    #[schemars(with = "Option<String>")]
    pub variant_param: Option<Spanned<String>>,
    /// More environment variables for the app, each a text with
    /// placeholders, e.g. CONTENTSTACK_API_KEY = "{api_key}". The app always
    /// gets TTLAB_API_KEY, TTLAB_DELIVERY_TOKEN, TTLAB_ENVIRONMENT,
    /// TTLAB_PROJECT_UID, TTLAB_PERSONALIZE_URL, TTLAB_DELIVERY_URL,
    /// TTLAB_DELIVERY_HOST, TTLAB_DELIVERY_PORT, TTLAB_LOCALE and PORT.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// `[scenario]`: name, seed and length of the run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioMeta {
    /// Short name, used in report folder names.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// One line saying what question the scenario answers.
    #[serde(default)]
    pub description: String,
    /// Seed of every random draw: the same seed gives the same world and traffic.
    pub seed: u64,
    /// Length of the run (real or simulated time).
    #[schemars(with = "HumanDuration")]
    pub duration: Spanned<HumanDuration>,
    /// The first part of the run, which fills the caches: kept in the
    /// per-second series (marked), left out of headline measures and
    /// thresholds, in simulated and real runs alike. Default none.
    #[schemars(with = "Option<HumanDuration>")]
    pub warmup: Option<Spanned<HumanDuration>>,
}

/// Page popularity model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PopularitySpec {
    /// Every page equally likely.
    #[default]
    Uniform,
    /// Page of rank k (in content order) with weight 1/k^s; set `zipf_s`.
    Zipf,
}

/// `[traffic]`: who visits, how often, which pages. Exactly one load model:
/// `users` (closed loop), `session_rate` (open sessions), `arrival_rate`
/// (open single requests) or `trace` (replay).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// Distinct visitors (people) in the population.
    #[schemars(with = "u32", range(min = 1, max = crate::bounds::MAX_VISITORS))]
    pub visitors: Spanned<u32>,
    /// Closed loop: concurrent users, each browsing sessions of one visitor at
    /// a time with think time between pages. The server's speed sets the
    /// rate; use it to find how many users a system holds.
    #[schemars(with = "Option<u32>", range(min = 1, max = crate::bounds::MAX_USERS))]
    pub users: Option<Spanned<u32>>,
    /// Open loop: visitor sessions started per second (Poisson), each
    /// browsing `pages_per_session` pages with `think_time` between them;
    /// visitors come whether or not the server keeps up, as on a real site.
    #[schemars(with = "Option<RateSpec>")]
    pub session_rate: Option<Spanned<RateSpec>>,
    /// Open loop: single page requests per second (Poisson), each from a
    /// visitor drawn from the population.
    #[schemars(with = "Option<RateSpec>")]
    pub arrival_rate: Option<Spanned<RateSpec>>,
    /// Replay a trace file (CSV, TSV, JSON lines, or a common/combined
    /// access log; plain, gzip or zstd), relative to the scenario's folder.
    #[schemars(with = "Option<String>")]
    pub trace: Option<Spanned<String>>,
    /// The trace's format: "csv", "tsv", "jsonl" or "access-log"; by
    /// default from the file's extension (past .gz or .zst).
    #[schemars(with = "Option<String>")]
    pub trace_format: Option<Spanned<String>>,
    /// Which CSV/TSV column or JSON key holds what.
    #[schemars(with = "Option<TraceColumnsSpec>")]
    pub trace_columns: Option<Spanned<TraceColumnsSpec>>,
    /// Trace time runs this many times faster in the run (default 1).
    #[schemars(with = "Option<f64>")]
    pub speed: Option<Spanned<f64>>,
    /// Pause between two pages of a session (closed loop, open sessions).
    #[schemars(with = "Option<DistSpec>")]
    pub think_time: Option<Spanned<DistSpec>>,
    /// Pages a visitor views in one session (closed loop, open sessions). Default 1.
    #[schemars(with = "Option<u32>")]
    pub pages_per_session: Option<Spanned<u32>>,
    /// Open loop, real runs: goose users that take arrivals. An arrival that
    /// finds them all busy is dropped and counted. Default: derived from
    /// the peak rate and the length of a session.
    #[schemars(with = "Option<u32>", range(min = 1, max = crate::bounds::MAX_USERS))]
    pub pool: Option<Spanned<u32>>,
    /// Page popularity: "uniform" (default) or "zipf". Not with `trace`,
    /// whose requests name their pages.
    #[schemars(with = "Option<PopularitySpec>")]
    pub popularity: Option<Spanned<PopularitySpec>>,
    /// Zipf exponent s (with popularity = "zipf"); default 1.0.
    #[schemars(with = "Option<f64>")]
    pub zipf_s: Option<Spanned<f64>>,
}

/// `trace_columns`: the trace's column (or JSON key) names.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceColumnsSpec {
    /// When the request came (default "time").
    pub time: Option<String>,
    /// How the time is written: "s" (default), "ms", "us" or "rfc3339".
    pub time_unit: Option<String>,
    /// The path or object id (default "path").
    pub path: Option<String>,
    /// The visitor id (default "visitor"; "" for none).
    pub visitor: Option<String>,
    /// The response size in bytes (default none).
    pub size: Option<String>,
}

/// `[[attributes]]`: one visitor attribute and how its values are distributed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    /// Attribute name as the Personalize API sees it (e.g. "country").
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Each value with its relative weight, e.g. { US = 50, DE = 30, FR = 20 }.
    #[schemars(with = "BTreeMap<String, f64>")]
    pub values: Spanned<BTreeMap<String, Spanned<f64>>>,
}

/// Kind of a Personalize experience.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExperienceKind {
    /// A/B test: visitors split across variants by a stable hash.
    Ab,
    /// Segmented: the first variant whose audience matches the visitor.
    Segmented,
}

/// `[[experiences]]`: one Personalize experience.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperienceSpec {
    /// Short uid as Contentstack writes it: "0", "1", "a", ...
    #[schemars(with = "String")]
    pub uid: Spanned<String>,
    /// Human name, for reports.
    #[serde(default)]
    pub name: String,
    /// "ab" or "segmented".
    #[serde(rename = "type")]
    #[schemars(with = "ExperienceKind")]
    pub kind: Spanned<ExperienceKind>,
    /// Tags, for the manifest's `tags[]` filter.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether the experience runs from the start (default true).
    #[serde(default = "yes")]
    pub active: bool,
    /// A/B: percentage of visitors per variant short uid; sums to 100.
    #[schemars(with = "Option<BTreeMap<String, f64>>")]
    pub splits: Option<Spanned<BTreeMap<String, Spanned<f64>>>>,
    /// A/B: only visitors in this audience take part (default: everyone).
    #[schemars(with = "Option<AudienceSpec>")]
    pub audience: Option<Spanned<AudienceSpec>>,
    /// Segmented: variants in order; the first whose audience matches wins.
    #[serde(default)]
    #[schemars(with = "Vec<SegmentSpec>")]
    pub variants: Vec<Spanned<SegmentSpec>>,
    /// With `[content] export`: every entry of these content types has a
    /// variant for each variant of this experience.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub content_types: Vec<Spanned<String>>,
    /// With `[content] export`: these entries (by uid) have a variant for
    /// each variant of this experience.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub entries: Vec<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// `[[experiences.variants]]`: a variant of a segmented experience.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    /// Variant short uid: "0", "1", ...
    #[schemars(with = "String")]
    pub uid: Spanned<String>,
    /// Human name, for reports.
    #[serde(default)]
    pub name: String,
    /// Who gets this variant.
    #[schemars(with = "AudienceSpec")]
    pub audience: Spanned<AudienceSpec>,
}

/// An audience rule over visitor attributes. Exactly one form:
/// `{ attribute = "country", in = ["DE", "AT"] }`,
/// `{ attribute = "plan", not_in = ["free"] }`,
/// `{ all = [rule, ...] }` or `{ any = [rule, ...] }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceSpec {
    /// Attribute the condition tests.
    #[schemars(with = "Option<String>")]
    pub attribute: Option<Spanned<String>>,
    /// The attribute has one of these values.
    #[serde(rename = "in")]
    #[schemars(with = "Option<Vec<String>>")]
    pub is_in: Option<Vec<Spanned<String>>>,
    /// The attribute has none of these values.
    #[schemars(with = "Option<Vec<String>>")]
    pub not_in: Option<Vec<Spanned<String>>>,
    /// Every rule holds.
    #[schemars(with = "Option<Vec<AudienceSpec>>")]
    pub all: Option<Vec<Spanned<AudienceSpec>>>,
    /// At least one rule holds.
    #[schemars(with = "Option<Vec<AudienceSpec>>")]
    pub any: Option<Vec<Spanned<AudienceSpec>>>,
}

/// `[content]`: pages and the entries they render.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentSpec {
    /// Locale of every entry (default: the export's master locale, else "en-us").
    pub locale: Option<String>,
    /// A Contentstack CLI stack export (folder or `.zip`, relative to the
    /// scenario file) whose entries the mock Delivery API serves in their
    /// full shapes; its entries replace `[[content.entries]]`.
    #[schemars(with = "Option<String>")]
    pub export: Option<Spanned<String>>,
    /// Entries, each with the experiences it has variants for.
    #[serde(default)]
    #[schemars(with = "Vec<EntrySpec>")]
    pub entries: Vec<Spanned<EntrySpec>>,
    /// Pages, each rendering a list of entries.
    #[serde(default)]
    #[schemars(with = "Vec<PageSpec>")]
    pub pages: Vec<Spanned<PageSpec>>,
    /// Generated families of similar pages (a product catalogue, say).
    #[serde(default)]
    #[schemars(with = "Vec<PageSetSpec>")]
    pub page_sets: Vec<Spanned<PageSetSpec>>,
}

/// `[[content.entries]]`: one entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntrySpec {
    /// Entry uid.
    #[schemars(with = "String")]
    pub uid: Spanned<String>,
    /// Content type uid.
    pub content_type: String,
    /// Variants this entry has: an experience uid ("0": every variant of it)
    /// or one variant as "experience_variant" ("0_1").
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub variants_for: Vec<Spanned<String>>,
}

/// `[[content.pages]]`: one page.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageSpec {
    /// URL path, starting with "/".
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// Uids of the entries the page renders, in order.
    #[schemars(with = "Vec<String>")]
    pub entries: Vec<Spanned<String>>,
    /// The page greets the visitor by identity (a per-visitor fragment), so
    /// serving it to someone else is a leak.
    #[serde(default)]
    pub visitor_fragment: bool,
}

/// `[[content.page_sets]]`: `count` generated pages, each with its own entries.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageSetSpec {
    /// Path pattern with `{i}` for the page number (0-based): "/products/{i}".
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// How many pages.
    #[schemars(with = "u32", range(min = 1, max = crate::bounds::MAX_PAGES))]
    pub count: Spanned<u32>,
    /// Content type of the generated entries; entry uids are
    /// "<content_type>_<i>_<k>".
    pub content_type: String,
    /// Entries per page (default 1).
    #[schemars(with = "Option<u32>")]
    pub entries_per_page: Option<Spanned<u32>>,
    /// Variants the first `variant_entries` entries of each page have (as in
    /// `[[content.entries]]`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub variants_for: Vec<Spanned<String>>,
    /// How many entries of each page carry `variants_for` (default 1).
    #[schemars(with = "Option<u32>")]
    pub variant_entries: Option<Spanned<u32>>,
    /// Shared entries every page of the set also renders (a header, say).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub shared_entries: Vec<Spanned<String>>,
}

/// What a timeline rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionSpec {
    /// Visitors' attribute values change (`fraction` at a time, a `rate`, or
    /// each visitor every `mean_interval`).
    AttributeChange,
    /// An experience starts.
    Activate,
    /// An experience stops: nobody gets its variants.
    Deactivate,
    /// An A/B experience's splits change.
    SetSplits,
    /// Entries are published (`entry`, `entries`, or a `rate` over all).
    Publish,
    /// The Redis cache store is cut off `at` a time for `duration`.
    StoreOutage,
}

/// `[[timeline]]`: a change during the run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineSpec {
    /// What happens.
    #[schemars(with = "ActionSpec")]
    pub action: Spanned<ActionSpec>,
    /// When (for one-off changes).
    #[schemars(with = "Option<HumanDuration>")]
    pub at: Option<Spanned<HumanDuration>>,
    /// Start of a recurring change (default: start of the run).
    #[schemars(with = "Option<HumanDuration>")]
    pub from: Option<Spanned<HumanDuration>>,
    /// End of a recurring change (default: end of the run).
    #[schemars(with = "Option<HumanDuration>")]
    pub until: Option<Spanned<HumanDuration>>,
    /// store_outage: how long the store stays cut off from `at`.
    #[schemars(with = "Option<HumanDuration>")]
    pub duration: Option<Spanned<HumanDuration>>,
    /// Events per second across the whole population (Poisson).
    #[schemars(with = "Option<f64>")]
    pub rate: Option<Spanned<f64>>,
    /// attribute_change: each visitor changes about this often (Poisson).
    #[schemars(with = "Option<HumanDuration>")]
    pub mean_interval: Option<Spanned<HumanDuration>>,
    /// attribute_change at `at`: the share of visitors that change at once.
    #[schemars(with = "Option<f64>")]
    pub fraction: Option<Spanned<f64>>,
    /// attribute_change: which attribute.
    #[schemars(with = "Option<String>")]
    pub attribute: Option<Spanned<String>>,
    /// attribute_change: the new value (default: drawn from the attribute's
    /// distribution, never the current value).
    #[schemars(with = "Option<String>")]
    pub value: Option<Spanned<String>>,
    /// activate / deactivate / set_splits: the experience uid.
    #[schemars(with = "Option<String>")]
    pub experience: Option<Spanned<String>>,
    /// set_splits: the new percentages per variant.
    #[schemars(with = "Option<BTreeMap<String, f64>>")]
    pub splits: Option<Spanned<BTreeMap<String, Spanned<f64>>>>,
    /// publish: one entry uid.
    #[schemars(with = "Option<String>")]
    pub entry: Option<Spanned<String>>,
    /// publish: several entry uids (with `at`), or the pool a `rate` draws from.
    #[schemars(with = "Option<Vec<String>>")]
    pub entries: Option<Vec<Spanned<String>>>,
    /// publish: only this variant of the entry ("0_1"); default the base
    /// entry, which every variant inherits from.
    #[schemars(with = "Option<String>")]
    pub variant: Option<Spanned<String>>,
}

/// `[faults]`: per upstream.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultsSpec {
    /// The Personalize Edge API.
    #[serde(default)]
    pub personalize: UpstreamFaultsSpec,
    /// The Delivery API.
    #[serde(default)]
    pub delivery: UpstreamFaultsSpec,
}

/// Latency and failures of one upstream.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFaultsSpec {
    /// Response latency (default none).
    #[schemars(with = "Option<DistSpec>")]
    pub latency: Option<Spanned<DistSpec>>,
    /// Share of requests answered with `error_status`.
    #[schemars(with = "Option<f64>")]
    pub error_rate: Option<Spanned<f64>>,
    /// Status of injected errors (default 503).
    #[schemars(with = "Option<u16>")]
    pub error_status: Option<Spanned<u16>>,
    /// Share of requests that hang past any client budget.
    #[schemars(with = "Option<f64>")]
    pub timeout_rate: Option<Spanned<f64>>,
    /// Rate limiting with 429 and Retry-After.
    #[schemars(with = "Option<RateLimitSpec>")]
    pub rate_limit: Option<Spanned<RateLimitSpec>>,
    /// Windows in which the upstream fails harder.
    #[serde(default)]
    #[schemars(with = "Vec<OutageSpec>")]
    pub outages: Vec<Spanned<OutageSpec>>,
}

/// Rate limiting: a preset, or a rate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// "contentstack-delivery": 80 cache-miss requests per second, as the real
    /// Delivery API limits an organization.
    pub preset: Option<String>,
    /// Requests allowed per second.
    #[schemars(with = "Option<f64>")]
    pub requests_per_second: Option<Spanned<f64>>,
    /// Burst above the rate (default: one second's worth).
    #[schemars(with = "Option<u32>")]
    pub burst: Option<Spanned<u32>>,
}

/// A window in which an upstream fails.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutageSpec {
    /// Start of the window.
    #[schemars(with = "HumanDuration")]
    pub from: Spanned<HumanDuration>,
    /// End of the window.
    #[schemars(with = "HumanDuration")]
    pub until: Spanned<HumanDuration>,
    /// Share of requests failing in the window (default 1.0).
    #[schemars(with = "Option<f64>")]
    pub error_rate: Option<Spanned<f64>>,
    /// Status of the failures (default 503), unless `timeout`.
    #[schemars(with = "Option<u16>")]
    pub error_status: Option<Spanned<u16>>,
    /// Failures hang instead of answering.
    #[serde(default)]
    pub timeout: bool,
}

/// `[origin]`: the SSR origin's budgets and costs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginSpec {
    /// How long the origin waits for Personalize before rendering base
    /// content (default "200ms").
    #[schemars(with = "Option<HumanDuration>")]
    pub personalize_timeout: Option<Spanned<HumanDuration>>,
    /// How long the origin waits for Delivery (default "2s").
    #[schemars(with = "Option<HumanDuration>")]
    pub delivery_timeout: Option<Spanned<HumanDuration>>,
    /// Time to render a page, for simulated runs (default "2ms").
    #[schemars(with = "Option<DistSpec>")]
    pub render_time: Option<Spanned<DistSpec>>,
}

/// Key scope for variant keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyScopeSpec {
    /// Every alias the visitor has (as the SDK's variant param carries).
    All,
    /// Only aliases of experiences the page's entries have variants for.
    Page,
}

/// Where a caching layer takes its lifetimes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CachePolicySpec {
    /// From the scenario's `ttl`, `stale_while_revalidate` and
    /// `stale_if_error` (default).
    Scenario,
    /// From the origin's response headers, as a CDN does: the origin states
    /// the scenario's windows in `Cache-Control` and the layers follow them.
    Http,
}

/// Eviction policy of a bounded cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EvictionSpec {
    /// Least recently used (default).
    Lru,
    /// First in, first out.
    Fifo,
    /// FIFO with a second chance for entries read.
    Clock,
    /// SIEVE: a hand sweeping old to new spares entries read.
    Sieve,
    /// S3-FIFO: small and main FIFO queues with a ghost queue.
    #[serde(rename = "s3-fifo")]
    S3Fifo,
    /// W-TinyLFU: an LRU window and a frequency-admitted segmented LRU.
    #[serde(rename = "w-tinylfu")]
    WTinyLfu,
}

impl From<EvictionSpec> for crate::model::Eviction {
    fn from(e: EvictionSpec) -> Self {
        use crate::model::Eviction;
        match e {
            EvictionSpec::Lru => Eviction::Lru,
            EvictionSpec::Fifo => Eviction::Fifo,
            EvictionSpec::Clock => Eviction::Clock,
            EvictionSpec::Sieve => Eviction::Sieve,
            EvictionSpec::S3Fifo => Eviction::S3Fifo,
            EvictionSpec::WTinyLfu => Eviction::WTinyLfu,
        }
    }
}

/// Cache backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendSpec {
    /// In-process memory (default).
    Memory,
    /// A Redis server shared by origin replicas (`redis_url`).
    Redis,
}

/// Cache options of a caching layer. In `[cache]` they are defaults; in an
/// architecture's `cache` table they override those.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// How long a stored page is fresh (default "30s").
    pub ttl: Option<HumanDuration>,
    /// After the TTL, serve stale while one background refresh runs (default "0s").
    pub stale_while_revalidate: Option<HumanDuration>,
    /// After the TTL, serve stale when the upstream fails (default "0s").
    pub stale_if_error: Option<HumanDuration>,
    /// One upstream fill per key at a time (default true).
    pub coalesce: Option<bool>,
    /// Drop entries tagged with a published entry on the publish webhook (default false).
    pub purge_on_publish: Option<bool>,
    /// Most entries held (default unbounded).
    #[schemars(with = "Option<u64>", range(min = 1, max = crate::bounds::MAX_CACHE_ENTRIES))]
    pub max_entries: Option<Spanned<u64>>,
    /// Most bytes held (default unbounded).
    pub max_bytes: Option<ByteSize>,
    /// Eviction policy when bounded (default "lru").
    pub eviction: Option<EvictionSpec>,
    /// "memory" (default) or "redis".
    pub backend: Option<BackendSpec>,
    /// Redis URL with backend = "redis".
    pub redis_url: Option<String>,
    /// Origin replicas in real runs (default 1): visitors are spread over
    /// them, or a CDN / edge takes them in turn. More than one needs
    /// backend = "redis", so they share one cache. Simulated runs model one.
    // 16: `validate::options::MAX_ORIGIN_REPLICAS`.
    #[schemars(with = "Option<u32>", range(min = 1, max = 16))]
    pub origin_replicas: Option<Spanned<u32>>,
    /// Variant keys: "all" aliases (default) or only the "page"'s.
    pub key_scope: Option<KeyScopeSpec>,
    /// Where the CDN and edge take lifetimes from: the "scenario"'s
    /// windows (default) or the origin's "http" headers.
    pub policy: Option<CachePolicySpec>,
}

/// `[[architectures]]`: one architecture to run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchitectureSpec {
    /// One of: ssr-nocache, ssr-cdn-shared, ssr-cdn-user, ssr-origin-variant,
    /// ssr-edge; with [app]: ssr-cdn-shared, ssr-cdn-user, ssr-edge or as-is.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Overrides of `[cache]` for this architecture.
    #[schemars(with = "Option<CacheSpec>")]
    pub cache: Option<Spanned<CacheSpec>>,
    /// Overrides of `[thresholds]` for this architecture.
    pub thresholds: Option<ThresholdsSpec>,
}

/// `[thresholds]`: bounds on measures. Counts and rates of the response
/// classes, offload and hit rate, latency percentiles and staleness.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ThresholdsSpec {
    #[schemars(with = "Option<BoundSpec>")]
    pub wrong_variant: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub wrong_variant_rate: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub leak: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub leak_rate: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub stale_variant: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub stale_variant_rate: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub stale_content: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub stale_content_rate: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub error: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub error_rate: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub fallback: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub fallback_rate: Option<Spanned<BoundSpec>>,
    /// 1 − origin requests / visitor requests.
    #[schemars(with = "Option<BoundSpec>")]
    pub offload: Option<Spanned<BoundSpec>>,
    /// Hit rate of the architecture's caching layer (hits + stale served).
    #[schemars(with = "Option<BoundSpec>")]
    pub hit_rate: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub p50: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub p90: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub p99: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub p999: Option<Spanned<BoundSpec>>,
    #[schemars(with = "Option<BoundSpec>")]
    pub max_latency: Option<Spanned<BoundSpec>>,
    /// 99th percentile of how long after the truth changed a stale response was served.
    #[schemars(with = "Option<BoundSpec>")]
    pub staleness_p99: Option<Spanned<BoundSpec>>,
}

/// `[sweep]`: exactly one cache option with the values to try, e.g.
/// `ttl = ["0s", "5s", "30s", "2m"]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SweepSpec {
    pub ttl: Option<Vec<HumanDuration>>,
    pub stale_while_revalidate: Option<Vec<HumanDuration>>,
    pub stale_if_error: Option<Vec<HumanDuration>>,
    pub coalesce: Option<Vec<bool>>,
    pub purge_on_publish: Option<Vec<bool>>,
    #[schemars(with = "Option<Vec<u64>>")]
    pub max_entries: Option<Vec<Spanned<u64>>>,
    pub key_scope: Option<Vec<KeyScopeSpec>>,
    pub eviction: Option<Vec<EvictionSpec>>,
}
