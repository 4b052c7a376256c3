//! Carrying out a fault decision on a request to a public API: waiting the
//! drawn latency or the hang, counting the fault, and answering as the real
//! API would.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::errors;
use crate::faults::{Fault, FaultInjector};
use crate::metrics::Api;
use crate::state::MockState;

/// Applies `injector`'s faults to one request: returns the response to send
/// instead of the real one, or `None` to answer normally (after the drawn
/// latency has passed).
pub(crate) async fn apply(injector: &FaultInjector, state: &MockState) -> Option<Response> {
    let api = injector.api();
    match injector.decide(state.now()) {
        Fault::RateLimited { limit, wait } => {
            state.metrics.fault(api, "rate_limited");
            Some(rate_limited(api, limit, wait.to_duration()))
        }
        Fault::Pass { latency } => {
            sleep_unless_shutdown(state, latency).await;
            None
        }
        Fault::Error { status, latency } => {
            sleep_unless_shutdown(state, latency).await;
            state.metrics.fault(api, "error");
            Some(errors::injected(api, status))
        }
        Fault::Timeout => {
            state.metrics.fault(api, "timeout");
            sleep_unless_shutdown(state, state.config.hang).await;
            Some(errors::injected(api, 504))
        }
    }
}

async fn sleep_unless_shutdown(state: &MockState, d: Duration) {
    if d.is_zero() {
        return;
    }
    let mut stop = state.shutdown_signal();
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// 429 with the headers the real APIs send. `X-RateLimit-Remaining: 0` goes
/// only on 429: the Delivery SDK retries any error that carries it.
fn rate_limited(api: Api, limit: u32, wait: Duration) -> Response {
    let mut resp = errors::rate_limited(api).into_response();
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let h = resp.headers_mut();
    h.insert("retry-after", HeaderValue::from(secs));
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0));
    resp
}
