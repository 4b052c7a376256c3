//! The HTTP endpoint of `--metrics-addr`: `GET /metrics` answers the run's
//! [`LiveMetrics`] in the OpenMetrics text format, on the same accept loop
//! as every ttlab server (limits, graceful stop).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ttlab_http_serve::{ErrorShape, Limits};

use super::openmetrics::{CONTENT_TYPE, LiveMetrics};

/// Why the endpoint did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for metrics on {addr}: {source}")]
pub struct EndpointError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// What the system said.
    #[source]
    pub source: std::io::Error,
}

/// A running endpoint; it stops when [`MetricsEndpoint::stop`] is awaited
/// or the runtime ends.
pub struct MetricsEndpoint {
    /// Where it listens (the port chosen when port 0 was asked).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MetricsEndpoint {
    /// Binds `addr` and serves `metrics` there. Call from within a Tokio
    /// runtime.
    pub async fn start(
        addr: SocketAddr,
        metrics: Arc<LiveMetrics>,
    ) -> Result<MetricsEndpoint, EndpointError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| EndpointError { addr, source })?;
        let router = Router::new()
            .route("/metrics", get(scrape))
            .with_state(metrics);
        let (stop, mut stopped) = watch::channel(false);
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let serving = ttlab_http_serve::serve(listener, router, Limits::default(), Plain, shutdown);
        Ok(MetricsEndpoint {
            addr: serving.addr,
            stop,
            task: serving.task,
        })
    }

    /// The scrape URL.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Stops listening; scrapes in flight finish first.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn scrape(State(metrics): State<Arc<LiveMetrics>>) -> Response {
    let mut answer = metrics.encode().into_response();
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    answer
}

/// Errors as one line of plain text, as Prometheus shows a failed scrape.
#[derive(Clone, Copy)]
struct Plain;

impl ErrorShape for Plain {
    fn error(&self, _path: &str, status: StatusCode, message: &str) -> Response {
        (
            status,
            format!(
                "{} {}: {message}; the metrics are at GET /metrics\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        )
            .into_response()
    }

    fn is_shaped(&self, _path: &str, response: &Response) -> bool {
        response.status().is_success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::openmetrics::RunFacts;

    #[tokio::test]
    async fn answers_the_metrics_and_names_the_path_elsewhere() {
        let metrics = Arc::new(LiveMetrics::new(&RunFacts {
            scenario: "s".into(),
            seed: 1,
            warmup_s: 0,
            archs: vec!["ssr-edge".into()],
        }));
        let endpoint = MetricsEndpoint::start("127.0.0.1:0".parse().unwrap(), metrics)
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let answer = http.get(endpoint.url()).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], CONTENT_TYPE);
        assert!(
            answer
                .text()
                .await
                .unwrap()
                .contains("ttlab_responses_total{arch=\"ssr-edge\",class=\"fresh\"} 0")
        );
        let other = http
            .get(format!("http://{}/nope", endpoint.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
        assert!(other.text().await.unwrap().contains("GET /metrics"));
        endpoint.stop().await;
    }

    #[tokio::test]
    async fn a_taken_address_is_a_clear_error() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let metrics = Arc::new(LiveMetrics::new(&RunFacts {
            scenario: "s".into(),
            seed: 1,
            warmup_s: 0,
            archs: Vec::new(),
        }));
        let Err(e) = MetricsEndpoint::start(addr, metrics).await else {
            panic!("bound a taken address");
        };
        assert!(
            e.to_string()
                .starts_with(&format!("cannot listen for metrics on {addr}"))
        );
    }
}
