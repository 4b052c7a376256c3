//! `cache::http::evaluate` on a typical origin response, the work a
//! `policy = "http"` layer (and the simulator) does once per fill: parse
//! `Cache-Control` and the targeted fields, `Date`, `Age`, `Vary`, decide
//! storability, lifetime, windows and initial age. Also the secondary key
//! of a request for its `Vary: Cookie`, and the parse of the directives
//! alone.
//!
//! `cargo bench -p ttlab-ssr-origin --bench http_policy`. Numbers and how
//! they were taken: `docs/performance.md`.

#![allow(missing_docs)] // criterion's macros write undocumented items

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use criterion::{Criterion, criterion_group, criterion_main};
use ttlab_ssr_origin::cache::http::{self, Exchange, HttpPolicy, ResponseDirectives};

fn typical() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(
            "public, s-maxage=60, stale-while-revalidate=30, stale-if-error=300",
        ),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_static("\"v3-home-a1b2c3d4\""),
    );
    h.insert(
        header::DATE,
        HeaderValue::from_static("Tue, 14 Nov 2023 22:13:20 GMT"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    h.insert(
        HeaderName::from_static("surrogate-key"),
        HeaderValue::from_static("page:home entry:hero entry:banner"),
    );
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("18342"));
    h
}

fn bench(c: &mut Criterion) {
    let policy = HttpPolicy::default();
    let response = typical();
    let mut request = HeaderMap::new();
    request.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
    request.insert(
        header::COOKIE,
        HeaderValue::from_static("cs-personalize-user-uid=4f9c1e; theme=dark"),
    );
    let request_time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let response_time = request_time + Duration::from_millis(12);

    c.bench_function("evaluate/typical", |b| {
        b.iter(|| {
            http::evaluate(
                black_box(&policy),
                black_box(&Exchange {
                    method: &Method::GET,
                    status: 200,
                    request: &request,
                    response: &response,
                    request_time,
                    response_time,
                }),
            )
        });
    });

    let vary = http::Vary::parse(&response);
    let none = |_: &HeaderName, _: &[&HeaderValue]| None;
    c.bench_function("secondary/cookie", |b| {
        b.iter(|| black_box(&vary).secondary(black_box(&request), &none));
    });

    let cc = response.get(header::CACHE_CONTROL).unwrap();
    c.bench_function("directives/typical", |b| {
        b.iter(|| ResponseDirectives::parse([black_box(cc)]));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
