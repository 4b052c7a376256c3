//! A served stack's cache stays within its bounds under a flood of distinct
//! URLs, and gives its entries back once they can no longer be served: the
//! stack runs as `ttlab serve stack` in a process of its own, whose resident
//! memory (`VmRSS` in `/proc/PID/status`) the test reads, and whose CDN
//! layer's store size it reads from `/metrics`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ttlab_test_support::process::{Lines, fresh_dir, interrupt};
use ttlab_test_support::wait_until_async;
use ttlab_test_support::{ScenarioToml, metrics_text};

/// The byte bound the floods' scenarios set.
const MAX_BYTES: u64 = 512 * 1024;
/// Distinct URLs in the flood.
const FLOOD: usize = 4_000;
/// The architecture served: its CDN keys on the whole URL.
const ARCH: &str = "ssr-cdn-shared";
/// Requests in flight at once.
const CONCURRENCY: usize = 16;

/// A started `ttlab serve stack` and where to reach it.
struct Served {
    child: Child,
    entry: String,
    uid: String,
    _stderr: Lines,
}

impl Served {
    /// Starts `ttlab serve stack` for `arch` of the scenario at `scenario`
    /// and waits for its banner.
    fn start(scenario: &str, arch: &str) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ttlab"))
            .args(["serve", "stack", "--scenario", scenario, "--arch", arch])
            .env("TTLAB_WORKER_THREADS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Lines::of(child.stderr.take().unwrap());
        let mut out = Lines::of(child.stdout.take().unwrap());
        let t = Duration::from_secs(30);
        let entry = out.wait_for_line(t, "the entry URL", |l| l.starts_with("  entry "));
        let entry = entry.split_whitespace().last().unwrap().to_owned();
        let try_line = out.wait_for_line(t, "a visitor to try", |l| l.starts_with("  try "));
        let uid = try_line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("cs-personalize-user-uid="))
            .unwrap()
            .to_owned();
        out.wait_for_line(t, "the stack serving", |l| {
            l.starts_with("Serving until Ctrl-C")
        });
        Served {
            child,
            entry,
            uid,
            _stderr: stderr,
        }
    }

    /// Resident memory of the process, in bytes.
    fn rss(&self) -> u64 {
        ttlab_test_support::process::rss_kib(self.child.id()) * 1024
    }

    fn stop(mut self) {
        let exit = interrupt(&mut self.child, Duration::from_secs(15));
        assert!(exit.success(), "{exit:?}");
    }
}

/// The CDN layer's metric `name` (`ttlab_cdn_<name>{layer="cdn"}`).
async fn metric(http: &reqwest::Client, entry: &str, name: &str) -> u64 {
    let text = metrics_text(http, entry).await;
    // Counters carry `_total` in the exposition.
    let (gauge, counter) = (
        format!("ttlab_cdn_{name}{{"),
        format!("ttlab_cdn_{name}_total{{"),
    );
    text.lines()
        .find(|l| l.starts_with(&gauge) || l.starts_with(&counter))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no ttlab_cdn_{name} in /metrics:\n{text}"))
}

/// Sends `n` requests for distinct query strings (`?<name>=<i>`) of the
/// home page as visitor `uid`, `CONCURRENCY` at a time; every request is
/// bounded, and so is the whole flood.
async fn flood(http: &reqwest::Client, entry: &str, uid: &str, name: &str, n: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(240);
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (http, next) = (http.clone(), next.clone());
            let url = format!("{entry}/?{name}=");
            let cookie = format!("cs-personalize-user-uid={uid}");
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    assert!(Instant::now() < deadline, "the flood took over 240 s");
                    let r = http
                        .get(format!("{url}{i}"))
                        .header("cookie", &cookie)
                        .timeout(Duration::from_secs(20))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    let _ = r.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

fn scenario(cache: &str) -> String {
    ScenarioToml::new("flood", 7, "10m")
        .traffic(20, 2)
        .attribute("country", &[("US", 50), ("DE", 50)])
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .entry("promo", "promo", &[])
        .entry("news", "news", &[])
        .entry("footer", "footer", &[])
        .page("/", &["hero", "promo", "news", "footer"])
        .table("cache", cache)
        .archs(&["ssr-cdn-shared"])
        .build()
}

/// A scenario of one `ssr-cdn-shared` whose CDN caches for `ttl` within
/// `max_bytes`, written to a file of its own.
fn scenario_file(name: &str, ttl: &str, max_bytes: u64) -> String {
    let dir = fresh_dir(name);
    let path = dir.join("flood.toml");
    std::fs::write(
        &path,
        scenario(&format!("ttl = \"{ttl}\"\nmax_bytes = {max_bytes}")),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_flood_of_distinct_urls_grows_memory_no_further_than_the_byte_bound() {
    // The ttl outlasts the flood: only the byte bound keeps the store small.
    let served = Served::start(&scenario_file("bounded-flood", "10m", MAX_BYTES), ARCH);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let e = &served.entry;
        // Warm up: connections, pools, the first pages.
        flood(&http, e, &served.uid, "warm", 200).await;
        let before = served.rss();
        let started = Instant::now();
        flood(&http, e, &served.uid, "q", FLOOD).await;
        let took = started.elapsed();
        let after = served.rss();
        let bytes = metric(&http, e, "cache_store_bytes").await;
        let entries = metric(&http, e, "cache_store_entries").await;
        let evicted = metric(&http, e, "cache_evicted").await;
        let misses = metric(&http, e, "cache_misses").await;
        let growth = after.saturating_sub(before);
        eprintln!(
            "flood of {FLOOD} in {took:?}: RSS {before} -> {after} (+{growth}); store {entries} entries, {bytes} bytes, {evicted} evicted, {misses} misses"
        );
        assert!(misses as usize >= FLOOD, "every URL was distinct: {misses} misses");
        assert!(bytes <= MAX_BYTES, "{bytes} bytes held > {MAX_BYTES}");
        assert!(
            evicted as usize >= FLOOD / 2,
            "the flood outgrew the bound many times over: {evicted} evicted"
        );
        // The store holds at most MAX_BYTES of pages (as it counts them);
        // the process holds some more per page (the allocator's rounding)
        // and some more whatever the URLs (connections, buffers): growth
        // stays under 3 MiB + 2 × the bound (measured: 2.3 MB). Without the
        // bound the same flood grew it by 10 MB (2.4 KB a page).
        let limit = 3 * 1024 * 1024 + 2 * MAX_BYTES;
        assert!(
            growth <= limit,
            "RSS grew by {growth} bytes (limit {limit}) for a store bounded at {MAX_BYTES}"
        );
    });
    served.stop();
}

#[test]
fn entries_past_their_ttl_are_reclaimed_once_the_flood_is_over() {
    let served = Served::start(&scenario_file("reclaimed-flood", "2s", MAX_BYTES), ARCH);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let e = &served.entry;
        flood(&http, e, &served.uid, "q", 300).await;
        assert!(metric(&http, e, "cache_store_entries").await > 0);
        // Nothing more arrives. Once the entries are past their ttl (2 s, no
        // stale windows) the server's sweep reclaims them on its own clock:
        // at most a lifetime and a tick after the last one was stored.
        wait_until_async(
            Duration::from_secs(20),
            "the store is empty again",
            async || metric(&http, e, "cache_store_entries").await == 0,
        )
        .await;
        assert_eq!(metric(&http, e, "cache_store_bytes").await, 0);
        assert!(metric(&http, e, "cache_reclaimed").await > 0);
    });
    served.stop();
}

#[test]
fn a_scenario_without_bounds_gets_the_default_ones() {
    let served = Served::start("quickstart", ARCH);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let e = &served.entry;
        assert_eq!(metric(&http, e, "cache_store_max_entries").await, 50_000);
        assert_eq!(
            metric(&http, e, "cache_store_max_bytes").await,
            64 * 1024 * 1024
        );
    });
    served.stop();
}
