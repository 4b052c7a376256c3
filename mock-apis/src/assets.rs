//! A stack export's assets: as the Delivery API answers them (in a file
//! field, at `/v3/assets/{uid}`, in `/v3/assets`), and their files, served
//! at the URL those answers carry.
//!
//! The URL has the shape of Contentstack's images host —
//! `/v3/assets/{api_key}/{asset uid}/{version segment}/{filename}` — on this
//! mock, so an app that fetches or rewrites asset URLs meets the files it
//! expects. Files are not faulted (the scenario's `[faults.delivery]`
//! describe the API, not the images host) and count under their own
//! endpoint, `asset_file`, never as Delivery calls.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use ttlab_export::Asset;
use ttlab_scenarios::Micros;
use xxhash_rust::xxh3::xxh3_64;

use crate::errors;
use crate::metrics::{Api, Endpoint};
use crate::render::served_environment_uid;
use crate::state::MockState;

/// Fields of the management API's shape the CDA does not answer.
const MANAGEMENT_ONLY: [&str; 2] = ["_workflow", "publish_details"];

/// The asset as the CDA answers it: its metadata with `url` on this mock
/// and `publish_details` as one object for the served environment.
pub fn render_asset(state: &MockState, a: &Asset) -> Value {
    let mut out: Map<String, Value> = a
        .meta
        .iter()
        .filter(|(k, _)| !MANAGEMENT_ONLY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let env = served_environment_uid(state);
    let exported = a
        .meta
        .get("publish_details")
        .and_then(|p| match p {
            Value::Array(list) => list.iter().find(|d| d["environment"] == env.as_str()),
            one @ Value::Object(_) => Some(one),
            _ => None,
        })
        .and_then(|d| d.get("time"))
        .cloned();
    let filename = a.filename().to_owned();
    out.insert("uid".to_owned(), json!(a.uid));
    out.insert("url".to_owned(), json!(file_url(state, a)));
    out.insert("filename".to_owned(), json!(filename));
    out.entry("content_type")
        .or_insert_with(|| json!(content_type_of(&filename)));
    if !out.contains_key("file_size")
        && let Some(size) = file_size(a)
    {
        out.insert("file_size".to_owned(), json!(size.to_string()));
    }
    out.entry("title").or_insert_with(|| json!(filename));
    out.entry("tags").or_insert_with(|| json!([]));
    out.entry("ACL").or_insert_with(|| json!({}));
    out.entry("is_dir").or_insert(json!(false));
    out.entry("_version").or_insert(json!(1));
    out.insert(
        "publish_details".to_owned(),
        json!({
            "environment": env,
            "locale": state.world.scenario().content.locale,
            "time": exported.unwrap_or_else(|| json!(state.timestamp(Micros::ZERO))),
            "user": "blt-ttlab-publisher",
        }),
    );
    Value::Object(out)
}

fn file_size(a: &Asset) -> Option<u64> {
    match a.file.as_ref()? {
        ttlab_export::AssetFile::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
        ttlab_export::AssetFile::Bytes(b) => Some(b.len() as u64),
    }
}

/// Where this mock serves the asset's file: Contentstack's images-host path
/// on the Delivery mock. The version segment is the export URL's when it
/// has one of that shape, else made from uid and version.
pub fn file_url(state: &MockState, a: &Asset) -> String {
    let exported = a
        .meta
        .get("url")
        .and_then(Value::as_str)
        .and_then(|u| {
            let parts: Vec<&str> = u.split('/').collect();
            let i = parts.iter().position(|p| *p == a.uid.as_str())?;
            (i >= 2 && parts.get(i - 2) == Some(&"assets"))
                .then(|| parts.get(i + 1).copied())
                .flatten()
                .filter(|seg| !seg.is_empty() && parts.len() > i + 2)
        })
        .map(str::to_owned);
    let segment = exported.unwrap_or_else(|| {
        let version = a.meta.get("_version").and_then(Value::as_u64).unwrap_or(1);
        format!(
            "blt{:016x}",
            xxh3_64(format!("{}:{version}", a.uid).as_bytes())
        )
    });
    format!(
        "{}/v3/assets/{}/{}/{}/{}",
        state.delivery_base(),
        encode(&state.config.api_key),
        encode(&a.uid),
        encode(&segment),
        encode(a.filename())
    )
}

/// Percent-encodes a path segment (everything but RFC 3986's unreserved).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The media type of a file name, for an asset whose metadata has none.
fn content_type_of(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "html" | "htm" => "text/html; charset=utf-8",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// `GET /v3/assets/{api_key}/{uid}/{version}/{filename}`: the asset's file,
/// with its media type and length; 404 for a file the export does not have
/// (another stack's key, an unknown uid or name, an asset without its file).
pub async fn asset_file(
    State(state): State<Arc<MockState>>,
    Path((api_key, uid, _version, filename)): Path<(String, String, String, String)>,
) -> Response {
    let resp = file(&state, &api_key, &uid, &filename).await;
    state
        .metrics
        .request(Api::Delivery, Endpoint::AssetFile, resp.status().as_u16());
    resp
}

async fn file(state: &MockState, api_key: &str, uid: &str, filename: &str) -> Response {
    let not_found = || {
        errors::delivery(
            404,
            404,
            "The requested asset file doesn't exist.",
            json!({ "uid": ["is not valid."] }),
        )
    };
    let Some(asset) = state
        .export()
        .filter(|_| api_key == state.config.api_key)
        .and_then(|x| x.asset(uid))
        .filter(|a| a.filename() == filename)
    else {
        return not_found();
    };
    let Some(source) = asset.file.clone() else {
        return not_found();
    };
    let media = asset
        .meta
        .get("content_type")
        .and_then(Value::as_str)
        .map_or_else(|| content_type_of(filename).to_owned(), str::to_owned);
    // A file on disk is read off the async workers.
    match tokio::task::spawn_blocking(move || source.bytes()).await {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, media),
                (header::CONTENT_LENGTH, bytes.len().to_string()),
            ],
            Body::from(bytes.to_vec()),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(uid, error = %e, "asset file unreadable");
            errors::delivery(
                500,
                500,
                &format!("The asset file could not be read: {e}"),
                json!({}),
            )
        }
        Err(e) => errors::delivery(500, 500, &format!("reading the asset file: {e}"), json!({})),
    }
}
