//! The control surface for run drivers and tests, under `/_ttlab/`, apart
//! from every public API path: truth, timeline delivery, webhook
//! registration, credentials. Plus `/metrics` (Prometheus text).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::ExpIdx;

use crate::publish::deliver_due;
use crate::state::MockState;

/// Routes of the control surface.
pub fn router() -> Router<Arc<MockState>> {
    Router::new()
        .route("/_ttlab/health", get(health))
        .route("/_ttlab/credentials", get(credentials))
        .route("/_ttlab/visitors", get(visitors))
        .route("/_ttlab/truth/variants", get(truth_variants))
        .route("/_ttlab/truth/entry", get(truth_entry))
        .route("/_ttlab/timeline/advance", post(advance))
        .route("/_ttlab/webhooks", post(add_webhook))
        .route("/metrics", get(metrics))
}

/// Liveness, the run clock, and which scenario the mocks serve: its name,
/// seed and text hash (hex, as JSON numbers lose u64 precision), so a run
/// against them can refuse mocks started from another file or seed.
async fn health(State(s): State<Arc<MockState>>) -> Json<serde_json::Value> {
    let scenario = s.world.scenario();
    Json(json!({
        "ok": true,
        "now_us": s.now().0,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "scenario_hash": format!("{:016x}", scenario.source_hash),
        "duration_us": scenario.duration.0,
    }))
}

async fn credentials(State(s): State<Arc<MockState>>) -> Json<serde_json::Value> {
    let c = &s.config;
    Json(json!({
        "project_uid": c.project_uid,
        "api_key": c.api_key,
        "delivery_token": c.delivery_token,
        "environment": c.environment,
    }))
}

/// The population's user uids, in visitor order (for load scripts).
/// Most uids one `/_ttlab/visitors` answer lists, and how many when the
/// query names no `limit`: a population may be ten million visitors (about
/// 400 MB of JSON at once), so the list comes a page at a time.
pub const VISITORS_PAGE_MAX: u32 = 10_000;

#[derive(Deserialize)]
struct VisitorsQuery {
    offset: Option<u32>,
    limit: Option<u32>,
}

/// A page of the population's uids (in visitor order, from `offset`, at
/// most `limit` and [`VISITORS_PAGE_MAX`]), with the population's `total`
/// so a driver knows when it has them all.
async fn visitors(
    State(s): State<Arc<MockState>>,
    Query(q): Query<VisitorsQuery>,
) -> Json<serde_json::Value> {
    let total = s.world.visitor_count();
    let offset = q.offset.unwrap_or(0).min(total);
    let limit = q.limit.unwrap_or(VISITORS_PAGE_MAX).min(VISITORS_PAGE_MAX);
    let end = offset.saturating_add(limit).min(total);
    let uids: Vec<String> = (offset..end).map(|v| s.world.uid(v).to_string()).collect();
    Json(json!({ "visitors": uids, "offset": offset, "total": total }))
}

#[derive(Deserialize)]
struct VariantsQuery {
    visitor: String,
    at_us: Option<u64>,
}

/// The truth for a user at a time: per experience, its variant or null; and
/// the aliases, in manifest order.
async fn truth_variants(
    State(s): State<Arc<MockState>>,
    Query(q): Query<VariantsQuery>,
) -> Json<serde_json::Value> {
    let t = q.at_us.map_or_else(|| s.now(), Micros);
    let set = s.variants(&q.visitor, &HashMap::new(), t);
    let world = &s.world;
    let per_experience: serde_json::Map<String, serde_json::Value> = world
        .scenario()
        .experiences
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let v = set
                .get(i as ExpIdx)
                .map(|v| e.variants[usize::from(v)].clone());
            (e.uid.clone(), json!(v))
        })
        .collect();
    let aliases: Vec<String> = set.iter().map(|r| world.alias(r)).collect();
    Json(json!({
        "visitor": q.visitor,
        "at_us": t.0,
        "in_population": world.visitor_index(&q.visitor).is_some(),
        "variants": per_experience,
        "aliases": aliases,
    }))
}

#[derive(Deserialize)]
struct EntryQuery {
    entry: String,
    variant: Option<String>,
    at_us: Option<u64>,
}

async fn truth_entry(State(s): State<Arc<MockState>>, Query(q): Query<EntryQuery>) -> Response {
    let world = &s.world;
    let t = q.at_us.map_or_else(|| s.now(), Micros);
    let Some(idx) = world
        .scenario()
        .content
        .entries
        .iter()
        .position(|e| e.uid == q.entry)
    else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no entry \"{}\"", q.entry) })),
        )
            .into_response();
    };
    let variant = match q.variant.as_deref() {
        None | Some("" | "base") => None,
        Some(alias) => match world.variant_of_alias(alias) {
            Some(r) => Some(r),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!({ "error": format!("no variant \"{alias}\"") })),
                )
                    .into_response();
            }
        },
    };
    Json(json!({ "entry": q.entry, "at_us": t.0, "version": world.entry_version(idx as u32, variant, t) })).into_response()
}

async fn advance(State(s): State<Arc<MockState>>) -> Json<serde_json::Value> {
    let now = s.now();
    let queued = deliver_due(&s, now);
    Json(json!({ "at_us": now.0, "publishes": queued }))
}

#[derive(Deserialize)]
struct WebhookBody {
    url: String,
}

async fn add_webhook(State(s): State<Arc<MockState>>, Json(body): Json<WebhookBody>) -> Response {
    if !(body.url.starts_with("http://") || body.url.starts_with("https://")) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "url must start with http:// or https://" })),
        )
            .into_response();
    }
    if !s.webhook_urls_add(&body.url) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({
                "error": format!("at most {} webhook targets; this one was not added", crate::state::MAX_WEBHOOKS)
            })),
        )
            .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn metrics(State(s): State<Arc<MockState>>) -> Response {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}
