//! A reverse-proxy cache that follows HTTP: what `ttlab serve cdn
//! --upstream URL` runs in front of any origin, and what the CDN and edge
//! of a run do under `policy = "http"`.
//!
//! It is the same caching layer as every other (`CacheLayer`: the cache
//! lock, stale-while-revalidate in the background, stale-if-error, purge by
//! tag, bounded stores); what this file adds is HTTP's word on each answer,
//! all of it decided by the pure rules of [`crate::cache::http`]:
//!
//! - whether an answer is stored and its windows come from its own headers
//!   ([`evaluate`], on the fill path only: a hit reads a field);
//! - `Vary`: the fields an answer varies on are remembered per URL, and the
//!   answer is stored under the URL's key extended with the request's
//!   values of those fields; `Vary: *` is never stored;
//! - a stale entry with validators is revalidated with a conditional
//!   request, and a `304` freshens the stored headers;
//! - a request's own directives narrow what it accepts (`max-age`,
//!   `no-cache`, `min-fresh`, `max-stale`); its `no-store` goes around;
//! - every other method passes through with its body, and a non-error
//!   answer to an unsafe one invalidates what was stored for its URL (and
//!   its same-origin `Location` / `Content-Location`);
//! - purge by `Surrogate-Key` and by URL: `POST /_ttlab/purge?key=K` or
//!   `?url=/path`;
//! - hop-by-hop fields are dropped both ways, and the fields targeted at
//!   this cache (`Surrogate-Control`) are not passed downstream.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use lru::LruCache;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use ttlab_scenarios::{Clock, Micros, VariantSet};

use crate::cache::http::{
    self, Exchange, HttpPolicy, RequestDirectives, Vary, constrained, evaluate,
};
use crate::cache::{
    self, Answer, AnyStore, Bounds, CacheKey, FillError, KeyStrategy, LayerOptions, MemoryStore,
    StoreMetrics, Tag, Windows,
};
use crate::origin::{PageLayer, UID_COOKIE, metrics_text};
use crate::response::{PageResponse, cookie};

/// Largest request body passed upstream (the accept loop's own limit is the
/// same).
const MAX_BODY: usize = 1024 * 1024;

/// URLs whose `Vary` the proxy remembers; past it the least recently used
/// is forgotten (its next answer teaches it again).
const VARY_MEMORY: usize = 65_536;

/// Request fields a cache filling for itself leaves out: its own
/// validators replace the client's, whose conditional answer (a 304) it
/// could not store; the client's preconditions are judged here instead.
const CLIENT_CONDITIONALS: [HeaderName; 5] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
];

/// What the proxy keys on beside the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    /// The URL and what each answer's `Vary` names, as HTTP says.
    Http,
    /// An architecture's key strategy: its CDN reads the `Cookie` field as
    /// that strategy does (only the visitor cookie, or none), and `Vary:
    /// Cookie` then varies on what the strategy keys on.
    Strategy(KeyStrategy),
}

/// How a proxy runs.
#[derive(Clone, Debug)]
pub struct HttpProxyOptions {
    /// Where fills go, taken in turn (`http://host:port`, no trailing `/`).
    pub upstreams: Vec<String>,
    /// The caching rules (targeted fields, heuristic).
    pub policy: HttpPolicy,
    /// What it keys on.
    pub key: KeyMode,
    /// Store bounds.
    pub bounds: Bounds,
    /// One fill per key at a time.
    pub coalesce: bool,
    /// Its name in `x-cache` and metrics.
    pub name: &'static str,
    /// How long an upstream exchange may take.
    pub upstream_timeout: Duration,
}

impl HttpProxyOptions {
    /// A standards-following cache in front of `upstream`: default bounds,
    /// no heuristic lifetime, keyed as HTTP says.
    pub fn new(upstream: &str) -> Self {
        HttpProxyOptions {
            upstreams: vec![upstream.trim_end_matches('/').to_owned()],
            policy: HttpPolicy::default(),
            key: KeyMode::Http,
            bounds: Bounds::or_defaults(None, None),
            coalesce: true,
            name: "cdn",
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

/// The clock a standalone proxy judges freshness on: monotonic, reading
/// more than HTTP's largest age (2^31 s) from its first instant, because an
/// answer that arrives with `Age: N` is stored as if fetched N seconds ago,
/// and a run clock that starts at zero could not go back that far.
pub fn proxy_clock() -> Arc<dyn Clock> {
    struct Shifted(ttlab_scenarios::SystemClock);
    impl Clock for Shifted {
        fn now(&self) -> Micros {
            Micros::from_secs(http::DELTA_MAX + 1).saturating_add(self.0.now())
        }
    }
    Arc::new(Shifted(ttlab_scenarios::SystemClock::starting_now()))
}

/// The proxy.
pub struct HttpProxy {
    options: HttpProxyOptions,
    /// Its caching layer; entries carry the windows their headers gave.
    pub layer: PageLayer,
    http: reqwest::Client,
    next_upstream: AtomicUsize,
    varies: Mutex<LruCache<CacheKey, Vary>>,
    /// Requests it answered.
    pub requests: Counter,
    /// Answers to unsafe methods that invalidated stored responses.
    pub invalidations: Counter,
    registry: Registry,
}

/// A stored or fetched answer's marker: the proxy answered it as is, so
/// the accept loop must not rewrite an upstream's error into its own shape.
#[derive(Clone, Copy, Debug)]
pub struct Passed;

impl HttpProxy {
    /// A proxy judging freshness on `clock`.
    ///
    /// # Panics
    ///
    /// When the HTTP client cannot be built (no TLS is involved, so it can).
    pub fn new(options: HttpProxyOptions, clock: Arc<dyn Clock>) -> Self {
        let mut registry = Registry::with_prefix(format!("ttlab_{}", options.name));
        let layer_options = LayerOptions {
            // Entries carry their own; nothing is servable without them.
            windows: Windows {
                ttl: Micros::ZERO,
                swr: Micros::ZERO,
                sie: Micros::ZERO,
            },
            coalesce: options.coalesce,
            lock_timeout: Duration::from_secs(5),
        };
        let store = Arc::new(AnyStore::Memory(MemoryStore::new(options.bounds)));
        let layer = PageLayer::new(layer_options, store, clock)
            .with_entry_windows(|p: &Arc<PageResponse>| p.windows);
        layer.counters().register(&mut registry, options.name);
        registry
            .sub_registry_with_label(("layer".into(), options.name.into()))
            .register_collector(Box::new(StoreMetrics(layer.store().clone())));
        let requests = Counter::default();
        registry.register("requests", "Requests the layer answered", requests.clone());
        let invalidations = Counter::default();
        registry.register(
            "invalidations",
            "Answers to unsafe methods that invalidated stored responses",
            invalidations.clone(),
        );
        let http = crate::proxy::upstream_client(options.upstream_timeout);
        HttpProxy {
            options,
            layer,
            http,
            next_upstream: AtomicUsize::new(0),
            varies: Mutex::new(LruCache::new(
                NonZeroUsize::new(VARY_MEMORY).expect("not zero"),
            )),
            requests,
            invalidations,
            registry,
        }
    }

    /// Prometheus text of its counters.
    pub fn metrics_text(&self) -> String {
        metrics_text(&self.registry)
    }

    /// Its routes: every path and method to the upstream through the
    /// cache, `POST /_ttlab/purge` and `GET /_ttlab/metrics` for the operator.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/_ttlab/purge", post(purge))
            .route(
                "/_ttlab/metrics",
                axum::routing::get(
                    |State(p): State<Arc<HttpProxy>>| async move { p.metrics_text() },
                ),
            )
            .fallback(handle)
            .with_state(self.clone())
    }

    fn upstream(&self) -> Option<&str> {
        let n = self.next_upstream.fetch_add(1, Ordering::Relaxed);
        self.options
            .upstreams
            .get(n % self.options.upstreams.len().max(1))
            .map(String::as_str)
    }

    /// The key of `target` before `Vary`: the URL and what the key mode
    /// adds.
    fn primary(&self, target: &str, headers: &HeaderMap) -> CacheKey {
        let variance = match self.options.key {
            KeyMode::Http => cache::Variance::None,
            KeyMode::Strategy(s) => {
                cache::variance(s, cookie(headers, UID_COOKIE), VariantSet::none(0), 0)
            }
        };
        cache::key(target, variance)
    }

    /// The key a request's variant lives under, for an answer that varies
    /// as `vary` says; None for `Vary: *`.
    fn varied(&self, primary: CacheKey, vary: &Vary, headers: &HeaderMap) -> Option<CacheKey> {
        if *vary == Vary::None {
            return Some(primary);
        }
        let strategy = match self.options.key {
            KeyMode::Http => None,
            KeyMode::Strategy(s) => Some(s),
        };
        let normalise = move |name: &HeaderName, _lines: &[&HeaderValue]| -> Option<Vec<u8>> {
            // The strategy's reading of Cookie: its key already holds what
            // it keys on, so the field adds nothing.
            (strategy.is_some() && *name == header::COOKIE).then(Vec::new)
        };
        vary.secondary(headers, &normalise)
            .map(|s| cache::key::with_secondary(primary, s))
    }

    /// The `Vary` last seen on an answer for `primary`.
    fn vary_of(&self, primary: CacheKey) -> Vary {
        self.varies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&primary)
            .cloned()
            .unwrap_or_default()
    }

    fn learn_vary(&self, primary: CacheKey, vary: &Vary) {
        let mut m = self
            .varies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *vary == Vary::None {
            m.pop(&primary);
        } else if m.peek(&primary) != Some(vary) {
            m.put(primary, vary.clone());
        }
    }

    /// A GET or HEAD through the cache.
    async fn cached(self: &Arc<Self>, parts: &Parts, target: &str, absolute: &str) -> Response {
        let directives = RequestDirectives::of_request(&parts.headers);
        let primary = self.primary(target, &parts.headers);
        let vary = self.vary_of(primary);
        let fetch = {
            let p = self.clone();
            let headers = parts.headers.clone();
            let (target, absolute) = (target.to_owned(), absolute.to_owned());
            move |held: Option<Arc<PageResponse>>| {
                let p = p.clone();
                let (headers, target, absolute) =
                    (headers.clone(), target.clone(), absolute.clone());
                async move { p.fill(&headers, &target, &absolute, primary, held).await }
            }
        };
        let result = match self.varied(primary, &vary, &parts.headers) {
            Some(key) if !directives.no_store => {
                self.layer
                    .serve_with(key, |w| constrained(w, &directives), fetch)
                    .await
            }
            _ => self.layer.bypass(|| fetch(None)).await,
        };
        match result {
            Ok(answer) => self.respond(&answer, &parts.headers),
            Err(e) => crate::origin::error_response(&e, "upstream"),
        }
    }

    /// Fetches `target` for the cache: conditionally when `held` has
    /// validators, freshening it on a 304.
    async fn fill(
        &self,
        request: &HeaderMap,
        target: &str,
        absolute: &str,
        primary: CacheKey,
        held: Option<Arc<PageResponse>>,
    ) -> Result<cache::Fetched<Arc<PageResponse>>, FillError> {
        let stored = held.as_ref().map(|h| h.header_map());
        let mut headers = forwarded(request);
        for name in &CLIENT_CONDITIONALS {
            headers.remove(name);
        }
        if let Some(s) = &stored {
            for (k, v) in http::conditional(s) {
                headers.insert(k, v);
            }
        }
        if let Some(c) = self.options.policy.targets.capability() {
            headers.insert(http::SURROGATE_CAPABILITY, c);
        }
        let (status, response, body, times) = self
            .exchange(Method::GET, target, headers, Bytes::new())
            .await?;
        if status == 304 {
            // A 304 to the conditional request sent for `held` validates
            // it: the request named that one response. (RFC 9111 §4.3.4
            // selects among several stored responses by the 304's
            // validator; this cache holds one per key, and the suite's
            // required tests freshen it from a 304 without a validator, or
            // with a different `ETag`, which the stored response keeps.)
            if let (Some(held), Some(mut merged)) = (held.as_ref(), stored) {
                // The 304's Age and Date replace the held ones too: the
                // freshened page's age counts from this validation.
                http::update_headers(&mut merged, &response);
                return Ok(self.judged(
                    held.status,
                    &merged,
                    &held.body,
                    request,
                    times,
                    absolute,
                    primary,
                ));
            }
            // Not a 304 for what we hold: ask again, unconditionally.
            let mut headers = forwarded(request);
            for name in &CLIENT_CONDITIONALS {
                headers.remove(name);
            }
            if let Some(c) = self.options.policy.targets.capability() {
                headers.insert(http::SURROGATE_CAPABILITY, c);
            }
            let (status, response, body, times) = self
                .exchange(Method::GET, target, headers, Bytes::new())
                .await?;
            return Ok(self.judged(status, &response, &body, request, times, absolute, primary));
        }
        if status >= 500 && held.is_some() {
            // A failed fill of something held: stale-if-error may answer.
            return Err(FillError {
                status,
                message: format!("upstream answered {status}"),
            });
        }
        Ok(self.judged(status, &response, &body, request, times, absolute, primary))
    }

    /// An upstream answer judged for storing.
    #[allow(clippy::too_many_arguments)]
    fn judged(
        &self,
        status: u16,
        response: &HeaderMap,
        body: &[u8],
        request: &HeaderMap,
        (request_time, response_time): (SystemTime, SystemTime),
        absolute: &str,
        primary: CacheKey,
    ) -> cache::Fetched<Arc<PageResponse>> {
        let verdict = evaluate(
            &self.options.policy,
            &Exchange {
                method: &Method::GET,
                status,
                request,
                response,
                request_time,
                response_time,
            },
        );
        let mut kept = response.clone();
        for name in &verdict.strip {
            kept.remove(name);
        }
        let mut page = PageResponse::from_http(status, &kept, body);
        page.windows = Some(verdict.windows);
        let mut tags: Vec<Tag> = response
            .get_all("surrogate-key")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(str::split_whitespace)
            .map(surrogate_tag)
            .collect();
        tags.push(url_tag(absolute));
        self.learn_vary(primary, &verdict.vary);
        let store_as = self.varied(primary, &verdict.vary, request);
        let cacheable = verdict.store.is_ok() && store_as.is_some();
        if let Err(why) = verdict.store {
            tracing::debug!(?why, status, "answer not stored");
        }
        let size = page.size();
        let mut fetched = cache::Fetched::new(Arc::new(page), cacheable, tags, size);
        fetched.initial_age = verdict.initial_age;
        fetched.store_as = store_as;
        fetched
    }

    /// One exchange with an upstream: status, fields, body and the times
    /// the request left and the answer arrived.
    async fn exchange(
        &self,
        method: Method,
        target: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<(u16, HeaderMap, Bytes, (SystemTime, SystemTime)), FillError> {
        let Some(upstream) = self.upstream() else {
            return Err(FillError {
                status: 502,
                message: "no upstream to forward to".to_owned(),
            });
        };
        let request_time = SystemTime::now();
        let resp = self
            .http
            .request(method, format!("{upstream}{target}"))
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| FillError {
                status: if e.is_timeout() { 504 } else { 502 },
                message: format!("upstream unreachable: {e}"),
            })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| FillError {
            status: 502,
            message: format!("upstream body: {e}"),
        })?;
        Ok((status, headers, body, (request_time, SystemTime::now())))
    }

    /// An answer as the response to a client: as every layer answers
    /// (`origin::answer_response`: the stored fields, `x-cache`, `Age`),
    /// without the fields targeted at this cache, and a 304 or a part when
    /// the client's own precondition or `Range` asks for one.
    fn respond(&self, answer: &Answer<Arc<PageResponse>>, request: &HeaderMap) -> Response {
        let page = &answer.value;
        let mut resp = crate::origin::answer_response(answer, Some(self.options.name), &[]);
        let h = resp.headers_mut();
        for name in self.options.policy.targets.fields() {
            if http::is_targeted(name, &self.options.policy.targets) {
                h.remove(name);
            }
        }
        // A client's preconditions and ranges are judged against a whole
        // 200; the rest of the time (every plain hit) nothing is read here.
        let conditional = page.status == 200
            && (request.contains_key(header::IF_NONE_MATCH)
                || request.contains_key(header::IF_MODIFIED_SINCE)
                || request.contains_key(header::RANGE));
        if conditional {
            let fields = page.header_map();
            let len = page.body.len() as u64;
            let (status, body, range) = if http::precondition::not_modified(request, &fields) {
                (StatusCode::NOT_MODIFIED, Body::empty(), None)
            } else {
                match http::range::requested(request, &fields, len) {
                    http::range::Ranged::Part { start, end } => (
                        StatusCode::PARTIAL_CONTENT,
                        Body::from(page.body.slice(start as usize..=end as usize)),
                        Some(format!("bytes {start}-{end}/{len}")),
                    ),
                    http::range::Ranged::Unsatisfiable => (
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        Body::empty(),
                        Some(format!("bytes */{len}")),
                    ),
                    http::range::Ranged::Whole => {
                        (StatusCode::OK, Body::from(page.body.clone()), None)
                    }
                }
            };
            if let Some(v) = range.and_then(|r| HeaderValue::from_str(&r).ok()) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            *resp.status_mut() = status;
            *resp.body_mut() = body;
        }
        resp.extensions_mut().insert(Passed);
        resp
    }

    /// Any other method: passed through with its body; a non-error answer
    /// to an unsafe one invalidates what is stored for its URL.
    async fn pass(&self, parts: &Parts, target: &str, absolute: &str, body: Bytes) -> Response {
        let result = self
            .exchange(
                parts.method.clone(),
                target,
                forwarded(&parts.headers),
                body,
            )
            .await;
        match result {
            Ok((status, headers, body, _)) => {
                if http::invalidates(&parts.method, status) {
                    self.invalidations.inc();
                    for t in http::invalidated_targets(absolute, &headers) {
                        self.layer.purge(url_tag(&t)).await;
                    }
                }
                let mut resp = Response::new(Body::from(body));
                *resp.status_mut() =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let h = resp.headers_mut();
                for (k, v) in &headers {
                    if !http::is_hop_by_hop(k, &headers) && *k != header::CONTENT_LENGTH {
                        h.append(k.clone(), v.clone());
                    }
                }
                resp.extensions_mut().insert(Passed);
                resp
            }
            Err(e) => crate::origin::error_response(&e, "upstream"),
        }
    }
}

async fn handle(State(p): State<Arc<HttpProxy>>, req: Request) -> Response {
    p.requests.inc();
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let absolute = canonical_url(&format!("http://{host}{target}"));
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return p.cached(&parts, &target, &absolute).await;
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body: {e}\n"),
            )
                .into_response();
        }
    };
    p.pass(&parts, &target, &absolute, body).await
}

/// `POST /_ttlab/purge?key=K` (every answer whose `Surrogate-Key` lists K)
/// or `?url=/path` (every variant stored for that path on this host).
#[derive(serde::Deserialize)]
struct PurgeQuery {
    key: Option<String>,
    url: Option<String>,
}

async fn purge(
    State(p): State<Arc<HttpProxy>>,
    headers: HeaderMap,
    Query(q): Query<PurgeQuery>,
) -> Response {
    let tag = match (&q.key, &q.url) {
        (Some(k), None) => surrogate_tag(k),
        (None, Some(u)) => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let abs = if u.starts_with("http://") || u.starts_with("https://") {
                u.clone()
            } else {
                format!("http://{host}{u}")
            };
            url_tag(&canonical_url(&abs))
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({"error": "give exactly one of ?key=SURROGATE_KEY or ?url=/path"})),
            )
                .into_response();
        }
    };
    let purged = p.layer.purge(tag).await;
    axum::Json(serde_json::json!({ "purged": purged })).into_response()
}

/// The request's end-to-end fields, as forwarded upstream (no `Host`: the
/// client sets the upstream's).
fn forwarded(request: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(request.len());
    for (k, v) in request {
        if !http::is_hop_by_hop(k, request) && *k != header::HOST && *k != header::CONTENT_LENGTH {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

/// A URL in one spelling (as `invalidated_targets` gives them), so the tag
/// of a stored answer and of an invalidation agree.
fn canonical_url(u: &str) -> String {
    url::Url::parse(u).map_or_else(|_| u.to_owned(), String::from)
}

/// The purge tag of a `Surrogate-Key` member.
pub fn surrogate_tag(key: &str) -> Tag {
    tag_of(b'k', key)
}

/// The purge tag of every answer stored for a URL.
fn url_tag(url: &str) -> Tag {
    tag_of(b'u', url)
}

/// A 32-bit tag from a kind and a name: two names sharing a tag only make
/// a purge drop more than it must, never less.
fn tag_of(kind: u8, name: &str) -> Tag {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&[kind]);
    h.update(name.as_bytes());
    h.digest() as Tag
}

/// The proxy's error shape: its own errors (an unreachable upstream, the
/// accept loop's limits) as the CDN's plain text; an upstream's answer,
/// whatever its status, passed on untouched.
#[derive(Clone, Copy)]
pub struct ProxyShape;

impl ttlab_http_serve::ErrorShape for ProxyShape {
    fn error(&self, path: &str, status: StatusCode, message: &str) -> Response {
        crate::stack::LayerShape.error(path, status, message)
    }

    fn is_shaped(&self, path: &str, response: &Response) -> bool {
        response.extensions().get::<Passed>().is_some()
            || crate::stack::LayerShape.is_shaped(path, response)
    }
}

/// Serves `proxy` on `listener` until `stop` completes, with the accept
/// loop every ttlab server runs.
pub fn serve<F>(
    proxy: &Arc<HttpProxy>,
    listener: tokio::net::TcpListener,
    stop: F,
) -> ttlab_http_serve::Serving
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    ttlab_http_serve::serve(
        listener,
        proxy.router(),
        ttlab_http_serve::Limits::default(),
        ProxyShape,
        stop,
    )
}
