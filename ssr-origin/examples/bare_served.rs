//! The benchmark baseline through ttlab's own accept loop: the bare handler
//! of `bare_page.rs`, served by `ttlab_http_serve::serve` with the limits
//! and error shape every ttlab server has. Beside `bare_page` (served by
//! `axum::serve`), it measures what the accept loop itself costs, so a
//! benchmark can tell that cost from a cache layer's.
//!
//! Usage: `cargo run --release -p ttlab-ssr-origin --example bare_served -- PAGE.html`

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;

// The same allocator as the `ttlab` binary, so the baseline is fair.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bare_served PAGE.html");
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
    let serving = ttlab_http_serve::serve(
        listener,
        app,
        ttlab_http_serve::Limits::default(),
        ttlab_ssr_origin::stack::LayerShape,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    );
    let _ = serving.task.await;
    Ok(())
}
