//! The benchmark's floor for a variant hit: a bare axum handler that makes
//! the one Personalize call a variant-keyed origin cache cannot avoid — the
//! origin's own client (`Upstreams::manifest`: same reqwest client, same
//! headers, same budget), to the same mock — and answers with stored bytes.
//! Against it, `ssr-origin-variant`'s hit shows what the cache layer costs
//! over the call it must make.
//!
//! Usage: `cargo run --release -p ttlab-ssr-origin --example bare_personalize --
//! PAGE.html PERSONALIZE_URL SCENARIO.toml`

use std::sync::Arc;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use ttlab_scenarios::World;
use ttlab_ssr_origin::origin::UID_COOKIE;
use ttlab_ssr_origin::response::cookie;
use ttlab_ssr_origin::upstream::{UpstreamConfig, Upstreams};

// The same allocator as the `ttlab` binary, so the floor is fair.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [page, personalize_url, scenario] = args.as_slice() else {
        eprintln!("usage: bare_personalize PAGE.html PERSONALIZE_URL SCENARIO.toml");
        std::process::exit(2);
    };
    let body = Bytes::from(
        std::fs::read(page).map_err(|e| std::io::Error::new(e.kind(), format!("{page}: {e}")))?,
    );
    let scenario = ttlab_scenarios::load(std::path::Path::new(scenario))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let config = UpstreamConfig::for_mocks(
        personalize_url.trim_end_matches('/'),
        "http://127.0.0.1:9",
        &scenario.origin,
    );
    let upstreams = Arc::new(Upstreams::new(config, Arc::new(World::new(scenario))));
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let (body, upstreams) = (body.clone(), upstreams.clone());
        async move {
            match upstreams.manifest(cookie(&headers, UID_COOKIE)).await {
                Ok(_) => ([(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
