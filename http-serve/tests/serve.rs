//! The shared accept loop on real sockets (127.0.0.1, port 0): the header
//! read timeout, the connection cap, keep-alive traffic, the request
//! limits and error answers in the server's shape, graceful shutdown.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use ttlab_http_serve::{ErrorShape, HYPER_BUFFER_BYTES, Limits, Serving, serve};
use ttlab_test_support::wait_until_async;

/// A shape no library writes by itself: `{"shaped": status, "message"}`.
#[derive(Clone)]
struct TestShape;

impl ErrorShape for TestShape {
    fn error(&self, _path: &str, status: StatusCode, message: &str) -> Response {
        (
            status,
            axum::Json(serde_json::json!({ "shaped": status.as_u16(), "message": message })),
        )
            .into_response()
    }

    fn is_shaped(&self, _path: &str, response: &Response) -> bool {
        ttlab_http_serve::is_json(response)
    }
}

struct Server {
    serving: Serving,
    stop: watch::Sender<bool>,
}

impl Server {
    fn addr(&self) -> SocketAddr {
        self.serving.addr
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.serving.task)
            .await
            .expect("the server stops within 10 s")
            .unwrap();
    }
}

async fn start(limits: Limits) -> Server {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow ok"
            }),
        )
        .route(
            "/echo",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/json",
            post(|axum::Json(v): axum::Json<serde_json::Value>| async move { v.to_string() }),
        )
        .route(
            "/own-error",
            get(|| async {
                (
                    StatusCode::IM_A_TEAPOT,
                    axum::Json(serde_json::json!({ "own": "the app's own error" })),
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, mut rx) = watch::channel(false);
    let serving = serve(listener, app, limits, TestShape, async move {
        let _ = rx.wait_for(|s| *s).await;
    });
    Server { serving, stop }
}

/// Reads one response (head and a `content-length` body) from `s`, at
/// most `within`; `None` when nothing came in time.
async fn read_response(s: &mut TcpStream, within: Duration) -> Option<(u16, String, String)> {
    let mut buf = Vec::new();
    let deadline = Instant::now() + within;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                return Some((status, head, body));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) => panic!("closed before a whole response: {buf:?}"),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => panic!("read failed: {e}"),
            Err(_) => {
                assert!(buf.is_empty(), "half a response: {buf:?}");
                return None;
            }
        }
    }
}

/// Sends `request` on a new connection and reads the answer.
async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_response(&mut s, Duration::from_secs(5))
        .await
        .expect("an answer within 5 s")
}

/// Waits for the server to close `s` (EOF or reset), at most `within`;
/// fails if any byte comes first.
async fn closed_within(s: &mut TcpStream, within: Duration) {
    let mut chunk = [0u8; 1024];
    match tokio::time::timeout(within, s.read(&mut chunk)).await {
        Ok(Ok(0) | Err(_)) => {}
        Ok(Ok(n)) => panic!(
            "an answer instead of a close: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(elapsed) => panic!("still open after {within:?} ({elapsed})"),
    }
}

fn short_timeouts() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    }
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_timeout() {
    let server = start(short_timeouts()).await;
    let started = Instant::now();
    let mut conns = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        // Headers begun, never finished.
        s.write_all(format!("GET / HTTP/1.1\r\nhost: x\r\nx-n: {i}\r\n").as_bytes())
            .await
            .unwrap();
        conns.push(s);
    }
    wait_until_async(
        Duration::from_secs(5),
        "200 connections are open",
        async || server.serving.stats.open() == 200,
    )
    .await;
    for s in &mut conns {
        closed_within(s, Duration::from_secs(10)).await;
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500),
        "closed only after the timeout, not before: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "all closed soon after the timeout: {took:?}"
    );
    wait_until_async(
        Duration::from_secs(5),
        "no connection is open",
        async || server.serving.stats.open() == 0,
    )
    .await;
    // A connection idle after a whole request is closed the same way.
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut s, Duration::from_secs(5)).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ok"));
    let idle = Instant::now();
    closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(idle.elapsed() >= Duration::from_millis(450));
    server.shutdown().await;
}

#[tokio::test]
async fn a_connection_past_the_cap_waits_until_one_closes() {
    let server = start(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut a = TcpStream::connect(server.addr()).await.unwrap();
    let mut b = TcpStream::connect(server.addr()).await.unwrap();
    for s in [&mut a, &mut b] {
        s.write_all(request).await.unwrap();
        let (status, _, _) = read_response(s, Duration::from_secs(5)).await.unwrap();
        assert_eq!(status, 200);
    }
    wait_until_async(
        Duration::from_secs(5),
        "the loop waits at the cap",
        async || server.serving.stats.at_cap(),
    )
    .await;
    // The kernel completes the handshake (the backlog), but nobody reads.
    let mut c = TcpStream::connect(server.addr()).await.unwrap();
    c.write_all(request).await.unwrap();
    assert!(
        read_response(&mut c, Duration::from_millis(300))
            .await
            .is_none(),
        "the third connection is not served while two are open"
    );
    assert_eq!(server.serving.stats.accepted(), 2);
    // The two open ones are still served.
    a.write_all(request).await.unwrap();
    assert_eq!(
        read_response(&mut a, Duration::from_secs(5))
            .await
            .unwrap()
            .0,
        200
    );
    drop(b);
    let (status, _, body) = read_response(&mut c, Duration::from_secs(5))
        .await
        .expect("served once one connection closed");
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(server.serving.stats.accepted(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn keep_alive_traffic_is_unaffected() {
    // A timeout long enough that a loaded machine does not stall the
    // client past it between two back-to-back requests.
    let timeout = Duration::from_secs(3);
    let server = start(Limits {
        header_read_timeout: timeout,
        ..Limits::default()
    })
    .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let url = format!("http://{}/", server.addr());
    // Back to back, then with pauses shorter than the header timeout that
    // add up to far more than it: the timer is per request, not per
    // connection.
    for _ in 0..300 {
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok");
    }
    let started = Instant::now();
    for _ in 0..8 {
        tokio::time::sleep(timeout / 5).await;
        let r = client
            .post(format!("http://{}/echo", server.addr()))
            .body(vec![b'x'; 100_000])
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "100000");
    }
    assert!(
        started.elapsed() > timeout,
        "the pauses add up past the timeout"
    );
    assert_eq!(
        server.serving.stats.accepted(),
        1,
        "every request went over the one kept-alive connection"
    );
    server.shutdown().await;
}

fn shaped(status: u16, body: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    assert_eq!(v["shaped"], status, "{v}");
    v
}

#[tokio::test]
async fn every_error_of_the_stack_is_in_the_shape() {
    let server = start(short_timeouts()).await;
    let addr = server.addr();
    let limits = short_timeouts();
    // Request target too long.
    let long = format!(
        "GET /?q={} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "a".repeat(limits.max_uri_bytes)
    );
    let (status, _, body) = exchange(addr, long.as_bytes()).await;
    assert_eq!(status, 414);
    shaped(414, &body);
    // Too many headers (fewer than hyper's 100).
    let mut many = String::from("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for i in 0..limits.max_headers {
        let _ = write!(many, "x-h{i}: v\r\n");
    }
    many.push_str("\r\n");
    let (status, _, body) = exchange(addr, many.as_bytes()).await;
    assert_eq!(status, 431);
    assert!(
        shaped(431, &body)["message"]
            .as_str()
            .unwrap()
            .contains("headers")
    );
    // Header bytes past the app's limit, well within hyper's buffer.
    let big = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-big: {}\r\n\r\n",
        "b".repeat(limits.max_header_bytes)
    );
    let (status, _, body) = exchange(addr, big.as_bytes()).await;
    assert_eq!(status, 431);
    shaped(431, &body);
    // Body too large, declared.
    let declared = format!(
        "POST /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        limits.max_body_bytes + 1
    );
    let (status, _, body) = exchange(addr, declared.as_bytes()).await;
    assert_eq!(status, 413);
    shaped(413, &body);
    // Body too large, chunked (no length said up front).
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = vec![b'z'; 64 * 1024];
    for _ in 0..=(limits.max_body_bytes / chunk.len()) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if s.write_all(&frame).await.is_err() {
            break;
        }
    }
    let (status, _, body) = read_response(&mut s, Duration::from_secs(5)).await.unwrap();
    assert_eq!(status, 413);
    shaped(413, &body);
    // A body that stops coming: 408 after the body timeout.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhalf!")
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut s, Duration::from_secs(5)).await.unwrap();
    assert_eq!(status, 408);
    shaped(408, &body);
    // Unknown route, wrong method (with its `allow`), extractor rejections.
    let (status, _, body) = exchange(
        addr,
        b"GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 404);
    shaped(404, &body);
    let (status, head, body) = exchange(
        addr,
        b"GET /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405);
    shaped(405, &body);
    assert!(head.to_ascii_lowercase().contains("allow: post"), "{head}");
    let bad_json = b"POST /json HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\n{nope";
    let (status, _, body) = exchange(addr, bad_json).await;
    assert_eq!(status, 400);
    assert!(
        shaped(400, &body)["message"]
            .as_str()
            .unwrap()
            .contains("JSON"),
        "the rejection's own words are kept: {body}"
    );
    let no_type =
        b"POST /json HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}";
    let (status, _, body) = exchange(addr, no_type).await;
    assert_eq!(status, 415);
    shaped(415, &body);
    // The app's own error answers pass as they are.
    let (status, _, body) = exchange(
        addr,
        b"GET /own-error HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (418, r#"{"own":"the app's own error"}"#)
    );
    server.shutdown().await;
}

/// What is left to hyper, pinned so the documentation stays true: more
/// than 100 headers, or headers past its buffer, are refused before any of
/// our code runs, with an empty 431.
#[tokio::test]
async fn hyper_refuses_what_is_past_its_own_limits() {
    let server = start(Limits::default()).await;
    let mut many = String::from("GET / HTTP/1.1\r\nhost: x\r\n");
    for i in 0..120 {
        let _ = write!(many, "x-h{i}: v\r\n");
    }
    many.push_str("\r\n");
    let (status, _, body) = exchange(server.addr(), many.as_bytes()).await;
    assert_eq!((status, body.as_str()), (431, ""));
    let huge = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "h".repeat(2 * HYPER_BUFFER_BYTES)
    );
    let (status, _, body) = exchange(server.addr(), huge.as_bytes()).await;
    assert_eq!((status, body.as_str()), (431, ""));
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let server = start(Limits::default()).await;
    let addr = server.addr();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    wait_until_async(
        Duration::from_secs(5),
        "the slow request is in",
        async || server.serving.stats.accepted() == 1,
    )
    .await;
    let Server { serving, stop } = server;
    let _ = stop.send(true);
    let (status, _, body) = read_response(&mut s, Duration::from_secs(5)).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "slow ok"));
    tokio::time::timeout(Duration::from_secs(5), serving.task)
        .await
        .expect("the loop ends once the connection is done")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
