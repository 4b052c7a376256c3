//! The reference SSR origin: identifies the visitor, asks Personalize for
//! the manifest (or, behind an edge, reads `personalize_variants`), fetches
//! the page's entries from Delivery with the visitor's variants, renders
//! HTML — through its own cache layer in `ssr-origin-variant`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use ttlab_scenarios::model::{CacheOptions, PageIdx};
use ttlab_scenarios::token::{self, EntryToken};
use ttlab_scenarios::topology::{Role, Topology};
use ttlab_scenarios::{Clock, VariantSet, World};

use ttlab_scenarios::model::{Backend, CachePolicy};

use crate::cache::{
    self, Answer, AnyStore, CacheLayer, Fetched, FillError, KeyStrategy, LayerOptions, LockOptions,
    MemoryStore, RedisOptions, RedisStore, StoreError, StoreMetrics,
};
use crate::render::{RenderedEntry, Renderer};
use crate::response::{
    PageResponse, X_CONTENT, X_ERROR, X_FALLBACK, X_VARIANTS, X_VISITOR, cookie,
};
use crate::upstream::{Manifest, Upstreams, aliases_header, parse_variant_param, variant_param};
use crate::webhook;

/// The SDK's cookie with the user uid.
pub const UID_COOKIE: &str = "cs-personalize-user-uid";
/// The SDK's cookie with the manifest.
pub const MANIFEST_COOKIE: &str = "cs-personalize-manifest";
/// The SDK's URL param with the variants (behind an edge).
pub const VARIANT_PARAM: &str = ttlab_scenarios::alias::VARIANT_PARAM;

/// Where the origin gets a visitor's variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariantSource {
    /// Calls Personalize itself on every request.
    Personalize,
    /// Reads `personalize_variants` that an edge put in the URL.
    UrlParam,
}

impl VariantSource {
    /// Where the origin of `topology` gets them: from Personalize, unless
    /// a layer in front asks Personalize and passes them in the URL.
    pub const fn of(topology: Topology) -> VariantSource {
        if topology.origin_personalizes() {
            VariantSource::Personalize
        } else {
            VariantSource::UrlParam
        }
    }
}

/// The page store of a caching layer: in memory, or in Redis shared by
/// origin replicas (the scenario's `backend`).
pub type PageStore = AnyStore<Arc<PageResponse>>;

/// The longest one Redis call of a page layer may take before the layer
/// gives up on the store for that request and bypasses it: a slow Redis
/// must cost a request little more than this.
pub const REDIS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);
/// A caching layer of pages.
pub type PageLayer = CacheLayer<Arc<PageResponse>, PageStore>;

/// Counters of the origin itself.
#[derive(Clone, Debug, Default)]
pub struct OriginCounters {
    /// Page requests that reached the origin.
    pub requests: Counter,
    /// Pages rendered.
    pub renders: Counter,
    /// Pages answered with base content because Personalize failed.
    pub fallbacks: Counter,
    /// Error answers.
    pub errors: Counter,
}

/// The origin.
pub struct Origin {
    world: Arc<World>,
    upstreams: Upstreams,
    /// How it builds its pages (where the variants come from, what it states).
    builder: PageBuilder,
    /// Its cache layer, when the topology has the origin cache
    /// (`ssr-origin-variant`), with what it keys on.
    pub layer: Option<(PageLayer, KeyStrategy, CacheOptions)>,
    pages: HashMap<String, PageIdx>,
    /// Counters of the origin itself.
    pub counters: OriginCounters,
    registry: Registry,
}

/// How ttlab's origin builds a page from its entries' text: the HTML of its
/// template and the headers that say what the page was built from and who
/// may reuse it. Synchronous and free of I/O, so the simulator builds the
/// very page a real origin would and sizes it for a store's `max_bytes`
/// ([`PageResponse::size`]) without a server.
pub struct PageBuilder {
    renderer: Renderer,
    source: VariantSource,
    /// Under `policy = "http"`: the `Cache-Control` a shareable page
    /// states (the scenario's windows, for the caches in front to follow).
    stated: Option<HeaderValue>,
}

impl PageBuilder {
    /// The builder of the origin of `topology` with the architecture's
    /// `cache` options (its `policy` decides what pages state).
    pub fn new(topology: Topology, cache: &CacheOptions) -> Self {
        let stated = (cache.policy == CachePolicy::Http).then(|| {
            HeaderValue::from_str(&cache::stated::cache_control(cache.into()))
                .expect("digits and commas make a header value")
        });
        PageBuilder {
            renderer: Renderer::default(),
            source: VariantSource::of(topology),
            stated,
        }
    }

    /// Whether page `page` as this origin renders it depends on the
    /// visitor's cookie: its variants come from Personalize for the cookie's
    /// uid and its entries have variants. Such a page says `Vary: Cookie`,
    /// so a cache in front that follows HTTP keeps one copy per visitor;
    /// ttlab's own CDN keys on what its topology says, not on this header.
    /// Behind an edge the variants come in the URL, which caches key on.
    fn varies_by_cookie(&self, world: &World, page: PageIdx) -> bool {
        self.source == VariantSource::Personalize && world.page_experience_mask(page) != 0
    }

    /// Page `page` of `world` built from `entries` (each entry's uid and the
    /// `title` and `body` Delivery answered, in the page's order) for
    /// `variants` (already projected to the page's experiences). `visitor`
    /// greets the visitor (a per-visitor page); `fallback` marks base
    /// content served because Personalize failed. A page for a visitor or a
    /// fallback says `private, no-store`; any other is shareable.
    pub fn build(
        &self,
        world: &World,
        page: PageIdx,
        variants: &VariantSet,
        entries: &[RenderedEntry],
        visitor: Option<&str>,
        fallback: bool,
    ) -> PageResponse {
        let p = &world.scenario().content.pages[page as usize];
        let content: Vec<String> = entries
            .iter()
            .filter_map(|e| token::parse(&e.title).entries.into_iter().next())
            .map(|t| content_part(&t))
            .collect();
        let html = self
            .renderer
            .page(&p.path, &world.scenario().content.locale, entries, visitor);
        let cacheable = visitor.is_none() && !fallback;
        let mut headers = vec![
            header("content-type", "text/html; charset=utf-8"),
            header(X_VARIANTS, &variants_header(world, variants)),
            header(X_CONTENT, &content.join(", ")),
        ];
        match (&self.stated, cacheable) {
            (_, false) => headers.push(header("cache-control", "private, no-store")),
            (None, true) => headers.push(header("cache-control", "public")),
            (Some(stated), true) => {
                // The scenario's policy, stated for the caches in front,
                // with what they purge by and revalidate with.
                headers.push((HeaderName::from_static("cache-control"), stated.clone()));
                let uids = entries.iter().map(|e| e.uid.as_str());
                headers.push(header("surrogate-key", &cache::stated::surrogate_key(uids)));
                headers.push(header("etag", &cache::stated::etag(html.as_bytes())));
            }
        }
        if self.varies_by_cookie(world, page) {
            headers.push(header("vary", "cookie"));
        }
        if let Some(v) = visitor {
            headers.push(header(X_VISITOR, v));
        }
        if fallback {
            headers.push(header(X_FALLBACK, "personalize"));
        }
        PageResponse {
            status: 200,
            headers,
            body: Bytes::from(html),
            upstream_cache: None,
            set_cookies: Vec::new(),
            windows: None,
        }
    }
}

/// The `x-ttlab-variants` value of a variant set: short aliases or `-`.
pub fn variants_header(world: &World, variants: &VariantSet) -> String {
    let p = variant_param(world, variants);
    if p.is_empty() { "-".to_owned() } else { p }
}

/// The SDK's cookies as `addStateToResponse` sets them — the uid and the
/// manifest (URL-encoded, so it is a valid cookie value) — for a visitor
/// whose uid cookie is missing or different. Known visitors get none: their
/// cookies hold already, and pages stay small. No `Secure`: pages are served
/// over plain HTTP on loopback, where clients would not send it back.
pub fn state_cookies(manifest: &Manifest, had_uid: Option<&str>) -> Vec<String> {
    if had_uid == Some(manifest.uid.as_str()) {
        return Vec::new();
    }
    let json = serde_json::to_string(&manifest.body).unwrap_or_default();
    let encoded: String = serde_urlencoded::to_string([("v", json.as_str())]).unwrap_or_default();
    vec![
        format!(
            "{UID_COOKIE}={}; Max-Age=31536000; Path=/; SameSite=Lax",
            manifest.uid
        ),
        format!(
            "{MANIFEST_COOKIE}={}; Path=/; SameSite=Lax",
            encoded.trim_start_matches("v=")
        ),
    ]
}

impl Origin {
    /// The origin of `topology` for `world`: it asks Personalize or reads
    /// the edge's URL param as the topology says, and caches with `cache`
    /// when the topology gives the origin a key. `namespace` prefixes the
    /// layer's keys in a Redis backend: replicas that share it share their
    /// cache. Fails only for a Redis URL that does not parse (or outside a
    /// Tokio runtime); a Redis that is down is bypassed at run time instead.
    pub fn new(
        world: Arc<World>,
        clock: Arc<dyn Clock>,
        topology: Topology,
        upstreams: Upstreams,
        cache: &CacheOptions,
        namespace: &str,
    ) -> Result<Self, StoreError> {
        let pages = world
            .scenario()
            .content
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.path.clone(), i as PageIdx))
            .collect();
        let counters = OriginCounters::default();
        let mut registry = Registry::with_prefix("ttlab_origin");
        registry.register(
            "requests",
            "Page requests that reached the origin",
            counters.requests.clone(),
        );
        registry.register("renders", "Pages rendered", counters.renders.clone());
        registry.register(
            "fallbacks",
            "Base-content answers because Personalize failed",
            counters.fallbacks.clone(),
        );
        registry.register("errors", "Error answers", counters.errors.clone());
        upstreams.counters.register(&mut registry);
        let layer = match topology.origin.key {
            Some(key) => Some((
                page_layer(cache, clock, &mut registry, Role::Origin.name(), namespace)?,
                key,
                cache.clone(),
            )),
            None => None,
        };
        Ok(Origin {
            world,
            upstreams,
            builder: PageBuilder::new(topology, cache),
            layer,
            pages,
            counters,
            registry,
        })
    }

    /// The clients' counters.
    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// Prometheus text of every counter.
    pub fn metrics_text(&self) -> String {
        metrics_text(&self.registry)
    }

    /// The origin's routes: every page path, the publish webhook, `/metrics`.
    pub fn router(self: &Arc<Self>) -> Router {
        webhook::routes::<OriginPurge, _, _>(self.clone(), page)
    }

    /// Renders page `page` for `variants` (already projected to the page's
    /// experiences): fetches its entries from Delivery and builds the page
    /// ([`PageBuilder::build`]). `visitor` greets the visitor; `fallback`
    /// marks base content.
    async fn render(
        self: Arc<Self>,
        page: PageIdx,
        variants: VariantSet,
        visitor: Option<String>,
        fallback: bool,
    ) -> Result<Fetched<Arc<PageResponse>>, FillError> {
        let world = &self.world;
        let p = &world.scenario().content.pages[page as usize];
        let aliases = aliases_header(world, &variants);
        let fetches = p.entries.iter().map(|e| self.upstreams.entry(*e, &aliases));
        let docs = futures::future::try_join_all(fetches).await?;
        let entries: Vec<RenderedEntry> = p
            .entries
            .iter()
            .zip(&docs)
            .map(|(idx, doc)| RenderedEntry {
                uid: world.scenario().content.entries[*idx as usize].uid.clone(),
                title: doc["title"].as_str().unwrap_or_default().to_owned(),
                body: doc["body"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        let built = self.builder.build(
            world,
            page,
            &variants,
            &entries,
            visitor.as_deref(),
            fallback,
        );
        self.counters.renders.inc();
        let cacheable = visitor.is_none() && !fallback;
        let size = built.size();
        Ok(Fetched::new(
            Arc::new(built),
            cacheable,
            p.entries.clone(),
            size,
        ))
    }
}

/// `e=<entry>;v=<alias|base>;n=<version>`: one part of `x-ttlab-content`.
pub fn content_part(t: &EntryToken) -> String {
    format!(
        "e={};v={};n={}",
        t.entry,
        t.variant.as_deref().unwrap_or("base"),
        t.version
    )
}

fn header(name: &str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_bytes(name.as_bytes()).expect("static header name"),
        HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("-")),
    )
}

/// A caching layer of pages with `options`, its counters registered under
/// the layer name `name`: the origin's and the proxies' alike.
///
/// With `backend = "redis"` its entries live under `NAMESPACE:NAME` in
/// Redis, and with `coalesce` a fill takes the key's lock there, so
/// replicas with the same namespace share one cache and one fill per key.
pub fn page_layer(
    options: &CacheOptions,
    clock: Arc<dyn Clock>,
    registry: &mut Registry,
    name: &str,
    namespace: &str,
) -> Result<PageLayer, StoreError> {
    let layer_options = layer_options(options);
    let layer = match &options.backend {
        Backend::Memory => {
            let bounds = cache::Bounds::or_defaults(options.max_entries, options.max_bytes)
                .evicting(options.eviction);
            let store = MemoryStore::new(bounds).reclaiming(layer_options.windows);
            let store = Arc::new(AnyStore::Memory(store));
            store.spawn_reclaimer(clock.clone());
            PageLayer::new(layer_options, store, clock)
        }
        Backend::Redis { url } => {
            let redis = RedisOptions {
                prefix: format!("{namespace}:{name}"),
                expire_after: RedisOptions::safety_net(layer_options.windows),
                timeout: REDIS_TIMEOUT,
                ..RedisOptions::new(url.as_str())
            };
            let store = RedisStore::new(&redis)?;
            let locks = store.locks();
            PageLayer::new(layer_options, Arc::new(AnyStore::Redis(store)), clock)
                .with_shared_lock(locks, LockOptions::default())
        }
    };
    layer.counters().register(registry, name);
    registry
        .sub_registry_with_label(("layer".into(), name.to_owned().into()))
        .register_collector(Box::new(StoreMetrics(layer.store().clone())));
    Ok(layer)
}

/// Prometheus text of a registry.
pub fn metrics_text(registry: &Registry) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry).expect("writing to a String");
    out
}

/// The cache options a layer runs with.
pub fn layer_options(o: &CacheOptions) -> LayerOptions {
    LayerOptions {
        windows: o.into(),
        coalesce: o.coalesce,
        lock_timeout: std::time::Duration::from_secs(5),
    }
}

/// An answer as an HTTP response, from the layer named `layer` (or none).
pub fn answer_response(
    answer: &Answer<Arc<PageResponse>>,
    layer: Option<&str>,
    cookies: &[String],
) -> Response {
    let part = layer.map(|l| cache_part(l, answer.outcome));
    let fetched_here = !matches!(answer.lock, Some(cache::LockOutcome::Waited))
        && matches!(
            answer.outcome,
            cache::CacheOutcome::Miss | cache::CacheOutcome::Bypass
        );
    answer
        .value
        .to_response(part, fetched_here, answer.age.0 / 1_000_000, cookies)
}

/// `layer=OUTCOME`, this layer's part of `x-cache`: a static string for
/// ttlab's own layers (no allocation on a hit), formatted for any other.
fn cache_part(layer: &str, outcome: cache::CacheOutcome) -> std::borrow::Cow<'static, str> {
    use cache::CacheOutcome::{Bypass, Hit, Miss, Stale};
    let known = match (layer, outcome) {
        ("cdn", Hit) => "cdn=HIT",
        ("cdn", Stale) => "cdn=STALE",
        ("cdn", Miss) => "cdn=MISS",
        ("cdn", Bypass) => "cdn=BYPASS",
        ("edge", Hit) => "edge=HIT",
        ("edge", Stale) => "edge=STALE",
        ("edge", Miss) => "edge=MISS",
        ("edge", Bypass) => "edge=BYPASS",
        ("origin", Hit) => "origin=HIT",
        ("origin", Stale) => "origin=STALE",
        ("origin", Miss) => "origin=MISS",
        ("origin", Bypass) => "origin=BYPASS",
        _ => return format!("{layer}={}", outcome.as_str()).into(),
    };
    known.into()
}

/// An error answer with a body that says what failed.
pub fn error_response(e: &FillError, what: &str) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (
        status,
        format!(
            "{} {}: {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            e.message
        ),
    )
        .into_response();
    resp.headers_mut().insert(
        X_ERROR,
        HeaderValue::from_str(what).unwrap_or(HeaderValue::from_static("upstream")),
    );
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

async fn page(State(o): State<Arc<Origin>>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "pages answer GET only\n").into_response();
    }
    o.counters.requests.inc();
    let path = req.uri().path();
    let Some(&page) = o.pages.get(path) else {
        let mut resp = (StatusCode::NOT_FOUND, format!("no page at {path}\n")).into_response();
        resp.headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
        return resp;
    };
    let headers = req.headers();
    let cookie_uid = cookie(headers, UID_COOKIE).map(str::to_owned);
    let world = &o.world;
    let mut cookies = Vec::new();
    let (uid, variants, fallback) = match o.builder.source {
        VariantSource::UrlParam => {
            let param = query_param(req.uri().query(), VARIANT_PARAM);
            (
                cookie_uid.clone(),
                param.map_or_else(
                    || VariantSet::none(world.scenario().experiences.len()),
                    |p| parse_variant_param(world, &p),
                ),
                false,
            )
        }
        VariantSource::Personalize => match o.upstreams.manifest(cookie_uid.as_deref()).await {
            Ok(m) => {
                cookies = state_cookies(&m, cookie_uid.as_deref());
                (Some(m.uid), m.variants, false)
            }
            Err(e) => {
                tracing::debug!(error = %e, "Personalize failed; rendering base content");
                o.counters.fallbacks.inc();
                (
                    cookie_uid.clone(),
                    VariantSet::none(world.scenario().experiences.len()),
                    true,
                )
            }
        },
    };
    let p = &world.scenario().content.pages[page as usize];
    let projected = variants.project(world.page_experience_mask(page));
    let visitor = p.visitor_fragment.then(|| uid.clone()).flatten();
    let personal = visitor.is_some();
    let fetch = {
        let o = o.clone();
        move || o.clone().render(page, projected, visitor.clone(), fallback)
    };
    let result = match &o.layer {
        Some((layer, strategy, _)) if !fallback && !personal => {
            let key = cache::key(
                path,
                cache::variance(
                    *strategy,
                    uid.as_deref(),
                    variants,
                    world.page_experience_mask(page),
                ),
            );
            layer
                .serve(key, fetch)
                .await
                .map(|a| (a, Some(Role::Origin.name())))
        }
        Some((layer, _, _)) => layer
            .bypass(fetch)
            .await
            .map(|a| (a, Some(Role::Origin.name()))),
        None => fetch().await.map(|f| {
            (
                Answer::fetched(f.value, cache::CacheOutcome::Bypass, None),
                None,
            )
        }),
    };
    match result {
        Ok((answer, layer)) => {
            let mut resp = answer_response(&answer, layer, &cookies);
            // Under `policy = "http"` a cache in front revalidates with the
            // page's ETag: an unchanged page is a 304, no body.
            if o.builder.stated.is_some()
                && resp.status() == StatusCode::OK
                && cache::http::precondition::not_modified(headers, resp.headers())
            {
                *resp.status_mut() = StatusCode::NOT_MODIFIED;
                *resp.body_mut() = axum::body::Body::empty();
            }
            resp
        }
        Err(e) => {
            o.counters.errors.inc();
            error_response(&e, "delivery")
        }
    }
}

/// The value of query parameter `name`, decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Purge for the origin's own layer.
pub struct OriginPurge;

impl webhook::Purger for OriginPurge {
    type State = Origin;
    async fn purge(state: &Origin, entry: u32) -> Option<usize> {
        let (layer, _, opts) = state.layer.as_ref()?;
        if !opts.purge_on_publish {
            return None;
        }
        Some(layer.purge(entry).await)
    }
    fn world(state: &Origin) -> &World {
        &state.world
    }
    fn metrics_text(state: &Origin) -> String {
        state.metrics_text()
    }
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin")
            .field("source", &self.builder.source)
            .field("cached", &self.layer.is_some())
            .finish_non_exhaustive()
    }
}

/// Counts of a layer, for tests and reports.
pub fn layer_counters(o: &Origin) -> Option<&cache::LayerCounters> {
    o.layer.as_ref().map(|(l, _, _)| l.counters())
}
