//! The layers in front of the origin: a CDN (shared cache keyed by URL, or
//! by URL + the visitor cookie) and an edge (calls Personalize, rewrites to
//! the origin with `personalize_variants`, caches by URL + variants). Both
//! run the same cache library as the origin.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use ttlab_scenarios::model::{CacheOptions, CachePolicy, PageIdx};
use ttlab_scenarios::{Clock, Micros, VariantSet, World, token};

use ttlab_scenarios::topology::{Role, Topology};

use crate::cache::http::{Exchange, HttpPolicy, Vary, conditional, evaluate, update_headers};
use crate::cache::{self, CacheKey, Fetched, FillError, KeyStrategy};
use crate::origin::{
    PageLayer, UID_COOKIE, VARIANT_PARAM, answer_response, error_response, metrics_text,
    page_layer, state_cookies,
};
use crate::response::{PageResponse, X_CONTENT, X_FALLBACK, cookie};
use crate::upstream::{Upstreams, variant_param};
use crate::webhook;

/// A caching proxy in front of the origin.
pub struct Proxy {
    /// What it is in the topology: its name.
    role: Role,
    /// What its cache keys on.
    key: KeyStrategy,
    /// It asks Personalize and keys on the variants (the edge); otherwise
    /// it keys on the whole URL (a CDN).
    personalizes: bool,
    world: Arc<World>,
    /// The origin replicas, taken in turn.
    origin_urls: Vec<String>,
    next_origin: std::sync::atomic::AtomicUsize,
    http: reqwest::Client,
    /// The edge's Personalize client (the edge only).
    personalize: Option<Upstreams>,
    /// The query parameter the edge passes the variants to the origin in.
    variant_param: String,
    /// Its cache layer.
    pub layer: PageLayer,
    options: CacheOptions,
    pages: std::collections::HashMap<String, PageIdx>,
    /// Under `policy = "http"`: the rules it follows the origin's headers
    /// by (what it stores, for how long, from what age).
    follows: Option<HttpPolicy>,
    /// Its cache is Varnish behind it (`[cdn] engine = "varnish"`): the
    /// edge asks Personalize and forwards every request to its one
    /// upstream, Varnish, naming the variants it keys on; it stores nothing.
    behind: bool,
    /// Requests the proxy answered.
    pub requests: Counter,
    /// Fills the origin answered `304 Not Modified` (under `policy =
    /// "http"`): the page held was freshened, not fetched again.
    pub revalidated: Counter,
    registry: Registry,
}

impl Proxy {
    /// The front layer of `topology` in front of the origin replicas at
    /// `origin_urls` (one or more; fills go to each in turn, as a load
    /// balancer would). A front that asks Personalize (the edge) needs
    /// `personalize` for its manifest calls. `namespace` prefixes its keys in a Redis
    /// backend. Fails only for a Redis URL that does not parse.
    ///
    /// # Panics
    ///
    /// When the topology has no front layer that caches: there is no proxy
    /// to make.
    pub fn new(
        topology: Topology,
        world: Arc<World>,
        clock: Arc<dyn Clock>,
        origin_urls: &[String],
        options: &CacheOptions,
        personalize: Option<Upstreams>,
        namespace: &str,
    ) -> Result<Self, cache::StoreError> {
        let (role, key) = match topology.front {
            Some(f) => (f.role, f.key.expect("a front layer caches")),
            None => panic!("{} has no layer in front of the origin", topology.arch),
        };
        let mut registry = Registry::with_prefix(format!("ttlab_{}", role.name()));
        let mut layer = page_layer(options, clock, &mut registry, role.name(), namespace)?;
        let follows = (options.policy == CachePolicy::Http).then(HttpPolicy::default);
        if follows.is_some() {
            layer = layer.with_entry_windows(|p: &Arc<PageResponse>| p.windows);
        }
        let requests = Counter::default();
        registry.register("requests", "Requests the layer answered", requests.clone());
        let revalidated = Counter::default();
        registry.register(
            "revalidated",
            "Fills answered 304 Not Modified: the page held, freshened",
            revalidated.clone(),
        );
        if let Some(p) = &personalize {
            p.counters.register(&mut registry);
        }
        let http = upstream_client(std::time::Duration::from_secs(30));
        let pages = world
            .scenario()
            .content
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.path.clone(), i as PageIdx))
            .collect();
        Ok(Proxy {
            role,
            key,
            personalizes: topology.front_personalizes(),
            world,
            origin_urls: origin_urls
                .iter()
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect(),
            next_origin: std::sync::atomic::AtomicUsize::new(0),
            http,
            personalize,
            variant_param: VARIANT_PARAM.to_owned(),
            layer,
            options: options.clone(),
            pages,
            follows,
            behind: false,
            requests,
            revalidated,
            registry,
        })
    }

    /// The proxy with its cache in Varnish at its upstream: it stores
    /// nothing and passes on Varnish's `x-cache` and `Age`. An edge names
    /// the variants it keys on in [`VARIANT_KEY_HEADER`] for the VCL.
    #[must_use]
    pub fn with_cache_behind(mut self) -> Self {
        self.behind = true;
        self
    }

    /// The proxy passing an edge's variants in `name` instead of ttlab's
    /// origin's `personalize_variants`: the team's app reads its own.
    #[must_use]
    pub fn with_variant_param(mut self, name: &str) -> Self {
        name.clone_into(&mut self.variant_param);
        self
    }

    /// What it is in the topology (its name is `role().name()`).
    pub fn role(&self) -> Role {
        self.role
    }

    /// Prometheus text of every counter.
    pub fn metrics_text(&self) -> String {
        metrics_text(&self.registry)
    }

    /// The proxy's routes.
    pub fn router(self: &Arc<Self>) -> Router {
        webhook::routes::<ProxyPurge, _, _>(self.clone(), handle)
    }

    /// GETs `path_and_query` from the origin, passing the visitor cookie
    /// only. Under `policy = "http"`, a fill that replaces a stored page
    /// (`held`) with an `ETag` asks whether it still holds
    /// (`If-None-Match`), and a `304` freshens it.
    async fn fetch(
        self: Arc<Self>,
        path_and_query: String,
        uid: Option<String>,
        held: Option<Arc<PageResponse>>,
    ) -> Result<Fetched<Arc<PageResponse>>, FillError> {
        let cookie_header = uid
            .as_ref()
            .and_then(|u| HeaderValue::from_str(&format!("{UID_COOKIE}={u}")).ok());
        let n = self
            .next_origin
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(origin) = self.origin_urls.get(n % self.origin_urls.len().max(1)) else {
            return Err(FillError {
                status: 502,
                message: "no origin to forward to".to_owned(),
            });
        };
        let mut sent = HeaderMap::new();
        if let Some(c) = cookie_header {
            sent.insert(header::COOKIE, c);
        }
        let held = held.filter(|_| self.follows.is_some());
        if let Some(h) = &held {
            for (k, v) in conditional(&h.header_map()) {
                sent.insert(k, v);
            }
        }
        let request_time = std::time::SystemTime::now();
        let req = self
            .http
            .get(format!("{origin}{path_and_query}"))
            .headers(sent.clone());
        let resp = req.send().await.map_err(|e| FillError {
            status: if e.is_timeout() { 504 } else { 502 },
            message: format!("origin unreachable: {e}"),
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body: Bytes = resp.bytes().await.map_err(|e| FillError {
            status: 502,
            message: format!("origin body: {e}"),
        })?;
        // A 304 for the page held: that page, its fields freshened.
        let (status, headers, body) = match held {
            Some(h) if status == 304 => {
                self.revalidated.inc();
                let mut merged = h.header_map();
                // The 304's Age and Date replace the held ones too: the
                // freshened page's age counts from this validation.
                update_headers(&mut merged, &headers);
                (h.status, merged, h.body.clone())
            }
            _ => (status, headers, body),
        };
        if status >= 500 {
            // An origin failure is a failed fill: stale-if-error may answer.
            let detail = String::from_utf8_lossy(&body);
            return Err(FillError {
                status,
                message: format!("origin answered {status}: {}", detail.trim()),
            });
        }
        let mut page = PageResponse::from_upstream(status, &headers, &body);
        let mut cacheable = page.shareable();
        let mut initial_age = Micros::ZERO;
        if let Some(policy) = &self.follows {
            // The origin's headers decide, as at any CDN that follows HTTP.
            let verdict = evaluate(
                policy,
                &Exchange {
                    method: &Method::GET,
                    status,
                    request: &sent,
                    response: &headers,
                    request_time,
                    response_time: std::time::SystemTime::now(),
                },
            );
            cacheable = verdict.store.is_ok() && Self::keys_cover(&verdict.vary);
            page.windows = Some(verdict.windows);
            initial_age = verdict.initial_age;
        }
        // ttlab's origin names the entries in a header; any other origin's
        // page names them in its content tokens.
        let tags = match page.header(X_CONTENT) {
            Some(c) => self.tags(c),
            None => self.token_tags(&page.body),
        };
        let size = page.size();
        let mut fetched = Fetched::new(Arc::new(page), cacheable, tags, size);
        fetched.initial_age = initial_age;
        Ok(fetched)
    }

    /// Whether this layer's key holds every request field an answer varies
    /// on: `Cookie` is read as the key strategy reads it (the visitor
    /// cookie, the variants it selects, or nothing: the architecture's own
    /// choice, which is what the run measures), and nothing else is keyed
    /// on. An answer varying on any other field is not stored, so a stored
    /// answer never crosses its `Vary` (the standalone `ttlab serve cdn`
    /// keys on such fields; ttlab's origin never sends them).
    fn keys_cover(vary: &Vary) -> bool {
        match vary {
            Vary::None => true,
            Vary::Star => false,
            Vary::Fields(f) => f.iter().all(|n| *n == header::COOKIE),
        }
    }

    /// Entry indices of the content tokens in a page's body.
    fn token_tags(&self, body: &[u8]) -> Vec<u32> {
        let entries = &self.world.scenario().content.entries;
        let mut tags: Vec<u32> = token::parse(&String::from_utf8_lossy(body))
            .entries
            .iter()
            .filter_map(|t| entries.iter().position(|e| e.uid == t.entry))
            .map(|i| i as u32)
            .collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// Entry indices named in an `x-ttlab-content` value.
    fn tags(&self, content: &str) -> Vec<u32> {
        let entries = &self.world.scenario().content.entries;
        content
            .split(',')
            .filter_map(|part| part.trim().strip_prefix("e=")?.split(';').next())
            .filter_map(|uid| entries.iter().position(|e| e.uid == uid))
            .map(|i| i as u32)
            .collect()
    }
}

async fn handle(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "pages answer GET only\n").into_response();
    }
    p.requests.inc();
    // The URI's bytes are shared, not copied.
    let uri = req.uri().clone();
    let (path, query) = (uri.path(), uri.query());
    let headers = req.headers();
    let uid = cookie(headers, UID_COOKIE).map(str::to_owned);
    let layer_name = p.role.name();
    let world = &p.world;
    let page_mask = p
        .pages
        .get(path)
        .map_or(0, |i| world.page_experience_mask(*i));
    let mut cookies = Vec::new();
    let mut variant_key = None;
    let (key, target, cacheable_request) = if p.personalizes {
        edge_key(
            &p,
            uid.as_deref(),
            path,
            page_mask,
            &mut cookies,
            &mut variant_key,
        )
        .await
    } else {
        cdn_key(&p, uid.as_deref(), path, query, page_mask)
    };
    let fallback = p.personalizes && !cacheable_request;
    if p.behind {
        let resp = forward_behind(
            &p,
            &target,
            uid.as_deref(),
            variant_key.as_deref(),
            &cookies,
        )
        .await;
        return mark_edge_answer(&p, resp, fallback, page_mask);
    }
    let fetch = {
        let p = p.clone();
        // The visitor cookie passed on is made only when a fill runs.
        move |held| p.clone().fetch(target.clone(), uid.clone(), held)
    };
    let result = if cacheable_request {
        p.layer.serve_with(key, |w| w, fetch).await
    } else {
        p.layer.bypass(|| fetch(None)).await
    };
    match result {
        Ok(answer) => {
            let resp = answer_response(&answer, Some(layer_name), &cookies);
            mark_edge_answer(&p, resp, fallback, page_mask)
        }
        Err(e) => error_response(&e, "origin"),
    }
}

/// What an edge adds to the answer it passes on: a fallback's marks, or
/// `Vary: Cookie` on a page whose variants it chose by the cookie.
fn mark_edge_answer(p: &Proxy, mut resp: Response, fallback: bool, page_mask: u64) -> Response {
    let h = resp.headers_mut();
    if fallback {
        // Base content for this request only, as the origin marks
        // its own fallbacks: a cache in front must not keep it.
        h.insert(X_FALLBACK, HeaderValue::from_static("personalize"));
        h.insert(
            "cache-control",
            HeaderValue::from_static("private, no-store"),
        );
    } else if p.personalizes && page_mask != 0 {
        // The edge chose the variants from the visitor's cookie; the
        // origin behind it saw them in the URL and could not say so.
        h.append("vary", HeaderValue::from_static("cookie"));
    }
    resp
}

/// Forwards a request to the cache behind (Varnish) and passes its answer
/// on as it came — its `x-cache` and `Age` — with this layer's cookies.
async fn forward_behind(
    p: &Proxy,
    target: &str,
    uid: Option<&str>,
    variant_key: Option<&str>,
    cookies: &[String],
) -> Response {
    let Some(upstream) = p.origin_urls.first() else {
        return error_response(
            &FillError {
                status: 502,
                message: "no cache to forward to".to_owned(),
            },
            "origin",
        );
    };
    let mut req = p.http.get(format!("{upstream}{target}"));
    if let Some(u) = uid {
        req = req.header(header::COOKIE, format!("{UID_COOKIE}={u}"));
    }
    if let Some(k) = variant_key {
        req = req.header(crate::varnish::VARIANT_KEY_HEADER, k);
    }
    let fetched = async {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, body))
    }
    .await;
    match fetched {
        Ok((status, headers, body)) => {
            let age = headers
                .get(header::AGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            PageResponse::from_upstream(status, &headers, &body)
                .to_response(None, true, age, cookies)
        }
        Err(e) => error_response(
            &FillError {
                status: if e.is_timeout() { 504 } else { 502 },
                message: format!("the cache behind the edge is unreachable: {e}"),
            },
            "origin",
        ),
    }
}

/// A CDN's key and origin URL: it keys on the whole URL (every query
/// parameter) and what its key strategy adds, and forwards the URL as is.
/// The third value says whether the request may use the cache.
fn cdn_key(
    p: &Proxy,
    uid: Option<&str>,
    path: &str,
    query: Option<&str>,
    page_mask: u64,
) -> (CacheKey, String, bool) {
    let q = cache::canonical_query(query, &all_names(query));
    let primary = if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    };
    let target = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    // Keyed by visitor but no visitor yet: nothing to share it with.
    let cacheable = p.key.shared() || uid.is_some();
    let none = VariantSet::none(p.world.scenario().experiences.len());
    (
        cache::key(&primary, cache::variance(p.key, uid, none, page_mask)),
        target,
        cacheable,
    )
}

/// The edge's key and origin URL: it asks Personalize, keys on the
/// variants and passes them to the origin in the URL; when Personalize
/// fails, it forwards around its cache for base content. The third value
/// says whether the request may use the cache.
async fn edge_key(
    p: &Proxy,
    uid: Option<&str>,
    path: &str,
    page_mask: u64,
    cookies: &mut Vec<String>,
    variant_key: &mut Option<String>,
) -> (CacheKey, String, bool) {
    let personalize = p
        .personalize
        .as_ref()
        .expect("an edge has a Personalize client");
    match personalize.manifest(uid).await {
        Ok(m) => {
            *cookies = state_cookies(&m, uid);
            let param = variant_param(&p.world, &m.variants);
            let encoded = serde_urlencoded::to_string([(p.variant_param.as_str(), param.as_str())])
                .unwrap_or_default();
            let variance = cache::variance(p.key, Some(&m.uid), m.variants, page_mask);
            if p.behind {
                // The variants the key holds, for the cache behind to key on.
                let keyed = match variance {
                    cache::Variance::Variants(set) => variant_param(&p.world, &set),
                    _ => String::new(),
                };
                *variant_key = Some(if keyed.is_empty() {
                    "-".to_owned()
                } else {
                    keyed
                });
            }
            let key: CacheKey = cache::key(path, variance);
            (key, format!("{path}?{encoded}"), true)
        }
        Err(e) => {
            tracing::debug!(error = %e, "edge: Personalize failed; forwarding for base content");
            (CacheKey(0), path.to_owned(), false)
        }
    }
}

fn all_names(query: Option<&str>) -> Vec<&str> {
    query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
                .collect()
        })
        .unwrap_or_default()
}

/// Purge for a proxy's layer.
pub struct ProxyPurge;

impl webhook::Purger for ProxyPurge {
    type State = Proxy;
    async fn purge(state: &Proxy, entry: u32) -> Option<usize> {
        if !state.options.purge_on_publish {
            return None;
        }
        Some(state.layer.purge(entry).await)
    }
    fn world(state: &Proxy) -> &World {
        &state.world
    }
    fn metrics_text(state: &Proxy) -> String {
        state.metrics_text()
    }
}

/// The HTTP client a caching layer fills with: many idle connections to
/// few hosts, no Nagle delay, redirects passed on to the client (a cache
/// stores what the origin answered, not where it led), each exchange
/// bounded by `timeout`.
///
/// # Panics
///
/// Never in practice: a client without TLS always builds.
pub fn upstream_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(timeout)
        .build()
        .expect("an HTTP client without TLS builds")
}
