//! The receiving end of the Delivery mock's publish webhook: a caching
//! layer with `purge_on_publish` drops every page built from the entry.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
