//! The cache that follows HTTP (`ttlab serve cdn`) against real upstreams on
//! loopback: purge by `Surrogate-Key` and by URL, every method passed on with
//! its body, an upstream's own errors passed on untouched, one fill for a
//! stampede, stale-if-error from the headers, and hostile header values that
//! the cache survives. (The cache-tests suite checks the HTTP rules at
//! large: `docs/conformance.md`; the properties in `tests/properties/p9_http.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ttlab_scenarios::{Clock, ManualClock, Micros};
use ttlab_ssr_origin::http_proxy::{HttpProxy, HttpProxyOptions, proxy_clock};

/// An upstream answering every request with `answer`, counting them.
struct Upstream {
    url: String,
    hits: Arc<AtomicUsize>,
}

type Answer = fn(&Request, usize) -> Response;

async fn start_upstream(answer: Answer) -> Upstream {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .fallback(
            |State((hits, answer)): State<(Arc<AtomicUsize>, Answer)>, req: Request| async move {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                if req.uri().path() == "/slow" {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                if req.uri().path() == "/echo" {
                    let method = req.method().to_string();
                    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                        .await
                        .unwrap_or_default();
                    return (
                        StatusCode::CREATED,
                        format!("{method} {}", String::from_utf8_lossy(&body)),
                    )
                        .into_response();
                }
                answer(&req, n)
            },
        )
        .with_state((hits.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Upstream { url, hits }
}

/// The cache in front of `upstream`, served on loopback; its URL.
async fn start_cache(upstream: &str, clock: Arc<dyn Clock>) -> (String, Arc<HttpProxy>) {
    let proxy = Arc::new(HttpProxy::new(HttpProxyOptions::new(upstream), clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = ttlab_ssr_origin::http_proxy::serve(&proxy, listener, std::future::pending());
    std::mem::forget(serving);
    (url, proxy)
}

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::get(url).await.expect("the cache answers");
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, cache, r.text().await.unwrap_or_default())
}

fn page(body: String, headers: &[(&'static str, &'static str)]) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    for (k, v) in headers {
        r.headers_mut().append(*k, HeaderValue::from_static(v));
    }
    r
}

#[tokio::test]
async fn purge_by_surrogate_key_and_by_url() {
    let up = start_upstream(|req, n| {
        let keys = if req.uri().path() == "/x" { "a b" } else { "b" };
        let mut r = page(format!("fetch {n}"), &[("cache-control", "max-age=600")]);
        r.headers_mut()
            .insert("surrogate-key", HeaderValue::from_static(keys));
        r
    })
    .await;
    let (cache, _) = start_cache(&up.url, proxy_clock()).await;
    for path in ["/x", "/y"] {
        assert_eq!(get(&format!("{cache}{path}")).await.1, "cdn=MISS");
        assert_eq!(get(&format!("{cache}{path}")).await.1, "cdn=HIT");
    }
    let client = reqwest::Client::new();
    let purged = client
        .post(format!("{cache}/_ttlab/purge?key=a"))
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 200);
    assert_eq!(purged.text().await.unwrap(), r#"{"purged":1}"#);
    assert_eq!(
        get(&format!("{cache}/x")).await.1,
        "cdn=MISS",
        "key a purged /x"
    );
    assert_eq!(
        get(&format!("{cache}/y")).await.1,
        "cdn=HIT",
        "/y has no key a"
    );
    let purged = client
        .post(format!("{cache}/_ttlab/purge?url=/y"))
        .send()
        .await
        .unwrap();
    assert_eq!(purged.text().await.unwrap(), r#"{"purged":1}"#);
    assert_eq!(get(&format!("{cache}/y")).await.1, "cdn=MISS");
    // Neither or both: a clear error, nothing purged.
    let bad = client
        .post(format!("{cache}/_ttlab/purge?key=a&url=/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("exactly one"));
    assert_eq!(get(&format!("{cache}/x")).await.1, "cdn=HIT");
    // Purges never reach the upstream.
    assert_eq!(up.hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn every_method_passes_on_with_its_body_and_errors_pass_untouched() {
    let up = start_upstream(|req, _| match req.uri().path() {
        // An upstream's bare 404 (no content type, no body).
        "/missing" => StatusCode::NOT_FOUND.into_response(),
        _ => page("ok".into(), &[("cache-control", "max-age=600")]),
    })
    .await;
    let (cache, _) = start_cache(&up.url, proxy_clock()).await;
    let client = reqwest::Client::new();
    for method in ["PUT", "POST", "PATCH", "DELETE", "OPTIONS", "M-SEARCH"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = client
            .request(m, format!("{cache}/echo"))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{method}");
        assert_eq!(r.text().await.unwrap(), format!("{method} hello"));
    }
    let r = reqwest::get(format!("{cache}/missing")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("content-type").is_none(), "passed on as is");
    assert_eq!(r.text().await.unwrap(), "");
}

#[tokio::test]
async fn a_stampede_is_one_fill() {
    let up = start_upstream(|_, n| page(format!("fetch {n}"), &[("cache-control", "max-age=600")]))
        .await;
    let (cache, proxy) = start_cache(&up.url, proxy_clock()).await;
    let url = format!("{cache}/slow");
    let answers = futures::future::join_all((0..20).map(|_| get(&url))).await;
    assert!(
        answers
            .iter()
            .all(|(s, _, body)| *s == 200 && body == "fetch 0")
    );
    assert_eq!(up.hits.load(Ordering::SeqCst), 1, "one upstream fetch");
    assert_eq!(proxy.layer.counters().snapshot().coalesced, 19);
}

#[tokio::test]
async fn stale_if_error_comes_from_the_headers() {
    let up = start_upstream(|_, n| {
        if n == 0 {
            page(
                "first".into(),
                &[("cache-control", "max-age=1, stale-if-error=60")],
            )
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
        }
    })
    .await;
    let clock = Arc::new(ManualClock::at(Micros::from_secs(10_000)));
    let (cache, _) = start_cache(&up.url, clock.clone()).await;
    assert_eq!(
        get(&format!("{cache}/p")).await,
        (200, "cdn=MISS".into(), "first".into())
    );
    clock.advance(Micros::from_secs(5));
    assert_eq!(
        get(&format!("{cache}/p")).await,
        (200, "cdn=STALE".into(), "first".into())
    );
    clock.advance(Micros::from_secs(60));
    let (status, _, _) = get(&format!("{cache}/p")).await;
    assert_eq!(
        status, 503,
        "past stale-if-error the upstream's failure shows"
    );
}

/// Each kind of hostile value an upstream can send: the cache answers every
/// request (passing the answer on) and goes on answering.
#[tokio::test]
async fn hostile_header_values_do_not_break_the_cache() {
    fn hostile(req: &Request, _: usize) -> Response {
        let cases: &[(&str, &[u8])] = &[
            ("cache-control", b"max-age=99999999999999999999999999999999"),
            (
                "cache-control",
                b"max-age=5, max-age=0, max-age=-1, s-maxage=\"7\"",
            ),
            (
                "cache-control",
                b"max-age=\xff\xfe, no-cache=\"a,,b\", private=\"",
            ),
            ("age", b"-5"),
            ("age", b"1e9, 3"),
            ("expires", b"Tue, 99 Foo 10000 99:99:99 GMT"),
            ("date", b"yesterday"),
            ("vary", b", , ?/{}, \xff"),
            ("etag", b"W/\"\xff"),
            ("last-modified", b"0"),
            ("surrogate-control", b"max-age=3;;;ttlab, content=\"x"),
            ("cdn-cache-control", b"max-age=?1, ,=,"),
        ];
        let i: usize = req
            .uri()
            .path()
            .trim_start_matches("/h")
            .parse()
            .unwrap_or(0);
        let mut r = (StatusCode::OK, "body").into_response();
        if let Some((name, value)) = cases.get(i) {
            r.headers_mut()
                .append(*name, HeaderValue::from_bytes(value).unwrap());
            r.headers_mut()
                .append("cache-control", HeaderValue::from_static("max-age=30"));
        } else {
            // One 64 KiB value.
            let big = "max-age=1, ".repeat(64 * 1024 / 11);
            r.headers_mut()
                .insert("cache-control", HeaderValue::from_str(&big).unwrap());
        }
        r
    }
    let up = start_upstream(hostile).await;
    let (cache, _) = start_cache(&up.url, proxy_clock()).await;
    for i in 0..=12 {
        for _ in 0..2 {
            let (status, _, body) = get(&format!("{cache}/h{i}")).await;
            assert_eq!((status, body.as_str()), (200, "body"), "case {i}");
        }
    }
    // Clients' hostile request directives too.
    let client = reqwest::Client::new();
    for v in [
        &b"max-age=-1"[..],
        b"max-stale",
        b"min-fresh=99999999999999999999",
        b"\xff",
    ] {
        let r = client
            .get(format!("{cache}/h0"))
            .header("cache-control", HeaderValue::from_bytes(v).unwrap())
            .header("if-none-match", HeaderValue::from_bytes(v).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(get(&format!("{cache}/h0")).await.0, 200, "still answering");
}
