//! Fault injection from the scenario: errors, hangs, outages, rate limits, latency.

mod common;

use std::time::{Duration, Instant};

use common::{json, scenario, start};
use ttlab_mock_apis::MockConfig;
use ttlab_mock_apis::metrics::Api;
use ttlab_scenarios::Micros;
use ttlab_test_support::wait_until_async;

fn with_faults(faults: &str) -> String {
    scenario().raw(faults).build()
}

#[tokio::test]
async fn error_rate_one_fails_every_request_with_the_configured_status() {
    let toml = with_faults(
        "[faults.personalize]\nerror_rate = 1.0\nerror_status = 502\n\n[faults.delivery]\nerror_rate = 1.0",
    );
    let h = start(&toml, MockConfig::default()).await;
    for _ in 0..5 {
        let (s, b) = json(h.manifest(Some("u")).send().await.unwrap()).await;
        assert_eq!(
            (s, b["error"].as_str().unwrap()),
            (502, "personalize.INTERNAL_ERROR")
        );
        let (s, b) = h
            .cda_json("/v3/content_types/hero/entries/home_hero?environment=production")
            .await;
        assert_eq!((s, b["error_code"].as_u64()), (503, Some(503)));
    }
    assert_eq!(h.mocks.state.metrics.faults(Api::Personalize, "error"), 5);
    assert_eq!(h.mocks.state.metrics.faults(Api::Delivery, "error"), 5);
    // Control paths are never faulted.
    assert_eq!(
        h.http
            .get(h.p("/_ttlab/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn error_rate_is_a_share_and_deterministic_for_a_seed() {
    let toml = with_faults("[faults.personalize]\nerror_rate = 0.3");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let h = start(&toml, MockConfig::default()).await;
        let mut statuses = Vec::new();
        for _ in 0..400 {
            statuses.push(
                h.manifest(Some("u"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            );
        }
        h.mocks.shutdown().await;
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "same seed and arrival order, same faults");
    let errors = runs[0].iter().filter(|s| **s == 503).count();
    assert!((90..=150).contains(&errors), "about 30% of 400: {errors}");
}

#[tokio::test]
async fn timeouts_hang_past_the_client_budget_and_outages_follow_the_clock() {
    let toml = with_faults(
        "[faults.delivery]\ntimeout_rate = 1.0\n\n[[faults.personalize.outages]]\nfrom = \"10s\"\nuntil = \"20s\"\nerror_status = 500",
    );
    let config = MockConfig {
        hang: Duration::from_secs(3),
        ..MockConfig::default()
    };
    let h = start(&toml, config).await;
    let started = Instant::now();
    let r = h
        .cda("/v3/content_types/hero/entries/home_hero?environment=production")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        r.unwrap_err().is_timeout(),
        "the client's budget runs out first"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        h.manifest(Some("u")).send().await.unwrap().status(),
        200,
        "before the outage"
    );
    h.clock.set(Micros::from_secs(10));
    assert_eq!(
        h.manifest(Some("u")).send().await.unwrap().status(),
        500,
        "in the outage"
    );
    h.clock.set(Micros::from_secs(20));
    assert_eq!(
        h.manifest(Some("u")).send().await.unwrap().status(),
        200,
        "after it"
    );
    // Shutdown ends hanging requests at once.
    let url = h.d("/v3/content_types/hero/entries/home_hero?environment=production");
    let pending = tokio::spawn(
        h.http
            .get(url)
            .header("api_key", "blt-ttlab-api-key")
            .header("access_token", "cs-ttlab-delivery-token")
            .send(),
    );
    wait_until_async(
        Duration::from_secs(5),
        "the second request hangs",
        async || h.mocks.state.metrics.faults(Api::Delivery, "timeout") == 2,
    )
    .await;
    let stopping = Instant::now();
    h.mocks.shutdown().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "shutdown does not wait for hangs"
    );
    let _ = pending.await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let toml =
        with_faults("[faults.delivery]\nrate_limit = { requests_per_second = 5.0, burst = 5 }");
    let h = start(&toml, MockConfig::default()).await;
    let url = "/v3/content_types/hero/entries/home_hero?environment=production";
    for _ in 0..5 {
        assert_eq!(h.cda(url).send().await.unwrap().status(), 200);
    }
    let r = h.cda(url).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["x-ratelimit-limit"], "5");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let (_, b) = json(r).await;
    assert_eq!(b["error_code"], 429);
    // A second of run time refills the bucket.
    h.clock.set(Micros::from_secs(1));
    assert_eq!(h.cda(url).send().await.unwrap().status(), 200);
    assert_eq!(
        h.mocks.state.metrics.faults(Api::Delivery, "rate_limited"),
        1
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn contentstack_preset_allows_80_per_second() {
    let toml =
        with_faults("[faults.delivery]\nrate_limit = { preset = \"contentstack-delivery\" }");
    let h = start(&toml, MockConfig::default()).await;
    let url = "/v3/content_types/hero/entries/home_hero?environment=production";
    let mut ok = 0;
    for _ in 0..100 {
        if h.cda(url).send().await.unwrap().status() == 200 {
            ok += 1;
        }
    }
    assert_eq!(
        ok, 80,
        "the clock stands still: exactly the burst of 80 passes"
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn latency_is_drawn_from_the_distribution() {
    let toml = with_faults("[faults.personalize]\nlatency = \"40ms\"");
    let h = start(&toml, MockConfig::default()).await;
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(h.manifest(Some("u")).send().await.unwrap().status(), 200);
    }
    let each = started.elapsed() / 5;
    assert!(each >= Duration::from_millis(40), "{each:?}");
    assert!(each < Duration::from_millis(400), "{each:?}");
    h.mocks.shutdown().await;
}
