//! Errors the HTTP stack makes at the origin and at the edge in front of it
//! are in the layers' own error shape: on pages the plain text
//! `"<status> <reason>: <message>"` with `cache-control: no-store` (as an
//! upstream failure is answered), under `/_ttlab/` the webhook endpoint's
//! JSON `{"error": …}`.

mod common;

use common::{fetch, lab, scenario};
use ttlab_http_serve::Limits;

const EDGE: &str = "[[architectures]]\nname = \"ssr-edge\"\ncache = { purge_on_publish = true }";

async fn plain(r: reqwest::RequestBuilder, status: u16) -> String {
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["cache-control"], "no-store", "never stored");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    let reason = reqwest::StatusCode::from_u16(status)
        .unwrap()
        .canonical_reason()
        .unwrap();
    assert!(
        text.starts_with(&format!("{status} {reason}: ")),
        "the layers' page error shape: {text:?}"
    );
    text
}

async fn json_error(r: reqwest::RequestBuilder, status: u16) -> String {
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), status);
    let body: serde_json::Value = r.json().await.unwrap();
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{{\"error\": …}}: {body}"))
        .to_owned()
}

#[tokio::test]
async fn stack_errors_at_the_origin_and_the_edge_are_in_the_layers_shape() {
    let lab = lab(&scenario("", EDGE), 0).await;
    let limits = Limits::default();
    let edge = lab.stack.proxy_url.clone().unwrap();
    let origin = lab.stack.origin_url.clone();
    for base in [&edge, &origin] {
        let c = &lab.http;
        // 405 on /metrics (axum's own, bare until reshaped), with `allow`.
        let text = plain(c.post(format!("{base}/metrics")), 405).await;
        assert!(text.contains("Method Not Allowed"), "{text}");
        // Headers, target and body past the limits, on a page.
        plain(
            c.get(format!("{base}/"))
                .header("x-big", "x".repeat(limits.max_header_bytes)),
            431,
        )
        .await;
        plain(
            c.get(format!("{base}/?q={}", "q".repeat(limits.max_uri_bytes))),
            414,
        )
        .await;
        plain(
            c.get(format!("{base}/"))
                .body(vec![b'b'; limits.max_body_bytes + 1]),
            413,
        )
        .await;
        // The webhook endpoint: wrong method, a body that is not JSON, a
        // body past the limit.
        let msg = json_error(c.get(format!("{base}/_ttlab/webhook/publish")), 405).await;
        assert!(msg.contains("Method Not Allowed"), "{msg}");
        let msg = json_error(
            c.post(format!("{base}/_ttlab/webhook/publish"))
                .header("content-type", "application/json")
                .body("{nope"),
            400,
        )
        .await;
        assert!(msg.contains("JSON"), "{msg}");
        json_error(
            c.post(format!("{base}/_ttlab/webhook/publish"))
                .header("content-type", "application/json")
                .body(vec![b' '; limits.max_body_bytes + 1]),
            413,
        )
        .await;
        // The layers' own errors pass as they were.
        let page = fetch(c.get(format!("{base}/no-such-page"))).await;
        assert_eq!(page.status, 404);
        assert!(
            page.body.contains("no page at /no-such-page"),
            "{}",
            page.body
        );
    }
    lab.stop().await;
}
