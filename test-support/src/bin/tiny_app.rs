//! A tiny stand-in for a team's own site, for the tests of `ttlab run` with
//! `[app]`: a server-rendered app as a team writes one against Contentstack,
//! reading only what ttlab gives an app (the `TTLAB_*` variables and `PORT`).
//!
//! Per page request it asks the Personalize mock for the visitor's variants
//! (the visitor from the SDK's `cs-personalize-user-uid` cookie) — unless
//! an edge passed them in the variant parameter — fetches the page's
//! entries from the Delivery mock with `x-cs-variant-uid`, and renders their
//! title and body, which carry the content tokens ttlab judges by. It has
//! no cache of its own.
//!
//! Settings beyond ttlab's variables:
//! - `TINY_APP_PAGES`: the site's pages and their entries,
//!   `/=hero:home_hero,footer:footer;/about=page:about` (`content type:uid`);
//! - `TINY_APP_VARIANT_PARAM`: the query parameter it reads the variants
//!   from (default `personalize_variants`, as the SDK's helpers name it);
//! - `TINY_APP_CACHE_CONTROL`: a `Cache-Control` for its pages (none by
//!   default).
//!
//! `GET /health` answers 200 without calling anything. At start it prints
//! the variables it was given (`env NAME=value`, the ones named
//! `CONTENTSTACK_*`, `TINY_*`, `TTLAB_*` and `PORT`), its pid and its
//! process group, and where it listens. `tiny_app --exit-at-once TEXT`
//! prints TEXT on stderr and exits with status 3; `tiny_app --never-answer`
//! prints a line and waits without listening.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use ttlab_scenarios::alias;

/// What the app knows, from its environment.
struct Site {
    personalize_url: String,
    delivery_url: String,
    api_key: String,
    delivery_token: String,
    environment: String,
    project_uid: String,
    locale: String,
    variant_param: String,
    cache_control: Option<HeaderValue>,
    /// Page path → (content type, entry uid) in render order.
    pages: HashMap<String, Vec<(String, String)>>,
    http: reqwest::Client,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("tiny_app: {name} is not set");
        std::process::exit(2)
    })
}

fn pages(spec: &str) -> HashMap<String, Vec<(String, String)>> {
    spec.split(';')
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| {
            let (path, entries) = p.trim().split_once('=')?;
            let entries = entries
                .split(',')
                .filter_map(|e| {
                    let (ct, uid) = e.trim().split_once(':')?;
                    Some((ct.to_owned(), uid.to_owned()))
                })
                .collect();
            Some((path.to_owned(), entries))
        })
        .collect()
}

/// The process group this process is in, from `/proc/self/stat`.
fn process_group() -> String {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let (_, rest) = s.rsplit_once(')')?;
            rest.split_whitespace().nth(2).map(str::to_owned)
        })
        .unwrap_or_else(|| "?".to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--exit-at-once") => {
            eprintln!(
                "{}",
                args.get(1).map_or("tiny_app: giving up", String::as_str)
            );
            std::process::exit(3);
        }
        Some("--never-answer") => {
            println!("tiny_app: warming up, pid {}", std::process::id());
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
        }
        _ => {}
    }
    let mut shown: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("CONTENTSTACK_")
                || k.starts_with("TINY_")
                || k.starts_with("TTLAB_")
                || k == "PORT"
        })
        .collect();
    shown.sort();
    for (k, v) in &shown {
        println!("env {k}={v}");
    }
    let port: u16 = var("PORT").parse().expect("PORT is a port number");
    let site = Arc::new(Site {
        personalize_url: var("TTLAB_PERSONALIZE_URL"),
        delivery_url: var("TTLAB_DELIVERY_URL"),
        api_key: var("TTLAB_API_KEY"),
        delivery_token: var("TTLAB_DELIVERY_TOKEN"),
        environment: var("TTLAB_ENVIRONMENT"),
        project_uid: var("TTLAB_PROJECT_UID"),
        locale: var("TTLAB_LOCALE"),
        variant_param: std::env::var("TINY_APP_VARIANT_PARAM")
            .unwrap_or_else(|_| alias::VARIANT_PARAM.to_owned()),
        cache_control: std::env::var("TINY_APP_CACHE_CONTROL")
            .ok()
            .and_then(|v| HeaderValue::from_str(&v).ok()),
        pages: pages(&std::env::var("TINY_APP_PAGES").unwrap_or_default()),
        http: reqwest::Client::new(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("tiny_app: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        });
    println!(
        "tiny_app pid {} process group {} listening on http://127.0.0.1:{port} with {} pages",
        std::process::id(),
        process_group(),
        site.pages.len()
    );
    let app = Router::new().fallback(page).with_state(site);
    axum::serve(listener, app).await.expect("serve");
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The visitor's variant aliases: from the variant parameter an edge
/// passed, else from Personalize (none when it fails: base content).
async fn aliases(site: &Site, param: Option<String>, uid: Option<String>) -> Vec<String> {
    if let Some(param) = param {
        return param
            .split(',')
            .filter_map(|s| alias::parse_short(s.trim()))
            .map(|(e, v)| alias::format(e, v))
            .collect();
    }
    let mut call = site
        .http
        .get(format!("{}/manifest", site.personalize_url))
        .header("x-project-uid", &site.project_uid);
    if let Some(uid) = uid {
        call = call.header("x-cs-personalize-user-uid", uid);
    }
    let Ok(resp) = call.send().await else {
        return Vec::new();
    };
    let Ok(manifest) = resp.json::<Value>().await else {
        return Vec::new();
    };
    manifest["experiences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(alias::format(
                e["shortUid"].as_str()?,
                e["activeVariantShortUid"].as_str()?,
            ))
        })
        .collect()
}

async fn page(State(site): State<Arc<Site>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/health" {
        return "ok\n".into_response();
    }
    let Some(entries) = site.pages.get(&path) else {
        return (StatusCode::NOT_FOUND, "no such page\n").into_response();
    };
    let param = query_param(req.uri().query(), &site.variant_param);
    let uid = cookie(req.headers(), "cs-personalize-user-uid").map(str::to_owned);
    let aliases = aliases(&site, param, uid).await;
    let mut html = String::from("<!doctype html><html><body>\n");
    for (ct, uid) in entries {
        let mut call = site
            .http
            .get(format!(
                "{}/v3/content_types/{ct}/entries/{uid}?{}",
                site.delivery_url,
                serde_urlencoded::to_string([
                    ("environment", site.environment.as_str()),
                    ("locale", site.locale.as_str()),
                ])
                .unwrap_or_default()
            ))
            .header("api_key", &site.api_key)
            .header("access_token", &site.delivery_token);
        if !aliases.is_empty() {
            call = call.header("x-cs-variant-uid", aliases.join(","));
        }
        let entry = match call.send().await {
            Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
            _ => None,
        };
        let Some(entry) = entry else {
            return (
                StatusCode::BAD_GATEWAY,
                format!("the Delivery API did not give entry {uid}\n"),
            )
                .into_response();
        };
        let e = &entry["entry"];
        let _ = writeln!(
            html,
            "<section><h2>{}</h2>{}</section>",
            e["title"].as_str().unwrap_or(""),
            e["body"].as_str().unwrap_or("")
        );
    }
    html.push_str("</body></html>\n");
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    if let Some(cc) = &site.cache_control {
        resp.headers_mut().insert(header::CACHE_CONTROL, cc.clone());
    }
    resp
}
