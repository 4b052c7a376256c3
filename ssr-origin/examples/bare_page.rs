//! The benchmark baseline: a bare axum handler answering every GET with the
//! same bytes (a page saved from the stack), so a benchmark can compare the
//! cache layers against the cost of HTTP alone — served by `axum::serve`,
//! or with `--ttlab-loop` by ttlab's own accept loop
//! (`ttlab_http_serve::serve`: the limits, error shapes and header read
//! timeout every ttlab server has), to tell that loop's cost from a cache
//! layer's.
//!
//! Usage: `cargo run --release -p ttlab-ssr-origin --example bare_page -- PAGE.html [--ttlab-loop]`

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;

// The same allocator as the `ttlab` binary, so the baseline is fair.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bare_page PAGE.html [--ttlab-loop]");
        std::process::exit(2);
    };
    let ttlab_loop = std::env::args().nth(2).as_deref() == Some("--ttlab-loop");
    let body = Bytes::from(
        std::fs::read(&path).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))?,
    );
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "text/html; charset=utf-8")], body) }
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
