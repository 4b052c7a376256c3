//! `ttlab run --metrics-addr`: a real run's live metrics, scraped while it
//! goes — by the test itself (OpenMetrics text, counters that only grow,
//! one architecture running at a time) and by a real Prometheus, against
//! which every query of the Grafana board in `docs/grafana-dashboard.json`
//! is then evaluated: each gives data for each architecture of the run.
//!
//! Needs `prometheus` on the PATH (`scripts/test.sh` installs Debian's).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ttlab_test_support::process::{Lines, fresh_dir};
use ttlab_test_support::wait::wait_for;

/// Run one after the other, as `ttlab run` does.
const ARCHS: [&str; 2] = ["ssr-cdn-user", "ssr-cdn-shared"];

/// The shipped quickstart, 8 s per architecture.
fn scenario(dir: &Path) -> PathBuf {
    let quickstart = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quickstart.toml"),
    )
    .expect("the shipped quickstart");
    let eight = quickstart.replace("duration = \"5s\"", "duration = \"8s\"");
    assert_ne!(eight, quickstart, "quickstart has a 5 s duration line");
    let file = dir.join("live.toml");
    std::fs::write(&file, eight).expect("write the scenario");
    file
}

/// A Prometheus of its own on loopback, scraping every second whatever
/// target [`Prometheus::scrape`] names (file service discovery, so it can
/// start before the target's port is known); stopped on drop.
struct Prometheus {
    child: Child,
    url: String,
    targets: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path) -> Prometheus {
        let targets = dir.join("targets.json");
        std::fs::write(&targets, "[]").unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: ttlab\n    file_sd_configs:\n      - files: ['{}']\n",
                targets.display()
            ),
        )
        .unwrap();
        // Prometheus cannot report a port it chose: take a free one.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("prometheus does not start ({e}): install it (scripts/test.sh does)")
            });
        let url = format!("http://127.0.0.1:{port}");
        let ready = format!("{url}/-/ready");
        let mut p = Prometheus {
            child,
            url,
            targets,
        };
        wait_for(Duration::from_secs(60), "Prometheus ready", || {
            assert!(
                p.child.try_wait().unwrap().is_none(),
                "prometheus exited at start"
            );
            get(&ready).filter(|(status, _, _)| *status == 200)
        });
        p
    }

    /// Scrapes `addr` from now on.
    fn scrape(&self, addr: &str) {
        let next = self.targets.with_extension("json.new");
        std::fs::write(&next, format!("[{{\"targets\": [\"{addr}\"]}}]")).unwrap();
        std::fs::rename(&next, &self.targets).unwrap();
    }

    /// `query` evaluated each second from `start` to `end` (Unix seconds):
    /// each series' labels and values.
    fn range(&self, query: &str, start: u64, end: u64) -> Vec<(serde_json::Value, Vec<f64>)> {
        let url = format!(
            "{}/api/v1/query_range?query={}&start={start}&end={end}&step=1",
            self.url,
            percent(query)
        );
        let (status, _, body) = get(&url).unwrap_or_else(|| panic!("GET {url}"));
        let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(status, 200, "{query}: {body}");
        answer["data"]["result"]
            .as_array()
            .expect("a matrix")
            .iter()
            .map(|s| {
                let values = s["values"]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|v| v[1].as_str().expect("a number").parse().expect("a float"))
                    .collect();
                (s["metric"].clone(), values)
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query for a URL.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// GET `url`: status, content type and body; `None` when nothing answers.
fn get(url: &str) -> Option<(u16, String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let answer = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?;
        let status = answer.status().as_u16();
        let kind = answer
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Some((status, kind, answer.text().await.ok()?))
    })
}

/// Every sample of an OpenMetrics text, by series (name and labels as
/// written). Panics on a line that is neither a sample nor a descriptor,
/// and when the text does not end in `# EOF`, as OpenMetrics requires.
fn samples(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end:\n{text}");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                ["HELP ", "TYPE ", "UNIT "]
                    .iter()
                    .any(|k| comment.starts_with(k))
                    || comment == "EOF",
                "not a descriptor: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        assert!(series.starts_with("ttlab_"), "not ttlab's: {line}");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|e| panic!("{line}: the value: {e}"));
        assert!(
            out.insert(series.to_owned(), value).is_none(),
            "twice: {series}"
        );
    }
    out
}

fn scrape(url: &str) -> BTreeMap<String, f64> {
    let (status, kind, body) = get(url).unwrap_or_else(|| panic!("nothing answers at {url}"));
    assert_eq!(status, 200, "{url}: {body}");
    assert!(
        kind.starts_with("application/openmetrics-text; version=1.0.0"),
        "{url}: content type {kind}"
    );
    samples(&body)
}

/// Whether the gauge marks `arch` running (1) rather than not (0).
fn running(s: &BTreeMap<String, f64>, arch: &str) -> bool {
    s[&format!("ttlab_architecture_running{{arch=\"{arch}\"}}")] > 0.5
}

fn responses(s: &BTreeMap<String, f64>, arch: &str) -> f64 {
    s.iter()
        .filter(|(k, _)| k.starts_with(&format!("ttlab_responses_total{{arch=\"{arch}\"")))
        .map(|(_, v)| v)
        .sum()
}

/// The test's own scrapes of `url` while the run goes: each architecture's
/// series from the start, one running at a time, counters that only grow.
fn scrapes_while_it_runs(url: &str) {
    // The first architecture, while it runs.
    let first = wait_for(Duration::from_secs(60), "ssr-cdn-user answering", || {
        let s = scrape(url);
        (responses(&s, ARCHS[0]) > 0.0 && running(&s, ARCHS[0])).then_some(s)
    });
    assert!(!running(&first, ARCHS[1]), "one architecture at a time");
    for arch in ARCHS {
        assert!(
            first.contains_key(&format!(
                "ttlab_response_latency_seconds_bucket{{le=\"+Inf\",arch=\"{arch}\",served=\"upstream\"}}"
            )),
            "{arch}'s series exist before it runs"
        );
    }
    // The second, while it runs: nothing counted went back.
    let second = wait_for(Duration::from_secs(60), "ssr-cdn-shared answering", || {
        let s = scrape(url);
        (responses(&s, ARCHS[1]) > 0.0).then_some(s)
    });
    assert!(!running(&second, ARCHS[0]) && running(&second, ARCHS[1]));
    for (series, was) in &first {
        let cumulative = ["_total{", "_bucket{", "_count{", "_sum{"]
            .iter()
            .any(|k| series.contains(k));
        if cumulative {
            assert!(
                second[series] >= *was,
                "{series} went from {was} to {}",
                second[series]
            );
        }
    }
    assert!(
        second["ttlab_responses_from_cache_total{arch=\"ssr-cdn-shared\"}"] > 0.0,
        "the shared CDN answers from its cache"
    );
}

/// Each query of the board, with Grafana's variables as Prometheus reads
/// them: every architecture, and a rate window of 5 scrapes.
fn board_queries() -> Vec<(String, String)> {
    let board: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/grafana-dashboard.json"),
        )
        .expect("docs/grafana-dashboard.json"),
    )
    .expect("the board is JSON");
    let mut out = Vec::new();
    for panel in board["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title");
        for t in panel["targets"].as_array().expect("targets") {
            let expr = t["expr"]
                .as_str()
                .expect("an expr")
                .replace("$__rate_interval", "5s")
                .replace("$arch", ".*");
            assert!(!expr.contains('$'), "{title}: a variable left in {expr}");
            out.push((title.to_owned(), expr));
        }
    }
    assert!(out.len() >= 5, "the board has its five comparisons");
    out
}

/// Every query of the board has each architecture, with a number (not
/// only NaN) at some second from `start` to `end`.
fn the_board_shows_every_architecture(prometheus: &Prometheus, start: u64, end: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (title, expr) in board_queries() {
        let series = prometheus.range(&expr, start, end);
        for arch in ARCHS {
            // The staleness quantiles exist only where something was stale.
            if expr.contains("ttlab_staleness_seconds")
                && prometheus
                    .range(
                        &format!("ttlab_staleness_seconds_count{{arch=\"{arch}\"}} > 0"),
                        start,
                        end,
                    )
                    .is_empty()
            {
                continue;
            }
            let shown = series.iter().any(|(labels, values)| {
                labels["arch"] == arch && values.iter().any(|v| v.is_finite())
            });
            assert!(
                shown,
                "board panel \"{title}\": no data for {arch} from {expr}"
            );
        }
        assert!(Instant::now() < deadline, "the queries took over a minute");
    }
}

#[test]
fn prometheus_scrapes_a_real_run_and_the_board_shows_every_architecture() {
    let dir = fresh_dir("live-metrics");
    let file = scenario(&dir);
    let prometheus = Prometheus::start(&dir);
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let out = dir.join("out");
    let mut run = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args(["run", file.to_str().unwrap(), "--no-tui", "--arch"])
        .arg(ARCHS.join(","))
        .args(["--metrics-addr", "127.0.0.1:0", "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ttlab starts");
    let mut lines = Lines::of(run.stderr.take().unwrap());
    let line = lines.wait_for_line(Duration::from_secs(60), "the metrics URL", |l| {
        l.starts_with("metrics: ")
    });
    let url = line["metrics: ".len()..].to_owned();
    let addr = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("not a metrics URL: {line}"));
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    prometheus.scrape(addr);

    scrapes_while_it_runs(&url);

    let status = wait_for(Duration::from_secs(120), "the run to end", || {
        run.try_wait().unwrap()
    });
    let said = lines.rest();
    assert!(status.success(), "{said:#?}");
    let folder = out
        .read_dir()
        .expect("the output folder")
        .next()
        .expect("a report folder")
        .unwrap()
        .path();
    assert!(
        folder.join("report.json").is_file(),
        "the run wrote its report as usual: {said:#?}"
    );
    // The endpoint closed with the run.
    assert!(get(&url).is_none(), "{url} still answers after the run");

    // What Prometheus made of it.
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let ingested = prometheus.range("ttlab_responses_total", start, end);
    assert!(
        !ingested.is_empty(),
        "Prometheus stored no ttlab_responses_total: its scrapes failed"
    );
    the_board_shows_every_architecture(&prometheus, start, end);
}

#[test]
fn a_taken_metrics_address_is_bad_input_before_anything_is_written() {
    let dir = fresh_dir("live-metrics-taken");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args([
            "run",
            "quickstart",
            "--no-tui",
            "--metrics-addr",
            &addr,
            "-o",
        ])
        .arg(&out)
        .output()
        .expect("ttlab runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: --metrics-addr: cannot listen for metrics on {addr}: "
        )),
        "{stderr}"
    );
    assert!(
        !out.exists(),
        "no report folder for a run that did not start"
    );
}
