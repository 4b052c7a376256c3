//! Publish webhooks: delivered as the clock passes each publish, shaped like
//! Contentstack's entry-publish webhook.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use common::{SCENARIO, json, start, start_driven};
use serde_json::Value;
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::Micros;
use ttlab_test_support::mocks::text;
use ttlab_test_support::wait_until_async;

async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(v): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

async fn wait_for(got: &Arc<Mutex<Vec<Value>>>, n: usize) {
    let what = format!("{n} webhooks arrived");
    wait_until_async(Duration::from_secs(2), &what, async || {
        got.lock().unwrap().len() >= n
    })
    .await;
}

/// Makes the mocks pass every publish due by their clock now (as their
/// ticker does) and returns how many it found not yet passed.
async fn advance(h: &common::Harness) -> serde_json::Value {
    let r = h.http.post(h.d("/_ttlab/timeline/advance")).send();
    json(r.await.unwrap()).await.1["publishes"].clone()
}

#[tokio::test]
async fn publishes_send_webhooks_in_order_as_time_passes() {
    let (url, got) = receiver().await;
    let h = start(
        &SCENARIO,
        MockConfig {
            webhook_urls: vec![url],
            ..MockConfig::default()
        },
    )
    .await;
    // Whatever was due at 0 s is queued once this returns, and webhooks go
    // out in order: any sent before 10 s would come before the first below.
    assert_eq!(advance(&h).await, 0, "nothing is published before 10 s");
    h.clock.set(Micros::from_secs(25));
    wait_until_async(Duration::from_secs(2), "2 webhooks delivered", async || {
        h.mocks.state.metrics.webhooks("delivered") == 2
    })
    .await;
    let hooks = got.lock().unwrap().clone();
    assert_eq!(hooks.len(), 2);
    let first = &hooks[0];
    assert_eq!(first["module"], "entry");
    assert_eq!(first["event"], "publish");
    assert_eq!(first["api_key"], "blt-ttlab-api-key");
    assert_eq!(first["data"]["action"], "publish");
    assert_eq!(first["data"]["entry"]["uid"], "home_hero");
    assert_eq!(first["data"]["entry"]["_version"], 2);
    assert_eq!(first["data"]["content_type"]["uid"], "hero");
    assert_eq!(first["data"]["environment"]["name"], "production");
    assert!(first["triggered_at"].as_str().unwrap().ends_with('Z'));
    let second = &hooks[1];
    let variants = second["data"]["entry"]["publish_details"]["variants"]
        .as_object()
        .unwrap();
    assert_eq!(
        variants.values().next().unwrap()["alias"],
        "cs_personalize_0_1"
    );
    assert_eq!(h.mocks.state.metrics.webhooks("delivered"), 2);
    h.mocks.shutdown().await;
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one story: register, advance, read truth, read metrics
async fn a_run_driver_delivers_through_the_control_surface() {
    let (url, got) = receiver().await;
    let h = start_driven().await;
    let r = h
        .http
        .post(h.p("/_ttlab/webhooks"))
        .json(&serde_json::json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let bad = h
        .http
        .post(h.p("/_ttlab/webhooks"))
        .json(&serde_json::json!({ "url": "ftp://x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    h.clock.set(Micros::from_secs(15));
    assert!(
        got.lock().unwrap().is_empty(),
        "no ticker: nothing is sent by itself"
    );
    // The proof that no ticker ran: the publish at 10 s is still there to
    // pass.
    assert_eq!(advance(&h).await, 1, "no ticker passed the publish");
    wait_for(&got, 1).await;
    assert_eq!(advance(&h).await, 0, "each publish is delivered once");
    // Truth through the control surface.
    let v = h.world.uid(7);
    let (_, truth) = json(
        h.http
            .get(h.p(&format!("/_ttlab/truth/variants?visitor={v}&at_us=0")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(truth["in_population"], true);
    let expected: Vec<String> = h
        .world
        .variants_of(7, Micros::ZERO)
        .iter()
        .map(|r| h.world.alias(r))
        .collect();
    assert_eq!(truth["aliases"], serde_json::json!(expected));
    let (_, ver) =
        json(
            h.http
                .get(h.p(
                    "/_ttlab/truth/entry?entry=home_hero&variant=cs_personalize_0_1&at_us=25000000",
                ))
                .send()
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(ver["version"], 3);
    let (s, _) = json(
        h.http
            .get(h.p("/_ttlab/truth/entry?entry=nope"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    let metrics = text(h.http.get(h.d("/metrics"))).await;
    assert!(
        metrics.contains("ttlab_mock_webhooks_total{result=\"delivered\"} 1"),
        "{metrics}"
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_webhook_target_is_counted_not_fatal() {
    let h = start(
        &SCENARIO,
        MockConfig {
            webhook_urls: vec!["http://127.0.0.1:9/hook".into()],
            ..MockConfig::default()
        },
    )
    .await;
    h.clock.set(Micros::from_secs(11));
    wait_until_async(Duration::from_secs(5), "the webhook failed", async || {
        h.mocks.state.metrics.webhooks("failed") == 1
    })
    .await;
    assert_eq!(h.mocks.state.metrics.webhooks("failed"), 1);
    assert_eq!(h.manifest(Some("u")).send().await.unwrap().status(), 200);
    h.mocks.shutdown().await;
}

/// The webhook list is bounded: a URL registered twice is kept once, and
/// past `MAX_WEBHOOKS` targets a registration is refused (429) instead of
/// growing the list — and the fan-out of every publish — without end.
#[tokio::test]
async fn webhook_registrations_are_capped() {
    let h = start_driven().await;
    let register = |url: String| {
        h.http
            .post(h.p("/_ttlab/webhooks"))
            .json(&serde_json::json!({ "url": url }))
            .send()
    };
    for i in 0..ttlab_mock_apis::MAX_WEBHOOKS {
        let r = register(format!("http://127.0.0.1:9/hook/{i}"))
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "target {i}");
    }
    let again = register("http://127.0.0.1:9/hook/0".to_owned())
        .await
        .unwrap();
    assert_eq!(again.status(), 204, "a URL already there is no new target");
    let over = register("http://127.0.0.1:9/hook/over".to_owned())
        .await
        .unwrap();
    assert_eq!(over.status(), 429);
    let body: serde_json::Value = over.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("at most 64"),
        "{body}"
    );
    let kept = register("http://127.0.0.1:9/hook/63".to_owned())
        .await
        .unwrap();
    assert_eq!(kept.status(), 204, "the targets already there stay");
    h.mocks.shutdown().await;
}

/// Browsers may call the public APIs (the SDKs run there) but not the
/// control surface: a web page the user has open must not be able to
/// register webhook targets or move the timeline.
#[tokio::test]
async fn cors_covers_the_public_apis_but_not_the_control_surface() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let preflight = |url: String, method: &'static str| {
        h.http
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", "https://shop.example")
            .header("access-control-request-method", method)
            .send()
    };
    let api = preflight(h.p("/manifest"), "GET").await.unwrap();
    assert!(
        api.headers().contains_key("access-control-allow-origin"),
        "{:?}",
        api.headers()
    );
    let api = preflight(h.d("/v3/content_types/hero/entries"), "GET")
        .await
        .unwrap();
    assert!(api.headers().contains_key("access-control-allow-origin"));
    for url in [
        h.p("/_ttlab/webhooks"),
        h.d("/_ttlab/webhooks"),
        h.p("/_ttlab/timeline/advance"),
    ] {
        let r = preflight(url.clone(), "POST").await.unwrap();
        assert!(
            !r.headers().contains_key("access-control-allow-origin"),
            "{url}: {:?}",
            r.headers()
        );
        let r = h
            .http
            .get(h.p("/_ttlab/visitors"))
            .header("origin", "https://shop.example")
            .send()
            .await
            .unwrap();
        assert!(!r.headers().contains_key("access-control-allow-origin"));
    }
    h.mocks.shutdown().await;
}
