//! The benchmark baseline: a bare axum handler answering every GET with the
//! same bytes (a page saved from the stack), so a benchmark can compare the
//! cache layers against the cost of HTTP alone.
//!
//! - `--headers FILE` answers with the header lines saved in FILE (`name:
//!   value`, as `curl -D` writes them) instead of a content type alone: the
//!   very bytes a cache hit sends, headers included, with no work behind them.
//! - `--ttlab-loop` serves through ttlab's own accept loop
//!   (`ttlab_http_serve::serve`: the limits, error shapes and header read
//!   timeout every ttlab server has) instead of `axum::serve`, to tell that
//!   loop's cost from a cache layer's.
//!
//! Usage: `cargo run --release -p ttlab-ssr-origin --example bare_page -- PAGE.html [--headers FILE] [--ttlab-loop]`

use axum::Router;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use bytes::Bytes;

// The same allocator as the `ttlab` binary, so the baseline is fair.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The header lines of a saved response: `name: value`, the status line,
/// blank lines and the fields hyper writes itself skipped.
fn saved_headers(path: &str) -> std::io::Result<HeaderMap> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))?;
    let mut h = HeaderMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        if matches!(name.as_str(), "content-length" | "date" | "connection") {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            h.append(n, v);
        }
    }
    Ok(h)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: bare_page PAGE.html [--headers FILE] [--ttlab-loop]");
        std::process::exit(2);
    };
    let ttlab_loop = args.iter().any(|a| a == "--ttlab-loop");
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Some(i) = args.iter().position(|a| a == "--headers") {
        let Some(file) = args.get(i + 1) else {
            eprintln!("--headers needs a file");
            std::process::exit(2);
        };
        headers = saved_headers(file)?;
    }
    let body = Bytes::from(
        std::fs::read(path).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))?,
    );
    let app = Router::new().fallback(move || {
        let (body, headers) = (body.clone(), headers.clone());
        async move {
            let mut r = Response::new(Body::from(body));
            *r.headers_mut() = headers;
            r
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if ttlab_loop {
        let serving = ttlab_http_serve::serve(
            listener,
            app,
            ttlab_http_serve::Limits::default(),
            ttlab_ssr_origin::stack::LayerShape,
            stop,
        );
        let _ = serving.task.await;
        Ok(())
    } else {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
    }
}
