//! Error bodies shaped like each real API's, so SDKs surface them the same way.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::metrics::Api;

/// A Personalize Edge API error: `{"error": code, "message": text}`.
pub fn personalize(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

/// A Delivery API error: `{"error_message", "error_code", "errors"}`.
pub fn delivery(status: u16, code: u32, message: &str, errors: serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = serde_json::Map::new();
    body.insert("error_message".to_owned(), message.into());
    body.insert("error_code".to_owned(), code.into());
    body.insert("errors".to_owned(), errors);
    (status, Json(serde_json::Value::Object(body))).into_response()
}

/// An error injected by the scenario's faults.
pub fn injected(api: Api, status: u16) -> Response {
    match api {
        Api::Personalize => personalize(
            status,
            "personalize.INTERNAL_ERROR",
            "injected by the ttlab scenario's [faults.personalize]",
        ),
        Api::Delivery => delivery(
            status,
            u32::from(status),
            "injected by the ttlab scenario's [faults.delivery]",
            json!({}),
        ),
    }
}

/// The body of a 429.
pub fn rate_limited(api: Api) -> Response {
    match api {
        Api::Personalize => personalize(429, "personalize.RATE_LIMITED", "Too many requests"),
        Api::Delivery => delivery(
            429,
            429,
            "API rate limit exceeded. Please try again after some time.",
            json!({}),
        ),
    }
}
