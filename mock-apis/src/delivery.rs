//! The Delivery API (CDA): requests routed to their answers. Each handler
//! checks credentials and environment, reads the parameters
//! (`export_query::Params`), and answers from the scenario's stack export
//! when it names one (`export_render`, `export_query`, `assets`), else from
//! its synthetic entries (`render::render_entry`). Entry variants come from
//! `x-cs-variant-uid`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use ttlab_export::Export;
use ttlab_scenarios::World;
use ttlab_scenarios::alias;
use ttlab_scenarios::model::{EntryIdx, VariantRef};

use crate::errors;
use crate::export_query::{self, ParamError, Params};
use crate::export_render::{find, render};
use crate::render::{applied_variant, render_entry, variant_of_uid};
use crate::state::MockState;

/// Parsed query string pairs (repeated keys kept).
fn pairs(query: Option<&str>) -> Result<Vec<(String, String)>, Response> {
    match query {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(q).map_err(|e| {
            errors::delivery(
                400,
                400,
                &format!("The query string could not be parsed: {e}"),
                json!({}),
            )
        }),
    }
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Credentials and environment, checked in the order the real API does.
/// Wrong ones get 412, not 401: the Delivery SDK retries 401 three times
/// and then hides the error.
fn check_access(
    state: &MockState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<(), Response> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if h("api_key") != Some(state.config.api_key.as_str()) {
        return Err(errors::delivery(
            412,
            109,
            "We can't retrieve the stack. Please recheck the entered api_key.",
            json!({ "api_key": ["is not valid."] }),
        ));
    }
    if h("access_token") != Some(state.config.delivery_token.as_str()) {
        return Err(errors::delivery(
            412,
            105,
            "You're not allowed in here unless you're logged in!",
            json!({ "access_token": ["is not valid."] }),
        ));
    }
    match param(pairs, "environment") {
        Some(env) if env == state.config.environment => Ok(()),
        Some(env) => Err(errors::delivery(
            422,
            141,
            &format!("The environment '{env}' was not found."),
            json!({ "environment": ["is not valid."] }),
        )),
        None => Err(errors::delivery(
            422,
            141,
            "Please send the environment query parameter.",
            json!({ "environment": ["is required."] }),
        )),
    }
}

/// The request's pairs and parameters, access checked.
fn request(
    state: &MockState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Params, Response> {
    let pairs = pairs(query)?;
    check_access(state, headers, &pairs)?;
    Params::parse(&pairs).map_err(|e| match e {
        ParamError::Number { key, value } => errors::delivery(
            400,
            400,
            &format!("{key} must be a whole number, got '{value}'"),
            json!({ key: ["is not valid."] }),
        ),
        ParamError::Json(e) => errors::delivery(
            400,
            400,
            &format!("query must be URL-encoded JSON: {e}"),
            json!({ "query": ["is not valid."] }),
        ),
        ParamError::Query(e) => errors::delivery(
            422,
            141,
            &format!("Invalid query: {e}"),
            json!({ "query": ["is not valid."] }),
        ),
    })
}

fn content_type_not_found(ct: &str) -> Response {
    errors::delivery(
        422,
        118,
        &format!("The Content Type '{ct}' was not found. Please try again."),
        json!({ "content_type_uid": ["is not valid."] }),
    )
}

fn entry_not_found() -> Response {
    errors::delivery(
        422,
        141,
        "The requested object doesn't exist.",
        json!({ "uid": ["is not valid."] }),
    )
}

fn asset_not_found() -> Response {
    errors::delivery(
        422,
        145,
        "Asset was not found.",
        json!({ "uid": ["is not valid."] }),
    )
}

/// Whether the synthetic world has content type `ct`.
fn has_content_type(world: &World, ct: &str) -> bool {
    world
        .scenario()
        .content
        .entries
        .iter()
        .any(|e| e.content_type == ct)
}

/// The variants a client asks for, as listed in `x-cs-variant-uid`: aliases
/// (`cs_personalize_0_1`) or variant uids, unknown ones dropped, in order.
fn requested_variants(world: &World, headers: &HeaderMap) -> Vec<VariantRef> {
    let Some(raw) = headers
        .get("x-cs-variant-uid")
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|item| {
            if item.starts_with(alias::PREFIX) {
                world.variant_of_alias(item)
            } else {
                variant_of_uid(world, item)
            }
        })
        .collect()
}

/// The locale asked for: `locale`, else the scenario's.
fn asked_locale<'a>(state: &'a MockState, params: &'a Params) -> &'a str {
    params
        .locale
        .as_deref()
        .unwrap_or(&state.world.scenario().content.locale)
}

/// `GET /v3/content_types/{ct}/entries/{uid}`.
pub async fn entry(
    State(state): State<Arc<MockState>>,
    Path((ct, uid)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match request(&state, &headers, query.as_deref()) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let requested = requested_variants(&state.world, &headers);
    let t = state.now();
    if let Some(export) = state.export() {
        let Some(content_type) = export.content_type(&ct) else {
            return content_type_not_found(&ct);
        };
        let ask = params.ask(asked_locale(&state, &params), &requested, t);
        let Some(e) = find(&state, export, &ct, &uid, &ask) else {
            return entry_not_found();
        };
        let mut body = json!({ "entry": render(&state, export, e, &ask) });
        if params.include_content_type {
            body["content_type"] = content_type.raw.clone();
        }
        return Json(body).into_response();
    }
    if !has_content_type(&state.world, &ct) {
        return content_type_not_found(&ct);
    }
    let Some(idx) = state.entry_index(&ct, &uid) else {
        return entry_not_found();
    };
    if asked_locale(&state, &params) != state.world.scenario().content.locale {
        return entry_not_found();
    }
    let variant = applied_variant(&state.world, idx, &requested);
    Json(json!({ "entry": render_entry(&state, idx, variant, t) })).into_response()
}

/// `GET /v3/content_types/{ct}/entries`: `query`, `skip`, `limit`,
/// `include_count`, `locale`, and over an export every parameter
/// `export_query::Params` reads.
pub async fn entries(
    State(state): State<Arc<MockState>>,
    Path(ct): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match request(&state, &headers, query.as_deref()) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let requested = requested_variants(&state.world, &headers);
    let t = state.now();
    let (page, count, extra) = if let Some(export) = state.export() {
        let Some(content_type) = export.content_type(&ct) else {
            return content_type_not_found(&ct);
        };
        let ask = params.ask(asked_locale(&state, &params), &requested, t);
        let (page, count) = export_query::entries(&state, export, &ct, &params, &ask);
        let mut extra = Vec::new();
        if params.include_schema {
            extra.push(("schema", export_query::schema(export, &ct)));
        }
        if params.include_content_type {
            extra.push(("content_type", content_type.raw.clone()));
        }
        (page, count, extra)
    } else {
        if !has_content_type(&state.world, &ct) {
            return content_type_not_found(&ct);
        }
        let (page, count) = synthetic_entries(&state, &ct, &params, &requested);
        (page, count, Vec::new())
    };
    let mut body = json!({ "entries": page });
    if params.include_count {
        body["count"] = json!(count);
    }
    for (k, v) in extra {
        body[k] = v;
    }
    Json(body).into_response()
}

/// A scenario's synthetic entries of `ct`, rendered and filtered by `query`
/// (on the rendered fields), paged; and how many matched.
fn synthetic_entries(
    state: &MockState,
    ct: &str,
    params: &Params,
    requested: &[VariantRef],
) -> (Vec<Value>, usize) {
    let t = state.now();
    let mut matched = Vec::new();
    if asked_locale(state, params) == state.world.scenario().content.locale {
        let no_refs = |_: &Value| None;
        for (i, e) in state.world.scenario().content.entries.iter().enumerate() {
            if e.content_type != ct {
                continue;
            }
            let idx = i as EntryIdx;
            let doc = render_entry(state, idx, applied_variant(&state.world, idx, requested), t);
            let keep = match (&params.filter, doc.as_object()) {
                (Some(f), Some(m)) => f.matches(m, &no_refs),
                _ => true,
            };
            if keep {
                matched.push(doc);
            }
        }
    }
    let count = matched.len();
    let page = matched
        .into_iter()
        .skip(params.skip)
        .take(params.limit)
        .collect();
    (page, count)
}

/// The content type a scenario without an export describes: the two text
/// fields its synthetic entries have.
fn synthetic_content_type(ct: &str) -> Value {
    json!({
        "uid": ct,
        "title": ct,
        "description": "",
        "schema": [
            { "uid": "title", "data_type": "text", "display_name": "Title", "mandatory": true, "unique": true, "multiple": false, "field_metadata": { "_default": true } },
            { "uid": "body", "data_type": "text", "display_name": "Body", "mandatory": false, "unique": false, "multiple": false, "field_metadata": { "allow_rich_text": true } }
        ],
        "options": { "is_page": false, "singleton": false, "title": "title" },
    })
}

/// `GET /v3/content_types/{ct}`: the content type as exported.
pub async fn content_type(
    State(state): State<Arc<MockState>>,
    Path(ct): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(resp) = request(&state, &headers, query.as_deref()) {
        return resp;
    }
    let found = match state.export() {
        Some(export) => export.content_type(&ct).map(|c| c.raw.clone()),
        None => has_content_type(&state.world, &ct).then(|| synthetic_content_type(&ct)),
    };
    match found {
        Some(c) => Json(json!({ "content_type": c })).into_response(),
        None => content_type_not_found(&ct),
    }
}

/// `GET /v3/content_types`: every content type, paged, with `count`.
pub async fn content_types(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match request(&state, &headers, query.as_deref()) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let (page, count) = match state.export() {
        Some(export) => export_query::content_types(export, &params),
        None => {
            let mut seen = std::collections::BTreeSet::new();
            let all: Vec<Value> = state
                .world
                .scenario()
                .content
                .entries
                .iter()
                .filter(|e| seen.insert(e.content_type.as_str()))
                .map(|e| synthetic_content_type(&e.content_type))
                .collect();
            let count = all.len();
            let page = all
                .into_iter()
                .skip(params.skip)
                .take(params.limit)
                .collect();
            (page, count)
        }
    };
    let mut body = json!({ "content_types": page });
    if params.include_count {
        body["count"] = json!(count);
    }
    Json(body).into_response()
}

/// `GET /v3/assets/{uid}`.
pub async fn asset(
    State(state): State<Arc<MockState>>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(resp) = request(&state, &headers, query.as_deref()) {
        return resp;
    }
    match state.export().and_then(|x| x.asset(&uid)) {
        Some(a) => Json(json!({ "asset": crate::assets::render_asset(&state, a) })).into_response(),
        None => asset_not_found(),
    }
}

/// `GET /v3/assets`: `query`, `skip`, `limit`, `asc` / `desc`,
/// `include_count` (a scenario without an export has none).
pub async fn assets(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match request(&state, &headers, query.as_deref()) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let empty = Export::default();
    let (page, count) = export_query::assets(&state, state.export().unwrap_or(&empty), &params);
    let mut body = json!({ "assets": page });
    if params.include_count {
        body["count"] = json!(count);
    }
    Json(body).into_response()
}
