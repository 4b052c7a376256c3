//! What `ttlab` accepts: every subcommand, option and its help text.

// Doc comments here are the `--help` text, where Markdown backticks would show.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Measure what caching does to personalized server-side-rendered pages.
///
/// ttlab runs a scenario (visitors, Personalize experiences, content and a
/// timeline of changes) against mock Contentstack APIs and a reference SSR
/// origin under several cache architectures, and reports origin load, hit
/// rate per layer, stale and wrong variants, and latency.
#[derive(Debug, Parser)]
#[command(
    name = "ttlab",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario for real on loopback and judge every response.
    Run(RunArgs),
    /// Simulate a scenario on a virtual clock: hours of traffic in seconds.
    Sim(SimArgs),
    /// Run scenarios and gate on their thresholds (for CI): exit 1 on a breach.
    Check(CheckArgs),
    /// Compare two reports and flag what got worse beyond noise.
    Compare(CompareArgs),
    /// Name the cheapest option value a sweep found within the stale budget.
    Advise(AdviseArgs),
    /// Render a saved report as HTML, Markdown or JUnit XML.
    Report(ReportArgs),
    /// Add up the reports of several load machines (run --worker-id K --workers N) into one.
    Merge(MergeArgs),
    /// Check scenario files and print what each holds.
    Validate(ValidateArgs),
    /// List the scenarios ttlab ships, with the question each answers.
    Scenarios(ScenariosArgs),
    /// Print the JSON Schema of the scenario format (for editor completion).
    Schema(SchemaArgs),
    /// Print the Varnish configuration (VCL) of a scenario's CDN or edge cache, to adapt.
    Vcl(VclArgs),
    /// Print what runs ttlab past one machine (Kubernetes manifests).
    #[command(subcommand)]
    Deploy(DeployCommand),
    /// Serve parts of the lab on loopback for your own origin or SDKs to use.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Fit a scenario's [traffic] to a log, or write a scenario's traffic as a log.
    #[command(subcommand)]
    Traffic(TrafficCommand),
}

/// `ttlab traffic`.
#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Write a [traffic] table fitted to a log: rate, page popularity, sessions.
    Fit(TrafficFitArgs),
    /// Write the requests a scenario's traffic sends as a site's log, in time order.
    Log(TrafficLogArgs),
}

/// How a trace file is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// Common or combined log format (Apache, nginx, most CDNs).
    AccessLog,
    /// CSV with a header row.
    Csv,
    /// TSV with a header row.
    Tsv,
    /// One JSON object per line.
    Jsonl,
}

/// How a trace's time column is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceTimeUnit {
    /// Seconds (fractions allowed), e.g. Unix time.
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// RFC 3339 text.
    Rfc3339,
}

/// `ttlab traffic fit`.
#[derive(Debug, Args)]
#[command(
    after_help = "Reads plain, gzip or zstd files (told by their bytes). Lines that cannot be read are\n\
counted and named by number, and skipped; only a file with no good line is an error (exit 2).\n\
In an access log the visitor is the user field when it is set (`traffic log` writes the\n\
visitor's uid there), else the client address with the user agent.\n\
Examples:\n  \
ttlab traffic fit /var/log/nginx/access.log.gz\n  \
ttlab traffic fit trace.csv --time ts --time-unit ms --path url --visitor client -o traffic.toml"
)]
pub struct TrafficFitArgs {
    /// The access log or trace.
    #[arg(value_name = "LOG")]
    pub log: std::path::PathBuf,

    /// Its layout (default: by its name — .csv, .tsv, .jsonl/.ndjson — else an access log).
    #[arg(long, value_enum)]
    pub format: Option<TraceFormat>,

    /// Column (or JSON key) of the request time (CSV, TSV, JSON lines).
    #[arg(long, default_value = "time", value_name = "NAME")]
    pub time: String,

    /// How the time column is written.
    #[arg(long, value_enum, default_value = "s")]
    pub time_unit: TraceTimeUnit,

    /// Column of the path (or object id).
    #[arg(long, default_value = "path", value_name = "NAME")]
    pub path: String,

    /// Column of the visitor id; sessions need it (`--visitor ''`: none).
    #[arg(long, default_value = "visitor", value_name = "NAME")]
    pub visitor: String,

    /// Column of the response size, if any.
    #[arg(long, value_name = "NAME")]
    pub size: Option<String>,

    /// Width of a rate bucket.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    pub bucket: std::time::Duration,

    /// A visitor's pause longer than this ends its session.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub session_gap: std::time::Duration,

    /// Write the table to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// `ttlab traffic log`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every page view the scenario's load model sends, at the instant it sends it, with no\n\
server in the way (responses take no time): the visits of session_rate or arrival_rate with\n\
their pages a think time apart, each closed-loop user's pages, or the replayed trace. The\n\
same scenario gives the same file, byte for byte. The visitor's uid is in the access log's\n\
user field and in the visitor column of CSV, TSV and JSON lines, where `traffic fit` reads it.\n\
Examples:\n  \
ttlab traffic log quickstart | head\n  \
ttlab traffic log my.toml -o access.log.gz --start 2026-11-30T08:00:00Z\n  \
ttlab traffic log my.toml -o requests.csv && ttlab traffic fit requests.csv"
)]
pub struct TrafficLogArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,

    /// Write the log to FILE instead of stdout: gzip when it ends in .gz, zstd in .zst.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Its layout (default: by FILE's name — .csv, .tsv, .jsonl/.ndjson — else an access log).
    #[arg(long, value_enum)]
    pub format: Option<TraceFormat>,

    /// Wall-clock time of the run's start, RFC 3339. The default, the Unix epoch, makes
    /// CSV and JSON times the seconds from the start of the run.
    #[arg(long, value_name = "RFC3339", default_value = "1970-01-01T00:00:00Z")]
    pub start: String,
}

/// `ttlab serve`.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Mock Personalize Edge API and Delivery API for a scenario, until Ctrl-C.
    Mocks(ServeMocksArgs),
    /// The reference SSR origin of one architecture (with mocks unless given upstreams).
    Origin(ServeOriginArgs),
    /// Everything one architecture runs: mocks, origin, and its CDN or edge.
    Stack(ServeStackArgs),
    /// A CDN that follows HTTP caching (RFC 9111, 5861, 9213) in front of any origin.
    Cdn(ServeCdnArgs),
}

/// What `ttlab serve cdn` keys on beside the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CdnKey {
    /// The URL and the request fields each answer's Vary names (standard HTTP).
    Http,
    /// The URL only; Vary: Cookie is read as "no cookie matters" (ssr-cdn-shared's CDN).
    Url,
    /// The URL and the visitor cookie, cs-personalize-user-uid (ssr-cdn-user's CDN).
    Visitor,
}

/// `ttlab serve cdn`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every response says what the cache did (x-cache: cdn=HIT|STALE|MISS|BYPASS) and its Age.\n\
Purge: curl -X POST 'http://ADDR/_ttlab/purge?key=SURROGATE_KEY' or '?url=/path'.\n\
Counters: http://ADDR/_ttlab/metrics. Paths under /_ttlab/ are the CDN's own, never forwarded."
)]
pub struct ServeCdnArgs {
    /// The origin to forward to (repeatable: fills go to each in turn).
    #[arg(long, required = true, value_name = "URL")]
    pub upstream: Vec<String>,

    /// Address to listen on: an IP address, or `localhost` (127.0.0.1).
    /// The purge endpoint under /_ttlab/ has no authentication: keep it on
    /// loopback unless the network is yours alone.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    pub host: std::net::IpAddr,

    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// What the cache keys on beside the URL.
    #[arg(long, value_enum, default_value_t = CdnKey::Http)]
    pub key: CdnKey,

    /// Most entries held (least recently used out).
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_entries: u64,

    /// Guess a lifetime for answers with Last-Modified and no explicit one:
    /// this share of the time since Last-Modified (RFC 9111 section 4.2.2),
    /// at most a day. Off unless given.
    #[arg(long, value_name = "FRACTION", value_parser = parse_fraction)]
    pub heuristic: Option<f64>,

    /// Let every request fill on its own instead of waiting for the one
    /// fill of its key under way (the cache lock).
    #[arg(long)]
    pub no_coalesce: bool,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number; expected a share such as 0.1"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a share from 0 to 1"))
    }
}

/// `ttlab serve origin`.
#[derive(Debug, Args)]
#[command(
    after_help = "Without --personalize-url and --delivery-url, mock APIs for the scenario start too.\n\
Pages answer at the scenario's paths; send the visitor as the SDK's cookie:\n  \
curl -b cs-personalize-user-uid=UID http://ORIGIN/"
)]
pub struct ServeOriginArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(long, short, value_name = "FILE")]
    pub scenario: String,

    /// Architecture whose origin to serve (default: the scenario's first).
    #[arg(long, value_name = "NAME")]
    pub arch: Option<String>,

    /// Address to listen on: an IP address, or `localhost` (127.0.0.1).
    /// The control endpoints under /_ttlab/ have no authentication: keep
    /// it on loopback unless the network is yours alone.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    pub host: std::net::IpAddr,

    /// Personalize Edge API to use instead of starting mocks.
    #[arg(long, value_name = "URL", requires = "delivery_url")]
    pub personalize_url: Option<String>,

    /// Delivery API host to use instead of starting mocks.
    #[arg(long, value_name = "URL", requires = "personalize_url")]
    pub delivery_url: Option<String>,
}

/// `ttlab serve stack`.
#[derive(Debug, Args)]
#[command(
    after_help = "Send visitors to the printed entry URL, with the SDK's cookie:\n  \
curl -i -b cs-personalize-user-uid=UID ENTRY_URL/\n\
Every response says what each layer did (x-cache), its age, and what it was built from\n\
(x-ttlab-variants, x-ttlab-content). Counters: /metrics on every server."
)]
pub struct ServeStackArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(long, short, value_name = "FILE")]
    pub scenario: String,

    /// Architecture to serve (default: the scenario's first).
    #[arg(long, value_name = "NAME")]
    pub arch: Option<String>,

    /// Address to listen on: an IP address, or `localhost` (127.0.0.1).
    /// The control endpoints under /_ttlab/ have no authentication: keep
    /// it on loopback unless the network is yours alone.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    pub host: std::net::IpAddr,
}

/// `ttlab serve mocks`.
#[derive(Debug, Args)]
#[command(after_help = "Point the official SDKs at the printed URLs:\n  \
Personalize.setEdgeApiUrl(PERSONALIZE_URL)\n  \
contentstack.stack({ apiKey, deliveryToken, environment, host: '127.0.0.1', port: DELIVERY_PORT, insecure: true })\n\
Truth and control live under /_ttlab/ on both ports; counters at /metrics.")]
pub struct ServeMocksArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(long, short, value_name = "FILE")]
    pub scenario: String,

    /// Address to listen on: an IP address, or `localhost` (127.0.0.1).
    /// The control endpoints under /_ttlab/ have no authentication: keep
    /// it on loopback unless the network is yours alone.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    pub host: std::net::IpAddr,

    /// Port of the Personalize Edge API (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub personalize_port: u16,

    /// Port of the Delivery API (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub delivery_port: u16,

    /// Send entry-publish webhooks to this URL (repeatable).
    #[arg(long = "webhook", value_name = "URL")]
    pub webhooks: Vec<String>,

    /// Personalize project uid to accept.
    #[arg(long, default_value = "ttlab-project")]
    pub project_uid: String,

    /// Stack API key to accept.
    #[arg(long, default_value = "blt-ttlab-api-key")]
    pub api_key: String,

    /// Delivery token to accept.
    #[arg(long, default_value = "cs-ttlab-delivery-token")]
    pub delivery_token: String,

    /// Environment to accept.
    #[arg(long, default_value = "production")]
    pub environment: String,
}

/// `ttlab run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each architecture runs on its own mock APIs and servers on 127.0.0.1, one after another,\n\
for the scenario's duration, with the same visitors, sending the scenario's one load model as\n\
`ttlab sim` does: closed-loop users, or open-loop visits (session_rate, arrival_rate, trace) taken\n\
by a pool of goose users; a visit due while the whole pool is busy is dropped and counted, never\n\
sent late.\n\
Ctrl-C stops the run and still writes the report.\n\
Several load machines: run --worker-id 0 --workers 2 on one and --worker-id 1 --workers 2 on the\n\
other, then `ttlab merge` their report.json files.\n\
Your own app: --app starts it for each architecture (after that architecture's mocks, with\n\
TTLAB_* variables pointing at them and PORT), puts ttlab's CDN or edge in front of it and\n\
stops its whole process group afterwards; its output goes to app-<architecture>.log in the\n\
report folder. A scenario's [app] table says the same with more (url, ready, env).\n\
Example: ttlab run scenarios/quickstart.toml --arch ssr-cdn-shared,ssr-edge\n\
Example: ttlab run site.toml --app 'node server.mjs' --app-url 'http://127.0.0.1:{port}'"
)]
pub struct RunArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(value_name = "FILE")]
    pub scenario: String,

    /// Architectures to run, comma-separated (default: every one the scenario names).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub arch: Vec<String>,

    /// Folder for reports; each run writes FOLDER/<scenario>-<time>/report.json.
    #[arg(long, short, value_name = "FOLDER", default_value = "ttlab-reports")]
    pub out: std::path::PathBuf,

    /// Print only the report's path, not the summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// No live dashboard: a progress line a second, then the summary (the
    /// default when stdout is not a terminal).
    #[arg(long)]
    pub no_tui: bool,

    /// Judge your own origin at this URL instead of ttlab's architectures
    /// (point it at `ttlab serve mocks` for the same scenario, and give --mocks).
    #[arg(long, value_name = "URL", requires = "mocks", conflicts_with = "arch")]
    pub target: Option<String>,

    /// With --target: the Personalize URL that `ttlab serve mocks` printed.
    #[arg(long, value_name = "URL", requires = "target")]
    pub mocks: Option<String>,

    /// Start your own app with this command (`sh -c`, in the scenario's folder) for each
    /// architecture and judge it behind ttlab's CDN or edge (sets [app] command).
    #[arg(long, value_name = "CMD", conflicts_with = "target")]
    pub app: Option<String>,

    /// Where the app answers (default http://127.0.0.1:{port}, {port} being a free port
    /// also given in PORT); needs --app or an [app] table (sets [app] url).
    #[arg(long, value_name = "URL", conflicts_with = "target")]
    pub app_url: Option<String>,

    /// This load machine's number, 0..N: it runs the users u with u % N == K, each
    /// with the same visitors and pages as in a single run (needs --workers).
    /// Default: JOB_COMPLETION_INDEX when it is set (a Kubernetes Indexed Job's
    /// pod index; see `ttlab deploy k8s`).
    #[arg(long, value_name = "K", requires = "workers")]
    pub worker_id: Option<u32>,

    /// How many load machines share the users (needs --worker-id or
    /// JOB_COMPLETION_INDEX); merge their reports with `ttlab merge`.
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,

    /// Each user makes exactly N page views, and the run ends when all have, instead of
    /// after the scenario's duration: the same requests on every run.
    #[arg(long, value_name = "N")]
    pub page_views: Option<u32>,

    /// The CDN or edge cache of ssr-cdn-shared, ssr-cdn-user and ssr-edge: ttlab's own, or
    /// varnishd with VCL generated from the scenario (`ttlab vcl`; sets [cdn] engine).
    #[arg(long, value_name = "ENGINE", value_parser = ["ttlab", "varnish"], conflicts_with = "target")]
    pub cdn: Option<String>,

    /// Serve live metrics at http://ADDR/metrics while the run goes, for Prometheus
    /// (OpenMetrics text: per-architecture counters and latency histograms; a Grafana
    /// board is in docs/grafana-dashboard.json). Port 0 picks a free port; the URL is
    /// printed when the run starts. Example: 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR", conflicts_with = "target", value_parser = parse_listen_addr)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `ttlab merge`.
#[derive(Debug, Args)]
#[command(
    after_help = "The reports must come from one scenario, seed and set of architectures, run with\n\
--worker-id 0..N --workers N (and the same --page-views), one report per worker.\n\
Counters are summed and histograms added, so the merged percentiles are exact;\n\
thresholds are evaluated again on the merged numbers.\n\
Example: ttlab merge a/report.json b/report.json -o ttlab-reports"
)]
pub struct MergeArgs {
    /// The workers' reports (report.json, or the folders that hold them).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<std::path::PathBuf>,

    /// Folder for the merged report; writes FOLDER/<scenario>-merged-<time>/report.json.
    #[arg(long, short, value_name = "FOLDER", default_value = "ttlab-reports")]
    pub out: std::path::PathBuf,

    /// Print only the report's path, not the summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `ttlab sim`.
#[derive(Debug, Args)]
#[command(
    after_help = "The same scenario, cache rules, truth and checker as `ttlab run`, in virtual time:\n\
the scenario's one load model (closed-loop users, open sessions or requests at a rate or a\n\
curve, a replayed trace), the same visits as a real run. The same scenario and seed give the\n\
same report, byte for byte.\n\
Example: ttlab sim scenarios/geo-segments.toml --sweep ttl=0s,5s,30s,2m,10m"
)]
pub struct SimArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(value_name = "FILE")]
    pub scenario: String,

    /// Architectures to simulate, comma-separated (default: every one the scenario names).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub arch: Vec<String>,

    /// Vary one cache option: ttl=0s,5s,30s (also stale_while_revalidate, stale_if_error,
    /// coalesce, purge_on_publish, max_entries, key_scope). Default: the scenario's [sweep].
    #[arg(long, value_name = "OPTION=V1,V2,…")]
    pub sweep: Option<String>,

    /// Simulate only point I (0-based) of the sweep, so several machines can split it.
    /// Default: JOB_COMPLETION_INDEX when it is set and there is a sweep (a Kubernetes
    /// Indexed Job's pod index; see `ttlab deploy k8s`).
    #[arg(long, value_name = "I")]
    pub point: Option<u32>,

    /// Folder for reports; each run writes FOLDER/<scenario>-sim-<time>/report.json.
    #[arg(long, short, value_name = "FOLDER", default_value = "ttlab-reports")]
    pub out: std::path::PathBuf,

    /// Print only the report's path, not the summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// No live dashboard: a progress line a second, then the summary (the
    /// default when stdout is not a terminal).
    #[arg(long)]
    pub no_tui: bool,
}

/// `ttlab deploy`.
#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Print Kubernetes manifests: N load workers as an Indexed Job, a merge Job, Redis.
    K8s(DeployK8sArgs),
}

/// `ttlab deploy k8s`.
#[derive(Debug, Args)]
#[command(
    after_help = "Prints one YAML stream to apply with kubectl (nothing here talks to a cluster):\n\
- a ConfigMap holding the scenario file, and a ReadWriteMany volume claim for the reports;\n\
- with --target: an Indexed Job of --workers pods, pod K running\n  \
`ttlab run SCENARIO --target URL --mocks URL --workers N` (its worker id from\n  \
JOB_COMPLETION_INDEX), and a merge Job that waits for the N reports on the volume and\n  \
runs `ttlab merge` into NAME/merged;\n\
- without --mocks: `ttlab serve mocks` as a Deployment and Service (NAME-mocks, ports 7001\n  \
and 7002) for the target to call;\n\
- unless --no-redis: Redis as a Deployment and Service (NAME-redis:6379), the shared\n  \
store for the target's origin replicas ([cache] backend = \"redis\");\n\
- with --sweep: an Indexed Job with one pod per value, pod I running\n  \
`ttlab sim SCENARIO --sweep ... --point I`.\n\
The image is the one deploy/Dockerfile builds (the binary at /usr/local/bin/ttlab).\n\
The mocks' clock is the run's timeline: see deploy/README.md for the order to apply in.\n\
Example:\n  \
ttlab deploy k8s -s site.toml --image IMAGE --target URL --workers 8 | kubectl apply -f -"
)]
pub struct DeployK8sArgs {
    /// Scenario file, or the name of a shipped scenario (put whole into the ConfigMap;
    /// files it names, such as a trace, are not).
    #[arg(long, short, value_name = "FILE")]
    pub scenario: String,

    /// Container image holding ttlab (built from deploy/Dockerfile).
    #[arg(long, value_name = "IMAGE")]
    pub image: String,

    /// Prefix of every object's name, and the reports' folder on the volume.
    #[arg(long, default_value = "ttlab", value_name = "NAME", value_parser = parse_k8s_name)]
    pub name: String,

    /// The system to load (ttlab run --target), as the pods reach it.
    #[arg(long, value_name = "URL", requires = "workers")]
    pub target: Option<String>,

    /// How many load workers (pods of the Indexed Job).
    #[arg(long, value_name = "N", requires = "target", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub workers: Option<u32>,

    /// Personalize URL of the mocks the target calls (default: deploy `ttlab serve mocks`).
    #[arg(long, value_name = "URL", requires = "target")]
    pub mocks: Option<String>,

    /// Each worker's users make exactly N page views (ttlab run --page-views).
    #[arg(long, value_name = "N", requires = "target")]
    pub page_views: Option<u32>,

    /// Simulate this sweep split by point: OPTION=V1,V2,… as for ttlab sim --sweep.
    #[arg(long, value_name = "OPTION=V1,V2,…")]
    pub sweep: Option<String>,

    /// Leave Redis out (the target uses a Redis of its own).
    #[arg(long)]
    pub no_redis: bool,

    /// Storage class of the reports' volume; it must offer ReadWriteMany (default:
    /// the cluster's default class).
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,
}

/// An object name Kubernetes accepts (a DNS label) with room for the suffixes
/// ttlab adds (`-workers-merge` and the pod's own).
fn parse_k8s_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 30
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && !text.ends_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "\"{text}\" is not a name Kubernetes takes here: lowercase letters, digits and '-', starting with a letter, at most 30"
        ))
    }
}

/// `ttlab check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every threshold holds, 1 when any is breached, 2 on bad input.\n\
Example (CI): ttlab check scenarios/*.toml --junit junit.xml --markdown \"$GITHUB_STEP_SUMMARY\""
)]
pub struct CheckArgs {
    /// Scenario files, or names of shipped scenarios.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Run for real on loopback (goose) instead of simulating.
    #[arg(long)]
    pub real: bool,

    /// Write JUnit XML here: one test case per threshold per architecture.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<std::path::PathBuf>,

    /// Append a Markdown summary here (a pull-request comment, $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<std::path::PathBuf>,

    /// Folder for the reports of each scenario (JSON, HTML, Markdown, JUnit).
    #[arg(long, short, value_name = "FOLDER", default_value = "ttlab-reports")]
    pub out: std::path::PathBuf,
}

/// `ttlab compare`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when nothing regressed, 1 when something did, 2 on bad input.\n\
Shares are compared with a two-proportion z-test (3 standard errors, and at least 0.05 points);\n\
latency percentiles when 10% and 1 ms worse; wrong_variant or leak rising from zero always counts.\n\
A simulated report against a real one compares shares only (the simulator models latency).\n\
An architecture with no requests in either report is named and not compared."
)]
pub struct CompareArgs {
    /// The report to compare against (report.json).
    #[arg(value_name = "BASE")]
    pub base: std::path::PathBuf,

    /// The new report.
    #[arg(value_name = "NEW")]
    pub new: std::path::PathBuf,

    /// Compare reports of two different scenarios (refused by default: their
    /// measures differ by design, so a "regression" between them says nothing).
    #[arg(long)]
    pub any_scenario: bool,
}

/// `ttlab advise`.
#[derive(Debug, Args)]
#[command(
    after_help = "The budget is each architecture's stale_variant_rate and stale_content_rate\n\
thresholds when the scenario sets them, else --max-stale-rate.\n\
Example (one report; a fresh -o folder holds only this run's):\n\
  ttlab sim scenarios/geo-segments.toml --sweep ttl=5s,30s,2m,10m -o sweep\n\
  ttlab advise sweep/geo-segments-sim-*/report.json"
)]
pub struct AdviseArgs {
    /// A report with a sweep (ttlab sim --sweep).
    #[arg(value_name = "REPORT")]
    pub report: std::path::PathBuf,

    /// Stale share allowed (each of stale_variant and stale_content) where thresholds set none.
    #[arg(long, value_name = "SHARE", default_value_t = 0.01)]
    pub max_stale_rate: f64,
}

/// `ttlab report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A saved report (report.json).
    #[arg(value_name = "REPORT")]
    pub report: std::path::PathBuf,

    /// Write a self-contained HTML report (charts inline) here.
    #[arg(long, value_name = "PATH")]
    pub html: Option<std::path::PathBuf>,

    /// Write the Markdown summary here.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<std::path::PathBuf>,

    /// Write JUnit XML here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<std::path::PathBuf>,
}

/// `ttlab validate`.

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every file is valid, 2 when any is not.\n\
Example: ttlab validate scenarios/*.toml"
)]
pub struct ValidateArgs {
    /// Scenario files, or names of shipped scenarios (see `ttlab scenarios`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Print only problems, no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `ttlab scenarios`.
#[derive(Debug, Args)]
pub struct ScenariosArgs {
    /// Print the named scenario's file instead of the list.
    #[arg(value_name = "NAME")]
    pub show: Option<String>,
}

/// `ttlab schema`.
#[derive(Debug, Args)]
#[command(
    after_help = "For editor completion with taplo (Even Better TOML), write the schema beside\n\
your scenarios (ttlab schema -o ttlab.schema.json) and put at the top of each:\n\
#:schema ./ttlab.schema.json"
)]
pub struct SchemaArgs {
    /// Write the schema to this file instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// `ttlab vcl`.
#[derive(Debug, Args)]
#[command(
    after_help = "The VCL is what `ttlab run --cdn varnish` runs: the architecture's cache key, the scenario's \
windows (or the origin's headers under policy = \"http\"), stale-if-error, coalescing, purge on publish \
through xkey, and x-cache as ttlab writes it, each part commented. It needs Varnish 7.1 or later and \
varnish-modules (xkey). docs/cdn.md maps it to Fastly.\n\
Example: ttlab vcl quickstart --arch ssr-cdn-user --origin 127.0.0.1:3000 -o default.vcl"
)]
pub struct VclArgs {
    /// Scenario file, or the name of a shipped scenario.
    #[arg(value_name = "FILE")]
    pub scenario: String,

    /// The architecture whose cache Varnish is: ssr-cdn-shared, ssr-cdn-user or ssr-edge.
    #[arg(long, value_name = "NAME")]
    pub arch: String,

    /// The origin Varnish forwards to, HOST:PORT; repeat it for several (taken in turn).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub origin: Vec<String>,

    /// Write the VCL to this file instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// `--host`: an IP address, or `localhost` for 127.0.0.1 (a name that
/// resolves elsewhere is not guessed at).
fn parse_host(text: &str) -> Result<std::net::IpAddr, String> {
    if text.eq_ignore_ascii_case("localhost") {
        return Ok(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    }
    text.parse().map_err(|_| {
        format!("\"{text}\" is not an IP address or localhost; use e.g. 127.0.0.1 or ::1")
    })
}

/// `--metrics-addr`: `HOST:PORT`, the host as [`parse_host`] takes it
/// (`[::1]:PORT` for IPv6).
fn parse_listen_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    let bad = || {
        format!("\"{text}\" is not HOST:PORT; use e.g. 127.0.0.1:9464 (port 0 picks a free port)")
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip = parse_host(host).map_err(|e| format!("{}: {e}", bad()))?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok(std::net::SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::{parse_host, parse_listen_addr};

    #[test]
    fn a_listen_address_is_host_and_port() {
        for (text, addr) in [
            ("127.0.0.1:9464", "127.0.0.1:9464"),
            ("localhost:0", "127.0.0.1:0"),
            ("[::1]:9464", "[::1]:9464"),
            ("0.0.0.0:9464", "0.0.0.0:9464"),
        ] {
            assert_eq!(parse_listen_addr(text).unwrap().to_string(), addr, "{text}");
        }
        for text in [
            "9464",
            "127.0.0.1",
            "127.0.0.1:99999",
            "example.invalid:9464",
            ":9464",
        ] {
            let e = parse_listen_addr(text).unwrap_err();
            assert!(
                e.contains("is not HOST:PORT; use e.g. 127.0.0.1:9464"),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn a_host_is_an_address_or_localhost() {
        assert_eq!(parse_host("localhost").unwrap().to_string(), "127.0.0.1");
        assert_eq!(parse_host("LocalHost").unwrap().to_string(), "127.0.0.1");
        assert_eq!(parse_host("::1").unwrap().to_string(), "::1");
        assert_eq!(parse_host("0.0.0.0").unwrap().to_string(), "0.0.0.0");
        let e = parse_host("example.invalid").unwrap_err();
        assert!(e.contains("not an IP address or localhost"), "{e}");
    }
}
