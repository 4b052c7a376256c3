//! What unauthenticated input can grow in the mocks is bounded: users the
//! scenario does not know (an LRU of `MAX_EXTERNAL_VISITORS`), Prometheus
//! label values (the scenario's ids or `unknown`); and every error the HTTP
//! stack makes is in each API's own error shape.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{SCENARIO, json, start};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ttlab_mock_apis::metrics::{MAX_EVENT_KEY_BYTES, OTHER_EVENT_KEY, UNKNOWN_LABEL};
use ttlab_mock_apis::{Limits, MAX_EXTERNAL_VISITORS, MockConfig};

/// The variant of experience `a` (DE → "0") the manifest gives `uid`.
async fn segment_of(h: &common::Harness, uid: &str) -> Option<String> {
    let (status, body) = json(h.manifest(Some(uid)).send().await.unwrap()).await;
    assert_eq!(status, 200);
    body["activeVariants"]["a"].as_str().map(str::to_owned)
}

async fn set_country(h: &common::Harness, uid: &str, country: &str) {
    let r = h
        .http
        .patch(h.p("/user-attributes"))
        .header("x-project-uid", "ttlab-project")
        .header("x-cs-personalize-user-uid", uid)
        .body(format!(r#"{{"country":"{country}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unknown_users_are_bounded_and_the_oldest_is_forgotten() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let state = &h.mocks.state;
    set_country(&h, "ttlab-first", "DE").await;
    set_country(&h, "ttlab-second", "DE").await;
    assert_eq!(segment_of(&h, "ttlab-second").await.as_deref(), Some("0"));
    // Reading a user counts as using it: "first" is now the newer of the two.
    assert_eq!(segment_of(&h, "ttlab-first").await.as_deref(), Some("0"));
    // Fill the store (through the same call the endpoint makes; the HTTP
    // path is covered above and in the cli's memory test). Names the
    // scenario does not have are not kept.
    let junk: HashMap<String, String> = (0..50)
        .map(|i| (format!("junk-{i}"), "x".repeat(100)))
        .collect();
    for i in 0..MAX_EXTERNAL_VISITORS - 1 {
        state.set_attributes(&format!("ttlab-filler-{i}"), &junk);
    }
    assert_eq!(state.external_visitors(), MAX_EXTERNAL_VISITORS);
    assert_eq!(
        segment_of(&h, "ttlab-first").await.as_deref(),
        Some("0"),
        "the recently used user is kept"
    );
    // "second" was the least recently used: it is gone, and comes back as
    // a new user with no attributes (no segment), as the real API treats a
    // user it has never seen.
    assert_eq!(segment_of(&h, "ttlab-second").await, None);
    assert_eq!(state.external_visitors(), MAX_EXTERNAL_VISITORS);
    set_country(&h, "ttlab-second", "DE").await;
    assert_eq!(segment_of(&h, "ttlab-second").await.as_deref(), Some("0"));
    assert_eq!(state.external_visitors(), MAX_EXTERNAL_VISITORS);
    // A merge into a new user keeps the store at its bound too.
    let r = h
        .http
        .post(h.p("/user-attributes/actions/merge"))
        .header("x-project-uid", "ttlab-project")
        .body(r#"{"sourceUserUid":"ttlab-first","targetUserUid":"ttlab-merged"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(segment_of(&h, "ttlab-merged").await.as_deref(), Some("0"));
    assert_eq!(state.external_visitors(), MAX_EXTERNAL_VISITORS);
    h.mocks.shutdown().await;
}

/// Lines of one metric family in the Prometheus text.
fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .collect()
}

#[tokio::test]
async fn label_values_come_from_the_scenario_not_from_input() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let post = |body: String| {
        h.http
            .post(h.p("/events"))
            .header("x-project-uid", "ttlab-project")
            .header("x-cs-personalize-user-uid", "ttlab-u")
            .body(body)
            .send()
    };
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.push(serde_json::json!({"type": "IMPRESSION", "experienceShortUid": format!("e{i}"), "variantShortUid": format!("v{i}")}));
        batch.push(serde_json::json!({"type": "IMPRESSION", "experienceShortUid": "0", "variantShortUid": format!("v{i}")}));
    }
    batch.push(serde_json::json!({"type": "IMPRESSION", "experienceShortUid": "0", "variantShortUid": "1"}));
    batch.push(
        serde_json::json!({"type": "EVENT", "eventKey": "k".repeat(MAX_EVENT_KEY_BYTES + 1)}),
    );
    batch.push(serde_json::json!({"type": "EVENT", "eventKey": "signup"}));
    let r = post(Value::Array(batch).to_string()).await.unwrap();
    assert_eq!(r.status(), 200);
    let m = &h.mocks.state.metrics;
    assert_eq!(m.impressions("0", "1"), 1, "known ids keep their labels");
    assert_eq!(m.impressions("0", UNKNOWN_LABEL), 500);
    assert_eq!(m.impressions(UNKNOWN_LABEL, UNKNOWN_LABEL), 500);
    assert_eq!(m.impressions("e1", "v1"), 0);
    assert_eq!(m.events("signup"), 1);
    assert_eq!(m.events(OTHER_EVENT_KEY), 1, "an over-long key");
    let text = ttlab_test_support::metrics_text(&h.http, &h.mocks.personalize_url).await;
    // Experiences 0 (two variants), a (two), z (one): each variant, each
    // experience's unknown variant, and unknown/unknown.
    let impressions = series(&text, "ttlab_mock_impressions_total");
    assert_eq!(impressions.len(), 3, "{impressions:#?}");
    assert!(!text.contains("e1"), "no made-up id is a label");
    h.mocks.shutdown().await;
}

fn personalize_error(body: &Value, code: &str) {
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
}

fn delivery_error(body: &Value, code: u16) {
    assert_eq!(body["error_code"], code, "{body}");
    assert!(body["error_message"].is_string(), "{body}");
    assert!(body["errors"].is_object(), "{body}");
}

/// Sends raw bytes and reads the answer to the end (the request asks the
/// server to close). Bounded: 5 s.
async fn raw(base: &str, request: &[u8]) -> (u16, Value) {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
    let status = head[9..12].parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one list of every error the stack makes, per API
async fn every_error_of_the_http_stack_is_in_the_api_shape() {
    let limits = Limits {
        body_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let h = start(
        &SCENARIO,
        MockConfig {
            limits,
            ..MockConfig::default()
        },
    )
    .await;
    let client = &h.http;
    // 404 and 405 on both.
    let (s, b) = json(client.get(h.p("/nope")).send().await.unwrap()).await;
    assert_eq!(s, 404);
    personalize_error(&b, "personalize.NOT_FOUND");
    let r = client.delete(h.p("/manifest")).send().await.unwrap();
    assert!(r.headers().contains_key("allow"));
    let (s, b) = json(r).await;
    assert_eq!(s, 405);
    personalize_error(&b, "personalize.METHOD_NOT_ALLOWED");
    let (s, b) = json(
        client
            .post(h.d("/v3/content_types/hero/entries"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 405);
    delivery_error(&b, 405);
    let (s, b) = json(client.get(h.d("/v2/nope")).send().await.unwrap()).await;
    assert_eq!(s, 404);
    delivery_error(&b, 404);
    // 405 on the control surface, in the port's API shape.
    let (s, b) = json(client.get(h.p("/_ttlab/webhooks")).send().await.unwrap()).await;
    assert_eq!(s, 405);
    personalize_error(&b, "personalize.METHOD_NOT_ALLOWED");
    // 413: a body past the limit, declared or not.
    let big = vec![b' '; limits.max_body_bytes + 1];
    let (s, b) = json(
        client
            .patch(h.p("/user-attributes"))
            .header("x-project-uid", "ttlab-project")
            .header("x-cs-personalize-user-uid", "u")
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 413);
    personalize_error(&b, "personalize.PAYLOAD_TOO_LARGE");
    let (s, b) = json(
        client
            .post(h.d("/_ttlab/webhooks"))
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 413);
    delivery_error(&b, 413);
    // 431: headers past the limit; 414: a target past its limit.
    let (s, b) = json(
        h.manifest(Some("u"))
            .header("x-big", "x".repeat(limits.max_header_bytes))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 431);
    personalize_error(&b, "personalize.HEADERS_TOO_LARGE");
    let mut many = h.cda("/v3/content_types/hero/entries?environment=production");
    for i in 0..=limits.max_headers {
        many = many.header(format!("x-h{i}"), "v");
    }
    let (s, b) = json(many.send().await.unwrap()).await;
    assert_eq!(s, 431);
    delivery_error(&b, 431);
    let (s, b) = h
        .cda_json(&format!(
            "/v3/content_types/hero/entries?environment=production&q={}",
            "q".repeat(limits.max_uri_bytes)
        ))
        .await;
    assert_eq!(s, 414);
    delivery_error(&b, 414);
    // 408: a body that stops coming.
    let (s, b) = raw(
        &h.mocks.personalize_url,
        b"PATCH /user-attributes HTTP/1.1\r\nhost: x\r\nx-project-uid: ttlab-project\r\nx-cs-personalize-user-uid: u\r\ncontent-length: 20\r\nconnection: close\r\n\r\n{\"cou",
    )
    .await;
    assert_eq!(s, 408);
    personalize_error(&b, "personalize.REQUEST_TIMEOUT");
    // Extractor rejections: a JSON body that is not JSON, one without a
    // JSON content type, a query missing a field.
    let (s, b) = json(
        client
            .post(h.p("/_ttlab/webhooks"))
            .header("content-type", "application/json")
            .body("{nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    personalize_error(&b, "personalize.BAD_REQUEST");
    let (s, b) = json(
        client
            .post(h.d("/_ttlab/webhooks"))
            .body(r#"{"url":"http://127.0.0.1:9/"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 415);
    delivery_error(&b, 415);
    let (s, b) = json(
        client
            .get(h.p("/_ttlab/truth/variants"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    personalize_error(&b, "personalize.BAD_REQUEST");
    assert!(
        b["message"].as_str().unwrap().contains("visitor"),
        "the rejection says what is wrong: {b}"
    );
    h.mocks.shutdown().await;
}

/// The population's uids come a page at a time (a population may be ten
/// million visitors): every uid once, in order, pages of at most
/// `VISITORS_PAGE_MAX`, the total said, an offset past the end empty.
#[tokio::test]
async fn the_visitor_list_comes_a_page_at_a_time() {
    use ttlab_mock_apis::VISITORS_PAGE_MAX;
    let population = VISITORS_PAGE_MAX * 2 + 7;
    assert!(SCENARIO.contains("visitors = 300\n"));
    let toml = SCENARIO.replace("visitors = 300\n", &format!("visitors = {population}\n"));
    let h = start(&toml, MockConfig::default()).await;
    let page = |q: String| {
        let h = &h;
        async move {
            let (status, body) = json(
                h.http
                    .get(h.p(&format!("/_ttlab/visitors{q}")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["total"], population, "{q}");
            body["visitors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect::<Vec<String>>()
        }
    };
    let first = page(String::new()).await;
    assert_eq!(
        first.len(),
        VISITORS_PAGE_MAX as usize,
        "the default page is the most"
    );
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let got = page(format!("?offset={offset}&limit=5000")).await;
        if got.is_empty() {
            break;
        }
        assert!(got.len() <= 5000);
        offset += got.len();
        all.extend(got);
    }
    assert_eq!(all.len(), population as usize);
    assert_eq!(all[..first.len()], first[..]);
    for (v, uid) in all.iter().enumerate() {
        assert_eq!(*uid, h.world.uid(v as u32).to_string(), "visitor {v}");
    }
    let big = page("?limit=4000000000".to_owned()).await;
    assert_eq!(
        big.len(),
        VISITORS_PAGE_MAX as usize,
        "a larger limit is capped"
    );
    assert!(page(format!("?offset={}", population + 5)).await.is_empty());
    h.mocks.shutdown().await;
}
