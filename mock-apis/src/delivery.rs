//! The Delivery API (CDA): one entry, or a query over a content type's
//! entries, with entry variants applied from `x-cs-variant-uid`. Entries are
//! rendered by `render`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use ttlab_scenarios::World;
use ttlab_scenarios::alias;
use ttlab_scenarios::model::{EntryIdx, VariantRef};

use crate::errors;
use crate::query;
use crate::render::{render_entry, variant_uid};
use crate::state::MockState;

/// Most entries one query returns, as the real API caps `limit`.
const MAX_LIMIT: usize = 250;
/// Entries returned without `limit`.
const DEFAULT_LIMIT: usize = 100;

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

fn check_content_type(world: &World, ct: &str) -> Result<(), Response> {
    if world
        .scenario()
        .content
        .entries
        .iter()
        .any(|e| e.content_type == ct)
    {
        Ok(())
    } else {
        Err(errors::delivery(
            422,
            118,
            &format!("The Content Type '{ct}' was not found. Please try again."),
            json!({ "content_type_uid": ["is not valid."] }),
        ))
    }
}

fn check_locale(state: &MockState, pairs: &[(String, String)]) -> bool {
    param(pairs, "locale").is_none_or(|l| l == state.world.scenario().content.locale)
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

/// The variant whose variant uid (see [`variant_uid`]) is `uid`.
fn variant_of_uid(world: &World, uid: &str) -> Option<VariantRef> {
    world
        .scenario()
        .experiences
        .iter()
        .enumerate()
        .find_map(|(e, exp)| {
            (0..exp.variants.len()).find_map(|v| {
                let r = VariantRef {
                    experience: e as u16,
                    variant: v as u16,
                };
                (variant_uid(&world.alias(r)) == uid).then_some(r)
            })
        })
}

/// The entry's variant that applies: the first requested one the entry has.
fn applied_variant(world: &World, entry: EntryIdx, requested: &[VariantRef]) -> Option<VariantRef> {
    let has = &world.scenario().content.entries[entry as usize].variants;
    requested.iter().find(|r| has.contains(r)).copied()
}

fn find_entry(world: &World, ct: &str, uid: &str) -> Option<EntryIdx> {
    world
        .scenario()
        .content
        .entries
        .iter()
        .position(|e| e.uid == uid && e.content_type == ct)
        .map(|i| i as EntryIdx)
}

/// `GET /v3/content_types/{ct}/entries/{uid}`.
pub async fn entry(
    State(state): State<Arc<MockState>>,
    Path((ct, uid)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = match pairs(query.as_deref()) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    if let Err(resp) =
        check_access(&state, &headers, &pairs).and_then(|()| check_content_type(&state.world, &ct))
    {
        return resp;
    }
    let not_found = || {
        errors::delivery(
            422,
            141,
            "The requested object doesn't exist.",
            json!({ "uid": ["is not valid."] }),
        )
    };
    let Some(idx) = find_entry(&state.world, &ct, &uid) else {
        return not_found();
    };
    if !check_locale(&state, &pairs) {
        return not_found();
    }
    let requested = requested_variants(&state.world, &headers);
    let variant = applied_variant(&state.world, idx, &requested);
    Json(json!({ "entry": render_entry(&state, idx, variant, state.now()) })).into_response()
}

/// `GET /v3/content_types/{ct}/entries`: `query` (URL-encoded JSON), `skip`,
/// `limit`, `include_count`, `locale`.
pub async fn entries(
    State(state): State<Arc<MockState>>,
    Path(ct): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = match pairs(query.as_deref()) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    if let Err(resp) =
        check_access(&state, &headers, &pairs).and_then(|()| check_content_type(&state.world, &ct))
    {
        return resp;
    }
    let number = |key: &str, default: usize| -> Result<usize, Response> {
        match param(&pairs, key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                errors::delivery(
                    400,
                    400,
                    &format!("{key} must be a whole number, got '{v}'"),
                    json!({ key: ["is not valid."] }),
                )
            }),
        }
    };
    let (skip, limit) = match (number("skip", 0), number("limit", DEFAULT_LIMIT)) {
        (Ok(s), Ok(l)) => (s, l.min(MAX_LIMIT)),
        (Err(resp), _) | (_, Err(resp)) => return resp,
    };
    let filter = match param(&pairs, "query").map(serde_json::from_str::<Value>) {
        None => None,
        Some(Ok(q)) => Some(q),
        Some(Err(e)) => {
            return errors::delivery(
                400,
                400,
                &format!("query must be URL-encoded JSON: {e}"),
                json!({ "query": ["is not valid."] }),
            );
        }
    };
    let requested = requested_variants(&state.world, &headers);
    let now = state.now();
    let mut matched = Vec::new();
    if check_locale(&state, &pairs) {
        for (i, e) in state.world.scenario().content.entries.iter().enumerate() {
            if e.content_type != ct {
                continue;
            }
            let idx = i as EntryIdx;
            let doc = render_entry(
                &state,
                idx,
                applied_variant(&state.world, idx, &requested),
                now,
            );
            match filter.as_ref().map(|f| query::matches(f, &doc)) {
                None | Some(Ok(true)) => matched.push(doc),
                Some(Ok(false)) => {}
                Some(Err(e)) => {
                    return errors::delivery(
                        422,
                        141,
                        &format!("Invalid query: {e}"),
                        json!({ "query": ["is not valid."] }),
                    );
                }
            }
        }
    }
    let count = matched.len();
    let page: Vec<Value> = matched.into_iter().skip(skip).take(limit).collect();
    let mut body = json!({ "entries": page });
    if param(&pairs, "include_count") == Some("true") {
        body["count"] = json!(count);
    }
    Json(body).into_response()
}
