//! The receiving end of the Delivery mock's publish webhook: a caching
//! layer with `purge_on_publish` drops every page built from the entry; and
//! the routes every server of a stack shares around its pages.

use std::sync::Arc;

use axum::extract::State;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use ttlab_scenarios::World;

/// A server that can purge by entry.
pub trait Purger: Send + Sync + 'static {
    /// The server's state.
    type State: Send + Sync + 'static;
    /// Purges pages built from `entry`; `None` when the server does not purge.
    fn purge(
        state: &Self::State,
        entry: u32,
    ) -> impl std::future::Future<Output = Option<usize>> + Send;
    /// The world, to resolve entry uids.
    fn world(state: &Self::State) -> &World;
    /// Prometheus text of the server's counters, for `/metrics`.
    fn metrics_text(state: &Self::State) -> String;
}

/// A server's routes: its pages (`pages`, for every path not named here),
/// the publish webhook (`POST /_ttlab/webhook/publish`) and `/metrics` —
/// the same for the origin, the CDN and the edge, so each names only its
/// page handler.
pub fn routes<P: Purger, H, T>(state: Arc<P::State>, pages: H) -> Router
where
    H: Handler<T, Arc<P::State>>,
    T: 'static,
{
    Router::new()
        .route("/_ttlab/webhook/publish", post(publish::<P>))
        .route(
            "/metrics",
            get(|State(s): State<Arc<P::State>>| async move { P::metrics_text(&s) }),
        )
        .fallback(pages)
        .with_state(state)
}

/// `POST /_ttlab/webhook/publish` with Contentstack's entry-publish payload.
pub async fn publish<P: Purger>(
    State(state): State<Arc<P::State>>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "the body must be a JSON webhook payload" })),
        )
            .into_response();
    };
    let Some(uid) = body["data"]["entry"]["uid"].as_str() else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "data.entry.uid is missing" })),
        )
            .into_response();
    };
    let world = P::world(&state);
    let Some(idx) = world
        .scenario()
        .content
        .entries
        .iter()
        .position(|e| e.uid == uid)
    else {
        return (
            StatusCode::OK,
            Json(json!({ "purged": 0, "note": format!("unknown entry {uid}") })),
        )
            .into_response();
    };
    match P::purge(&state, idx as u32).await {
        Some(n) => Json(json!({ "purged": n })).into_response(),
        None => Json(json!({ "purged": 0, "note": "purge_on_publish is off" })).into_response(),
    }
}
