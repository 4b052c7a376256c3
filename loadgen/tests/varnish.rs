//! Varnish as the CDN and edge cache (`[cdn] engine = "varnish"`), with
//! the real varnishd on a free loopback port and the generated VCL: a
//! publish purges through `xkey` and the next request misses; a purge that
//! fails is counted and reported; the edge in front of Varnish keys on the
//! variants; a run reports the engine and its version, and the layer's
//! counts add up.

use std::sync::Arc;
use std::time::Duration;

use ttlab_loadgen::run::varnish::Varnishd;
use ttlab_loadgen::run::{Quiet, RunOptions, run_with};
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::model::CdnEngine;
use ttlab_scenarios::{ManualClock, Micros, World};
use ttlab_ssr_origin::stack::{RunningBehind, RunningStack, Servers, start_behind, start_servers};
use ttlab_ssr_origin::upstream::UpstreamConfig;
use ttlab_ssr_origin::varnish::PurgeReceiver;
use ttlab_test_support::mocks::{fetch, register_webhook, start_mocks, world};
use ttlab_test_support::{ScenarioToml, wait_until};

/// A site of one A/B-tested hero on `/` and a plain page, published at 1 s.
fn site(arch: &str, cache: &str) -> String {
    ScenarioToml::new("varnish", 7, "10s")
        .traffic(50, 4)
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .entry("footer", "footer", &[])
        .page("/", &["hero", "footer"])
        .page("/about", &["footer"])
        .publish("hero", "1s")
        .table(
            "cache",
            &format!("ttl = \"1m\"\npurge_on_publish = true\n{cache}"),
        )
        .archs(&[arch])
        .build()
}

/// The mocks, ttlab's origin, Varnish with the generated VCL and what
/// stands beside it, on a clock the test moves.
struct VarnishLab {
    world: Arc<World>,
    clock: Arc<ManualClock>,
    mocks: ttlab_mock_apis::RunningMocks,
    stack: RunningStack,
    varnishd: Varnishd,
    behind: RunningBehind,
    http: reqwest::Client,
}

impl VarnishLab {
    async fn start(toml: &str) -> VarnishLab {
        let world = world(toml);
        let clock = Arc::new(ManualClock::at(Micros::ZERO));
        let mocks = start_mocks(&world, clock.clone(), MockConfig::default()).await;
        let s = world.scenario();
        let arch = &s.architectures[0];
        let upstream =
            UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
        let host = "127.0.0.1".parse().unwrap();
        let stack = start_servers(
            world.clone(),
            clock.clone(),
            arch,
            upstream.clone(),
            host,
            Servers::OriginOnly,
        )
        .await
        .unwrap();
        let varnishd = Varnishd::in_front_of("varnish", arch, &stack.origin_urls)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let behind = start_behind(
            world.clone(),
            clock.clone(),
            arch,
            upstream,
            host,
            varnishd.url(),
        )
        .await
        .unwrap();
        let http = reqwest::Client::new();
        if let Some(url) = &behind.webhook_url {
            register_webhook(&http, &mocks, url).await;
        }
        VarnishLab {
            world,
            clock,
            mocks,
            stack,
            varnishd,
            behind,
            http,
        }
    }

    async fn get(&self, path: &str, visitor: usize) -> ttlab_test_support::mocks::Page {
        let uid = self.world.uid(visitor as u32);
        fetch(
            self.http
                .get(format!("{}{path}", self.behind.entry_url))
                .header("cookie", format!("cs-personalize-user-uid={uid}"))
                .timeout(Duration::from_secs(20)),
        )
        .await
    }

    async fn stop(self) {
        self.behind.shutdown().await;
        let pgid = self.varnishd.pgid().expect("running");
        self.varnishd.stop().await;
        assert_eq!(
            ttlab_loadgen::run::running_members(pgid),
            Some(0),
            "no process of varnishd's group runs after stop"
        );
        self.stack.shutdown().await;
        self.mocks.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_purges_through_xkey_and_the_next_request_misses() {
    let lab = VarnishLab::start(&site("ssr-cdn-shared", "")).await;
    let first = lab.get("/", 0).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache"), "cdn=MISS");
    let about = lab.get("/about", 1).await;
    assert_eq!(about.header("x-cache"), "cdn=MISS");
    let again = lab.get("/", 1).await;
    assert_eq!(again.header("x-cache"), "cdn=HIT", "the URL is the key");
    assert!(!again.header("age").is_empty(), "Varnish sets Age");
    assert!(
        again.headers.get("x-ttlab-vcl-swr").is_none(),
        "the VCL's notes stay inside"
    );
    assert!(again.headers.get("xkey").is_none());

    // The hero is published at 1 s: the mock's webhook reaches the
    // receiver, which purges the hero's pages in Varnish.
    lab.clock.set(Micros::from_secs(2));
    let r = lab
        .http
        .post(format!(
            "{}/_ttlab/timeline/advance",
            lab.mocks.delivery_url
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let tally = lab.behind.receiver.tally.clone();
    wait_until(Duration::from_secs(5), "the publish was purged", || {
        tally.sent.load(std::sync::atomic::Ordering::Relaxed) > 0
    });
    assert_eq!(tally.failed.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(
        tally.purged.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "one object carried the hero's key"
    );
    let after = lab.get("/", 2).await;
    assert_eq!(
        after.header("x-cache"),
        "cdn=MISS",
        "purged: the next request misses"
    );
    let about = lab.get("/about", 2).await;
    assert_eq!(
        about.header("x-cache"),
        "cdn=HIT",
        "a page without the entry stays"
    );
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_that_fails_is_counted_and_reported() {
    // A receiver pointed at a port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let receiver = PurgeReceiver::new(
        world(&site("ssr-cdn-shared", "")),
        &format!("http://127.0.0.1:{dead}"),
        true,
    );
    let err = receiver
        .purge_key("hero")
        .await
        .expect_err("nothing to purge in");
    assert!(err.contains("PURGE hero"), "{err}");
    let warning = receiver.tally.warning().expect("a warning");
    assert!(
        warning.contains("1 of 1 purges on publish failed"),
        "{warning}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_in_front_of_varnish_keys_on_the_variants() {
    let lab = VarnishLab::start(&site("ssr-edge", "")).await;
    // Two visitors of each variant of experience 0.
    let world = &lab.world;
    let variant_of = |v: usize| world.variants_of(v as u32, Micros::ZERO);
    let a = (0..world.visitor_count() as usize)
        .find(|v| variant_of(*v) == variant_of(0) && *v != 0)
        .unwrap();
    let other = (0..world.visitor_count() as usize)
        .find(|v| variant_of(*v) != variant_of(0))
        .unwrap();
    let first = lab.get("/", 0).await;
    assert_eq!(first.header("x-cache"), "edge=MISS");
    assert_eq!(
        lab.get("/", a).await.header("x-cache"),
        "edge=HIT",
        "same variants"
    );
    assert_eq!(
        lab.get("/", other).await.header("x-cache"),
        "edge=MISS",
        "other variants"
    );
    assert!(first.header("vary").to_ascii_lowercase().contains("cookie"));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_varnish_reports_the_engine_and_counts_that_add_up() {
    let toml = ScenarioToml::new("varnish-run", 3, "3s")
        .traffic(40, 4)
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .entry("footer", "footer", &[])
        .page("/", &["hero", "footer"])
        .page("/about", &["footer"])
        .table("cache", "ttl = \"1m\"")
        .table("cdn", "engine = \"varnish\"")
        .archs(&["ssr-cdn-user", "ssr-origin-variant"])
        .build();
    let w = world(&toml);
    assert_eq!(w.scenario().cdn, CdnEngine::Varnish);
    let archs = w.scenario().architectures.clone();
    let opts = RunOptions {
        page_views: Some(30),
        ..RunOptions::default()
    };
    let report = run_with(w, &archs, &opts, &Quiet).await.unwrap();
    let cdn = &report.architectures[0];
    let engine = cdn.cdn.as_ref().expect("the engine is named");
    assert_eq!(engine.engine, "varnish");
    assert!(engine.version.contains("varnish-"), "{}", engine.version);
    let layer = cdn.layer.as_ref().expect("a layer");
    assert_eq!(
        layer.counts.requests(),
        cdn.requests,
        "every answer counted from x-cache"
    );
    assert!(layer.counts.hits > 0 && layer.counts.misses > 0);
    // Every miss and bypass went to ttlab's origin, and nothing else did
    // (no stale windows: no background refreshes).
    assert_eq!(
        layer.counts.misses + layer.counts.bypass - layer.counts.coalesced,
        cdn.origin.requests,
        "x-cache's misses are the origin's requests"
    );
    assert!(cdn.warnings.is_empty(), "{:?}", cdn.warnings);
    // No CDN, no Varnish: ttlab's origin cache, as before.
    assert!(report.architectures[1].cdn.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_error_serves_the_stored_page_when_the_origin_fails() {
    // TTL 1 s, no SWR, SIE 1 m; Delivery fails from 5 s on.
    let toml =
        |sie: &str| {
            ScenarioToml::new("varnish-sie", 7, "1m")
            .traffic(10, 2)
            .entry("footer", "footer", &[])
            .page("/about", &["footer"])
            .raw("[[faults.delivery.outages]]\nfrom = \"5s\"\nuntil = \"60s\"\nerror_status = 502")
            .table("cache", &format!("ttl = \"1s\"\nstale_if_error = \"{sie}\""))
            .archs(&["ssr-cdn-shared"])
            .build()
        };
    for (sie, served) in [("1m", true), ("0s", false)] {
        let lab = VarnishLab::start(&toml(sie)).await;
        let first = lab.get("/about", 0).await;
        assert_eq!(first.header("x-cache"), "cdn=MISS");
        // Varnish's clock is the system's: let the object expire, then fail
        // the origin's Delivery calls.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        lab.clock.set(Micros::from_secs(10));
        let after = lab.get("/about", 1).await;
        if served {
            assert_eq!(after.status, 200, "sie {sie}: {}", after.body);
            assert_eq!(after.header("x-cache"), "cdn=STALE");
            assert_eq!(after.body, first.body, "the stored page");
        } else {
            assert!(
                after.status >= 500,
                "sie {sie}: no stale copy may be served"
            );
        }
        lab.stop().await;
    }
}
