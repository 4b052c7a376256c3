//! End to end on port 0: the origin's cache layer under a stampede, purge on
//! publish, stale-while-revalidate, stale-if-error, and graceful fallback.

mod common;

use std::time::{Duration, Instant};

use common::{Lab, fetch, lab, origin_lab, scenario};
use ttlab_scenarios::Micros;
use ttlab_scenarios::token;
use ttlab_test_support::mocks::text;
use ttlab_test_support::wait_until_async;

async fn stampede(coalesce: bool) -> (u64, u64, Lab) {
    let toml = scenario(
        "[faults.delivery]\nlatency = \"2s\"\n\n[origin]\npersonalize_timeout = \"30s\"\ndelivery_timeout = \"30s\"",
        // The CDN looks up before anything else, so all 500 reach the cold
        // key at once however busy the machine is.
        &format!(
            "[[architectures]]\nname = \"ssr-cdn-shared\"\ncache = {{ ttl = \"1m\", coalesce = {coalesce} }}"
        ),
    );
    let lab = lab(&toml, 0).await;
    let uid = lab.uid(0);
    let mut tasks = Vec::new();
    for _ in 0..500 {
        tasks.push(tokio::spawn(fetch(lab.request("/", Some(&uid)))));
    }
    let mut hits = 0;
    for t in tasks {
        let page = t.await.unwrap();
        assert_eq!(page.status, 200);
        if page.header("x-cache").starts_with("cdn=HIT") {
            hits += 1;
        }
    }
    (lab.delivery_fetches(), hits, lab)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stampede_of_500_on_a_cold_key_fetches_each_entry_once_with_coalescing() {
    let (fetches, hits, lab) = stampede(true).await;
    assert_eq!(
        fetches, 2,
        "one Delivery fetch per entry of the page (hero, footer)"
    );
    assert_eq!(hits, 0, "all 500 arrived while the one fill ran");
    let c = lab.stack.cache_counters().unwrap();
    assert_eq!(c.misses.get(), 500);
    assert_eq!(c.coalesced.get(), 499);
    assert_eq!(c.upstream_fetches.get(), 1);
    assert_eq!(
        lab.personalize_calls(),
        1,
        "one origin request answered all 500"
    );

    assert_eq!(lab.stack.origin.counters.renders.get(), 1);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stampede_of_500_without_coalescing_fetches_500_times() {
    let (fetches, hits, lab) = stampede(false).await;
    assert_eq!(hits, 0);
    assert_eq!(fetches, 1000, "every request fills: 500 × 2 entries");
    assert_eq!(lab.stack.origin.counters.renders.get(), 500);
    lab.stop().await;
}

#[tokio::test]
async fn purge_on_publish_makes_the_next_request_a_miss() {
    let lab = origin_lab(r#"{ ttl = "10m", purge_on_publish = true }"#).await;
    let uid = lab.uid(1);
    let first = lab.get("/", Some(&uid)).await;
    assert_eq!(first.header("x-cache"), "origin=MISS");
    assert_eq!(
        lab.get("/", Some(&uid)).await.header("x-cache"),
        "origin=HIT"
    );
    lab.clock.set(Micros::from_secs(10));
    wait_until_async(
        Duration::from_secs(3),
        "the publish webhook purged",
        async || lab.stack.cache_counters().unwrap().purged.get() > 0,
    )
    .await;
    assert_eq!(
        lab.stack.cache_counters().unwrap().purged.get(),
        1,
        "the publish webhook purged the page"
    );
    let after = lab.get("/", Some(&uid)).await;
    assert_eq!(after.header("x-cache"), "origin=MISS");
    let hero = token::parse(&after.body)
        .entries
        .into_iter()
        .find(|t| t.entry == "hero")
        .unwrap();
    assert_eq!(hero.version, 2, "the new version is served");
    assert!(after.header("x-ttlab-content").contains("e=hero;"));
    // The page without the published entry was not purged.
    lab.stop().await;
}

#[tokio::test]
async fn without_purge_the_old_version_is_served_until_the_ttl() {
    let lab = origin_lab(r#"{ ttl = "30s" }"#).await;
    let uid = lab.uid(1);
    lab.get("/", Some(&uid)).await;
    lab.clock.set(Micros::from_secs(15));
    // The mocks pass the publish at 10 s now, whether or not their ticker
    // has yet: a HIT after that means the publish did not purge.
    let advance = format!("{}/_ttlab/timeline/advance", lab.mocks.delivery_url);
    assert_eq!(lab.http.post(advance).send().await.unwrap().status(), 200);
    let stale = lab.get("/", Some(&uid)).await;
    assert_eq!(stale.header("x-cache"), "origin=HIT");
    assert_eq!(stale.header("age"), "15");
    let hero = token::parse(&stale.body)
        .entries
        .into_iter()
        .find(|t| t.entry == "hero")
        .unwrap();
    assert_eq!(hero.version, 1, "stale content within the TTL");
    lab.clock.set(Micros::from_secs(30));
    let fresh = lab.get("/", Some(&uid)).await;
    assert_eq!(fresh.header("x-cache"), "origin=MISS");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swr_serves_stale_and_refreshes_once() {
    let toml = scenario(
        "[faults.delivery]\nlatency = \"1s\"",
        "[[architectures]]\nname = \"ssr-origin-variant\"\ncache = { ttl = \"5s\", stale_while_revalidate = \"10s\" }",
    );
    let lab = lab(&toml, 0).await;
    let uid = lab.uid(2);
    assert_eq!(
        lab.get("/about", Some(&uid)).await.header("x-cache"),
        "origin=MISS"
    );
    lab.clock.set(Micros::from_secs(6));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        tasks.push(tokio::spawn(fetch(lab.request("/about", Some(&uid)))));
    }
    for t in tasks {
        let page = t.await.unwrap();
        assert_eq!(page.header("x-cache"), "origin=STALE");
        assert_eq!(page.header("age"), "6");
    }
    let c = lab.stack.cache_counters().unwrap();
    assert_eq!(
        c.refreshes.get(),
        1,
        "one background refresh for 20 stale answers"
    );
    let layer = &lab.stack.origin.layer.as_ref().unwrap().0;
    wait_until_async(Duration::from_secs(10), "the refresh ended", async || {
        layer.fills_in_flight() == 0
    })
    .await;
    let after = lab.get("/about", Some(&uid)).await;
    assert_eq!(
        after.header("x-cache"),
        "origin=HIT",
        "the refresh stored a fresh entry"
    );
    assert_eq!(after.header("age"), "0");
    assert_eq!(c.upstream_fetches.get(), 2);
    assert_eq!(
        lab.delivery_fetches(),
        2,
        "one fill and one refresh of /about's single entry"
    );
    lab.stop().await;
}

#[tokio::test]
async fn stale_if_error_bridges_a_delivery_outage_and_without_it_the_error_is_clear() {
    let faults = "[[faults.delivery.outages]]\nfrom = \"20s\"\nuntil = \"30s\"\nerror_status = 503";
    let archs = "[[architectures]]\nname = \"ssr-origin-variant\"\ncache = { ttl = \"5s\", stale_if_error = \"1m\" }\n\n[[architectures]]\nname = \"ssr-edge\"\ncache = { ttl = \"5s\" }";
    let toml = scenario(faults, archs);
    let with_sie = lab(&toml, 0).await;
    let uid = with_sie.uid(3);
    assert_eq!(with_sie.get("/about", Some(&uid)).await.status, 200);
    with_sie.clock.set(Micros::from_secs(25));
    let bridged = with_sie.get("/about", Some(&uid)).await;
    assert_eq!(bridged.status, 200);
    assert_eq!(bridged.header("x-cache"), "origin=STALE");
    assert_eq!(bridged.header("age"), "25");
    assert_eq!(
        with_sie
            .stack
            .cache_counters()
            .unwrap()
            .stale_if_error
            .get(),
        1
    );
    with_sie.stop().await;

    let without = lab(&toml, 1).await;
    assert_eq!(without.get("/about", Some(&uid)).await.status, 200);
    without.clock.set(Micros::from_secs(25));
    let failed = without.get("/about", Some(&uid)).await;
    assert_eq!(
        failed.status, 503,
        "the origin's 503 reaches the visitor with its reason"
    );
    assert_eq!(failed.header("x-ttlab-error"), "origin");
    assert!(
        failed.body.contains("Delivery API answered 503"),
        "{}",
        failed.body
    );
    let direct = fetch(without.http.get(format!(
        "{}/about?personalize_variants=0_1",
        without.stack.origin_url
    )))
    .await;
    assert_eq!(direct.status, 503);
    assert_eq!(direct.header("x-ttlab-error"), "delivery");
    assert!(
        direct.body.contains("Delivery API answered 503"),
        "{}",
        direct.body
    );
    without.stop().await;
}

#[tokio::test]
async fn personalize_timeout_yields_base_content_within_budget_never_a_5xx() {
    let toml = scenario(
        "[faults.personalize]\ntimeout_rate = 1.0\n\n[origin]\npersonalize_timeout = \"100ms\"",
        "[[architectures]]\nname = \"ssr-origin-variant\"\n\n[[architectures]]\nname = \"ssr-edge\"",
    );
    for arch in [0, 1] {
        let lab = lab(&toml, arch).await;
        let uid = lab.uid(4);
        let started = Instant::now();
        let page = lab.get("/", Some(&uid)).await;
        let took = started.elapsed();
        assert_eq!(page.status, 200);
        assert_eq!(page.header("x-ttlab-fallback"), "personalize");
        assert_eq!(page.header("x-ttlab-variants"), "-", "base content");
        assert!(
            page.header("x-cache").contains("BYPASS"),
            "fallbacks are never stored: {}",
            page.header("x-cache")
        );
        assert!(
            took < Duration::from_millis(1500),
            "within budget: {took:?}"
        );
        let tokens = token::parse(&page.body);
        assert!(
            tokens.entries.iter().all(|t| t.variant.is_none()),
            "{:?}",
            tokens.entries
        );
        lab.stop().await;
    }
}

#[tokio::test]
async fn headers_say_what_the_page_was_built_from_and_cookies_are_set() {
    let lab = origin_lab(r#"{ key_scope = "page" }"#).await;
    // A new visitor: the origin sets the SDK's cookies.
    let first = lab.get("/", None).await;
    let cookies: Vec<&str> = first
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("cs-personalize-user-uid=")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("cs-personalize-manifest=%7B")),
        "{cookies:?}"
    );
    // A visitor of the population.
    let uid = lab.uid(5);
    let page = lab.get("/", Some(&uid)).await;
    let truth = lab.world.variants_of(5, Micros::ZERO);
    let expected = truth.project(lab.world.page_experience_mask(0));
    let short: Vec<String> = expected.iter().map(|r| lab.world.short_alias(r)).collect();
    assert_eq!(page.header("x-ttlab-variants"), short.join(","));
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(
        page.header("x-ttlab-content")
            .contains("e=footer;v=base;n=1")
    );
    assert!(page.headers.get("age").is_some());
    assert!(
        page.headers
            .get("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().contains(&uid)),
        "a known visitor keeps its uid cookie"
    );
    // The per-visitor page greets the visitor and is never stored under a shared key.
    let account = lab.get("/account", Some(&uid)).await;
    assert_eq!(account.header("x-cache"), "origin=BYPASS");
    assert_eq!(account.header("x-ttlab-visitor"), uid);
    assert_eq!(
        token::parse(&account.body).visitors,
        std::slice::from_ref(&uid)
    );
    assert_eq!(
        lab.get("/account", Some(&uid)).await.header("x-cache"),
        "origin=BYPASS"
    );
    assert_eq!(lab.get("/nope", Some(&uid)).await.status, 404);
    let metrics = text(lab.http.get(format!("{}/metrics", lab.stack.origin_url))).await;
    assert!(
        metrics.contains("ttlab_origin_cache_misses_total{layer=\"origin\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("ttlab_origin_renders_total"));
    lab.stop().await;
}
