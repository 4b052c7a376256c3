//! The Personalize Edge API: `GET /manifest`, `PATCH /user-attributes`,
//! `POST /events`, `POST /user-attributes/actions/merge`.
//!
//! Behaviour follows the public SDK (`@contentstack/personalize-edge-sdk`),
//! observed on the wire (see `docs/contentstack-wire.md`): no auth but the
//! `x-project-uid` header; bodies are JSON whatever the `Content-Type` says
//! (the SDK sends none); the manifest always answers with the user uid in
//! `x-cs-personalize-user-uid`, which the SDK adopts as its user id.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use ttlab_scenarios::model::{AttrIdx, ExpIdx, ValueIdx};

use crate::errors;
use crate::state::MockState;

/// Response and request header carrying the user uid.
pub const USER_UID_HEADER: &str = "x-cs-personalize-user-uid";
/// Request header naming the project.
pub const PROJECT_HEADER: &str = "x-project-uid";
/// Request header with attributes for one evaluation only.
pub const LIVE_ATTRIBUTES_HEADER: &str = "x-live-attributes";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Checks `x-project-uid`; the error response when it is missing or unknown.
fn check_project(state: &MockState, headers: &HeaderMap, what: &str) -> Result<(), Response> {
    match header(headers, PROJECT_HEADER) {
        None => Err(errors::personalize(
            400,
            &format!("personalize.{what}.PROJECT_UID_MISSING"),
            "The x-project-uid header is required",
        )),
        Some(p) if p != state.config.project_uid => Err(errors::personalize(
            404,
            &format!("personalize.{what}.PROJECT_NOT_FOUND"),
            &format!("Project with uid '{p}' was not found"),
        )),
        Some(_) => Ok(()),
    }
}

/// An attribute value as the API stores it: strings as they are, numbers and
/// booleans as their text; `null` removes.
fn attribute_text(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Null => Ok(None),
        other => Err(format!(
            "attribute values must be strings, numbers or booleans, got {other}"
        )),
    }
}

fn parse_attributes(body: &[u8]) -> Result<HashMap<String, String>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("the body must be a JSON object of attribute names to values".to_owned());
    };
    let mut out = HashMap::new();
    for (k, v) in &map {
        if let Some(text) = attribute_text(v).map_err(|e| format!("attribute \"{k}\": {e}"))? {
            out.insert(k.clone(), text);
        }
    }
    Ok(out)
}

/// `x-live-attributes` resolved to the scenario's attribute and value
/// indices; names or values the scenario does not know cannot match any
/// audience and are left out.
fn live_attributes(
    state: &MockState,
    headers: &HeaderMap,
) -> Result<HashMap<AttrIdx, ValueIdx>, Response> {
    let Some(raw) = header(headers, LIVE_ATTRIBUTES_HEADER) else {
        return Ok(HashMap::new());
    };
    let attrs = parse_attributes(raw.as_bytes()).map_err(|e| {
        errors::personalize(
            400,
            "personalize.MANIFEST.INVALID_LIVE_ATTRIBUTES",
            &format!("x-live-attributes: {e}"),
        )
    })?;
    let scenario_attrs = &state.world.scenario().attributes;
    Ok(attrs
        .iter()
        .filter_map(|(name, value)| {
            let a = scenario_attrs.iter().position(|x| &x.name == name)?;
            Some((a, scenario_attrs[a].value_index(value)?))
        })
        .collect())
}

/// The `tags[]` (or `tags`) query values.
fn tags(query: Option<&str>) -> Vec<String> {
    let pairs: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    pairs
        .into_iter()
        .filter(|(k, _)| k == "tags[]" || k == "tags")
        .map(|(_, v)| v)
        .collect()
}

/// `GET /manifest`.
pub async fn manifest(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(resp) = check_project(&state, &headers, "MANIFEST") {
        return resp;
    }
    let live = match live_attributes(&state, &headers) {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let uid = match header(&headers, USER_UID_HEADER) {
        Some(u) => u.to_owned(),
        None => state.mint_visitor(),
    };
    let now = state.now();
    let variants = state.variants(&uid, &live, now);
    let wanted = tags(query.as_deref());
    let world = &state.world;
    // Written by hand: short uids are letters and digits (validation makes
    // sure), so nothing needs escaping, and this is the hottest path.
    let mut list = String::with_capacity(32 + 64 * variants.len());
    let mut active = String::with_capacity(16 + 16 * variants.len());
    for (i, exp) in world.scenario().experiences.iter().enumerate() {
        let e = i as ExpIdx;
        if !world.is_active(e, now)
            || (!wanted.is_empty() && !exp.tags.iter().any(|t| wanted.contains(t)))
        {
            continue;
        }
        if !active.is_empty() {
            list.push(',');
            active.push(',');
        }
        let variant = variants
            .get(e)
            .map(|v| exp.variants[usize::from(v)].as_str());
        let quoted = variant.map_or_else(|| "null".to_owned(), |v| format!("\"{v}\""));
        let _ = write!(
            list,
            r#"{{"shortUid":"{}","activeVariantShortUid":{quoted}}}"#,
            exp.uid
        );
        let _ = write!(active, r#""{}":{quoted}"#, exp.uid);
    }
    let body = format!(r#"{{"experiences":[{list}],"activeVariants":{{{active}}}}}"#);
    let mut resp = (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&uid) {
        resp.headers_mut().insert(USER_UID_HEADER, v);
    }
    resp
}

/// The user uid of a write call, or the error response.
fn user_uid(headers: &HeaderMap, what: &str) -> Result<String, Response> {
    header(headers, USER_UID_HEADER)
        .map(str::to_owned)
        .ok_or_else(|| {
            errors::personalize(
                400,
                &format!("personalize.{what}.USER_UID_MISSING"),
                "The x-cs-personalize-user-uid header is required",
            )
        })
}

fn ok_with_uid(uid: &str) -> Response {
    let mut resp = Json(json!({})).into_response();
    if let Ok(v) = HeaderValue::from_str(uid) {
        resp.headers_mut().insert(USER_UID_HEADER, v);
    }
    resp
}

/// `PATCH /user-attributes`: a flat JSON object merged into the user's attributes.
pub async fn user_attributes(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = check_project(&state, &headers, "USER_ATTRIBUTES") {
        return resp;
    }
    let uid = match user_uid(&headers, "USER_ATTRIBUTES") {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    match parse_attributes(&body) {
        Ok(attrs) => {
            state.set_attributes(&uid, &attrs);
            ok_with_uid(&uid)
        }
        Err(e) => errors::personalize(400, "personalize.USER_ATTRIBUTES.INVALID_BODY", &e),
    }
}

/// `POST /events`: a JSON array of impressions and conversion events.
pub async fn events(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = check_project(&state, &headers, "EVENTS") {
        return resp;
    }
    let uid = match user_uid(&headers, "EVENTS") {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let invalid = |msg: String| errors::personalize(400, "personalize.EVENTS.INVALID_BODY", &msg);
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return invalid(format!("the body is not JSON: {e}")),
    };
    let Value::Array(items) = value else {
        return invalid("the body must be a JSON array of events".to_owned());
    };
    // Check everything before counting anything: a bad batch counts nothing.
    let mut impressions = Vec::new();
    let mut conversions = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = |k: &str| item.get(k).and_then(Value::as_str);
        match field("type") {
            Some("IMPRESSION") => match (field("experienceShortUid"), field("variantShortUid")) {
                (Some(e), Some(v)) => impressions.push((e.to_owned(), v.to_owned())),
                _ => {
                    return invalid(format!(
                        "event {i}: an IMPRESSION needs experienceShortUid and variantShortUid strings"
                    ));
                }
            },
            Some("EVENT") => match field("eventKey") {
                Some(k) => conversions.push(k.to_owned()),
                None => return invalid(format!("event {i}: an EVENT needs an eventKey string")),
            },
            _ => {
                return invalid(format!(
                    "event {i}: type must be \"IMPRESSION\" or \"EVENT\""
                ));
            }
        }
    }
    for (e, v) in &impressions {
        state.metrics.impression(e, v);
    }
    for k in &conversions {
        state.metrics.event(k);
    }
    ok_with_uid(&uid)
}

/// `POST /user-attributes/actions/merge`: `{"sourceUserUid", "targetUserUid"}`.
pub async fn merge(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = check_project(&state, &headers, "MERGE") {
        return resp;
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return errors::personalize(
                400,
                "personalize.MERGE.INVALID_BODY",
                &format!("the body is not JSON: {e}"),
            );
        }
    };
    match (
        value.get("sourceUserUid").and_then(Value::as_str),
        value.get("targetUserUid").and_then(Value::as_str),
    ) {
        (Some(s), Some(t)) if !s.is_empty() && !t.is_empty() => {
            state.merge(s, t);
            ok_with_uid(t)
        }
        _ => errors::personalize(
            400,
            "personalize.MERGE.INVALID_BODY",
            "sourceUserUid and targetUserUid must be non-empty strings",
        ),
    }
}
