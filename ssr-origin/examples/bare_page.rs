//! The benchmark baseline: a bare axum handler answering every GET with the
//! same bytes (a page saved from the stack), so a benchmark can compare the
//! cache layers against the cost of HTTP alone.
//!
//! Usage: `cargo run --release -p ttlab-ssr-origin --example bare_page -- PAGE.html`

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;

// The same allocator as the `ttlab` binary, so the baseline is fair.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bare_page PAGE.html");
        std::process::exit(2);
    };
    let body = Bytes::from(
        std::fs::read(&path).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))?,
    );
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "text/html; charset=utf-8")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
