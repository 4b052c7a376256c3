//! The one accept loop every ttlab server runs: the mock APIs and the
//! origin, CDN and edge layers.
//!
//! `axum::serve` has no knobs for what a server on a shared machine needs:
//! a half-sent request held it open without end, a flood of connections
//! ran it into the file limit, and the HTTP library's own refusals (413,
//! 431, 405, extractor rejections) came out in no API's error shape. This
//! crate serves an axum [`Router`] over hyper's HTTP/1 connection builder
//! with:
//!
//! - a **header read timeout** ([`Limits::header_read_timeout`]): a
//!   connection that does not finish a request's headers in time — half
//!   sent, or idle between keep-alive requests — is closed;
//! - a **connection cap** ([`Limits::max_connections`], per listener): past
//!   it the loop stops accepting, so a new connection waits in the kernel's
//!   listen backlog and is served as soon as an open one closes;
//! - **request limits answered by the app** ([`guard`]): URI length, header
//!   count and bytes, body size and body read time, each below hyper's own
//!   limit so that the app's answer, in the API's error shape, comes first;
//! - **error answers in the API's shape**: an error response the app did
//!   not shape itself (axum's 405, an extractor's rejection) is rewritten
//!   by the server's [`ErrorShape`];
//! - **graceful shutdown** as `axum::serve` had it: on the stop signal the
//!   listener closes, requests in flight finish, idle connections close,
//!   and the task ends when the last connection has.
//!
//! What is left to hyper: a request it cannot parse (400), headers beyond
//! its read buffer ([`HYPER_BUFFER_BYTES`]) or more than 100 of them (431),
//! answered with an empty body before any of our code runs; and the header
//! read timeout, which closes the connection without an answer (there is
//! no request yet to answer).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

/// Hyper's read buffer per connection (its `max_buf_size`; its default is
/// about 400 KiB). Request headers beyond it are refused by hyper itself
/// with an empty 431, so it is kept well above [`Limits::max_header_bytes`],
/// and small enough that [`Limits::max_connections`] full buffers stay
/// bounded (2,048 × 64 KiB = 128 MiB at the very worst).
pub const HYPER_BUFFER_BYTES: usize = 64 * 1024;

/// Hyper's own cap on the number of request headers (its default, kept:
/// raising it moves the header array to the heap for every request).
pub const HYPER_MAX_HEADERS: usize = 100;

/// What one server accepts. The defaults are documented in
/// `docs/architecture.md` ("Servers: limits and error answers").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time to receive a request's headers, counted from when the server
    /// starts waiting for them (so it also closes a keep-alive connection
    /// idle that long). Past it hyper closes the connection.
    pub header_read_timeout: Duration,
    /// Connections served at once by one listener; past it the loop does
    /// not accept until one closes.
    pub max_connections: usize,
    /// Largest request target (path and query), in bytes: 414 past it.
    pub max_uri_bytes: usize,
    /// Most request headers: 431 past it. Below [`HYPER_MAX_HEADERS`], so
    /// the app answers first.
    pub max_headers: usize,
    /// Largest total size of the request headers (name, value and 4 bytes
    /// of framing each): 431 past it. Below [`HYPER_BUFFER_BYTES`].
    pub max_header_bytes: usize,
    /// Largest request body: 413 past it (at once when `content-length`
    /// says so). Bodies are read whole before the handler runs.
    pub max_body_bytes: usize,
    /// Time to receive a request's body once its headers are in: 408 past it.
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 2048,
            max_uri_bytes: 8 * 1024,
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

/// How one server writes an error it did not mean to answer itself: the
/// API's own error shape, so a client (an SDK) reads every error the same way.
pub trait ErrorShape: Clone + Send + Sync + 'static {
    /// The answer for `status` with `message`, to a request for `path`.
    fn error(&self, path: &str, status: StatusCode, message: &str) -> Response;

    /// Whether an error answer to a request for `path` is already in the
    /// shape (the app built it); others are rewritten with [`ErrorShape::error`].
    fn is_shaped(&self, path: &str, response: &Response) -> bool;
}

/// Counters of one listener, for tests and logs.
#[derive(Debug, Default)]
pub struct ConnStats {
    accepted: AtomicU64,
    open: AtomicUsize,
    at_cap: AtomicBool,
}

impl ConnStats {
    /// Connections accepted since the start.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Whether the loop is waiting for a connection to close before it
    /// accepts another (the cap is reached).
    pub fn at_cap(&self) -> bool {
        self.at_cap.load(Ordering::Relaxed)
    }
}

/// A listener being served.
pub struct Serving {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<ConnStats>,
    /// Ends when the stop signal came and every connection has closed.
    pub task: JoinHandle<()>,
}

/// Serves `app` on `listener` with `limits`, error answers in `shape`,
/// until `stop` completes (then gracefully: see the crate's doc).
pub fn serve<E, F>(listener: TcpListener, app: Router, limits: Limits, shape: E, stop: F) -> Serving
where
    E: ErrorShape,
    F: Future<Output = ()> + Send + 'static,
{
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let stats = Arc::new(ConnStats::default());
    let task = tokio::spawn(accept_loop(
        listener,
        app,
        Arc::new((limits, shape)),
        stats.clone(),
        stop,
    ));
    Serving { addr, stats, task }
}

async fn accept_loop<E, F>(
    listener: TcpListener,
    app: Router,
    guarded: Arc<(Limits, E)>,
    stats: Arc<ConnStats>,
    stop: F,
) where
    E: ErrorShape,
    F: Future<Output = ()> + Send + 'static,
{
    let limits = guarded.0;
    let mut stop = std::pin::pin!(stop);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(HYPER_BUFFER_BYTES);
    loop {
        if permits.available_permits() == 0 {
            stats.at_cap.store(true, Ordering::Relaxed);
        }
        let permit = tokio::select! {
            biased;
            () = &mut stop => break,
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        stats.at_cap.store(false, Ordering::Relaxed);
        let stream = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather
                    // than spin, as axum::serve does.
                    tracing::error!(error = %e, "accept failed; retrying in 1 s");
                    tokio::select! {
                        biased;
                        () = &mut stop => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let (app, guarded) = (app.clone(), guarded.clone());
        // The limits around the whole router, called straight from hyper's
        // service: no middleware layer to clone and box per request (that
        // cost a CDN hit 15% of its throughput).
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            guard(guarded.clone(), app.clone(), req.map(Body::new))
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let stats = stats.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// The request limits, then the router; an error answer not in the
/// server's shape is rewritten into it. Runs around every request to the
/// router given to [`serve`], its 404 and 405 answers included.
async fn guard<E: ErrorShape>(
    state: Arc<(Limits, E)>,
    app: Router,
    req: Request,
) -> Result<Response, std::convert::Infallible> {
    Ok(guarded(&state, app, req).await)
}

async fn guarded<E: ErrorShape>(state: &(Limits, E), app: Router, req: Request) -> Response {
    let (limits, shape) = state;
    // A clone of the URI shares its bytes: no copy per request for a path
    // only an error answer reads.
    let uri = req.uri().clone();
    let path = uri.path();
    let refuse = |status: StatusCode, message: String| shape.error(path, status, &message);
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > limits.max_uri_bytes {
        return refuse(
            StatusCode::URI_TOO_LONG,
            format!(
                "The request target is {uri_len} bytes, more than the {} allowed",
                limits.max_uri_bytes
            ),
        );
    }
    let count = req.headers().len();
    if count > limits.max_headers {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "The request has {count} headers, more than the {} allowed",
                limits.max_headers
            ),
        );
    }
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if size > limits.max_header_bytes {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "Request headers are {size} bytes, more than the {} allowed",
                limits.max_header_bytes
            ),
        );
    }
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The request body is larger than the {} bytes allowed",
                limits.max_body_bytes
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return too_large();
    }
    // A request without a body (every page view) goes straight on: no
    // timer to arm, nothing to collect.
    if req.body().is_end_stream() {
        return shaped(shape, path, route(app, req).await).await;
    }
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, limits.max_body_bytes).collect();
    let bytes = match tokio::time::timeout(limits.body_read_timeout, read).await {
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The request body did not arrive within {} ms",
                    limits.body_read_timeout.as_millis()
                ),
            );
        }
        Ok(Err(e)) if e.is::<LengthLimitError>() => return too_large(),
        Ok(Err(e)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("The request body could not be read: {e}"),
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let resp = route(app, Request::from_parts(parts, Body::from(bytes))).await;
    shaped(shape, path, resp).await
}

/// The router's answer (a router never fails: its error type is
/// `Infallible`).
async fn route(app: Router, req: Request) -> Response {
    match app.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// `resp`, or its error answer rewritten into the server's shape when the
/// app did not shape it.
async fn shaped<E: ErrorShape>(shape: &E, path: &str, resp: Response) -> Response {
    if (resp.status().is_client_error() || resp.status().is_server_error())
        && !shape.is_shaped(path, &resp)
    {
        return reshape(shape, path, resp).await;
    }
    resp
}

/// An unshaped error answer (axum's empty 405, an extractor's text
/// rejection) in the server's shape: same status, its text as the message
/// (the status's reason when it has none), and the `allow` header kept.
async fn reshape<E: ErrorShape>(shape: &E, path: &str, resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_owned()
    } else {
        text
    };
    let mut shaped = shape.error(path, parts.status, &message);
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        shaped.headers_mut().insert(header::ALLOW, allow.clone());
    }
    shaped
}

/// A `content-type` that starts with `application/json`.
pub fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
