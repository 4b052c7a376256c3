//! The servers of one architecture, composed and started on loopback: the
//! origin (or several replicas of it, sharing a Redis cache), and the CDN
//! or edge in front of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ttlab_http_serve::{ErrorShape, Limits};
use ttlab_scenarios::model::{Architecture, ArchitectureConfig};
use ttlab_scenarios::topology::Role;
use ttlab_scenarios::{Clock, Topology, World};

use crate::cache::{LayerCounters, StoreError, StoreOutage};
use crate::origin::{Origin, PageLayer};
use crate::proxy::Proxy;
use crate::upstream::{UpstreamConfig, Upstreams};
use crate::varnish::PurgeReceiver;

/// Why a stack could not start.
#[derive(Debug, Error)]
pub enum StackError {
    /// A listener could not bind.
    #[error("cannot listen on {addr} for the {server}: {source}")]
    Bind {
        /// Which server.
        server: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A caching layer's store could not be made (a Redis URL that does
    /// not parse). A Redis that is down is not this: layers bypass it.
    #[error("the {layer} cache store: {source}")]
    Store {
        /// Which layer.
        layer: &'static str,
        /// Why.
        source: StoreError,
    },
}

/// A running architecture.
pub struct RunningStack {
    /// The architecture.
    pub arch: Architecture,
    /// Its servers and who does what in them, as the stack was built.
    pub topology: Topology,
    /// Where visitors send requests: the outermost layer (the first origin
    /// replica when the origin is outermost).
    pub entry_url: String,
    /// Every URL visitors may be sent to: the CDN or edge, or each origin
    /// replica (a run spreads its visitors over them).
    pub entry_urls: Vec<String>,
    /// The first origin replica's URL.
    pub origin_url: String,
    /// Every origin replica's URL.
    pub origin_urls: Vec<String>,
    /// The CDN's or edge's URL, if the architecture has one.
    pub proxy_url: Option<String>,
    /// Where the Delivery mock should send publish webhooks (the caching
    /// layer's endpoint), when the architecture purges on publish. One
    /// replica purges for all: they share the store.
    pub webhook_url: Option<String>,
    /// The first origin replica.
    pub origin: Arc<Origin>,
    /// The CDN or edge.
    pub proxy: Option<Arc<Proxy>>,
    /// Every origin replica and the proxy, for counters.
    pub view: StackView,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The servers of a running stack, cheap to clone, for reading their
/// counters while it runs: the origin replicas' added up.
#[derive(Clone)]
pub struct StackView {
    /// The origin replicas (one unless the scenario asks for more).
    pub origins: Vec<Arc<Origin>>,
    /// The CDN or edge.
    pub proxy: Option<Arc<Proxy>>,
    /// The caching layer's counts when it is not ttlab's (Varnish): kept
    /// by the run from the answers' `x-cache`, and read here in place of
    /// ttlab's layer's.
    pub tally: Option<LayerCounters>,
}

impl StackView {
    /// Page requests that reached the origin replicas; with no origin of
    /// ttlab's (the team's app behind the CDN or edge), the requests the
    /// layer sent to the app.
    pub fn origin_requests(&self) -> u64 {
        if self.origins.is_empty() {
            return self
                .proxy
                .as_ref()
                .map_or(0, |p| p.layer.counters().upstream_fetches.get());
        }
        self.origins.iter().map(|o| o.counters.requests.get()).sum()
    }

    /// Pages the origin replicas rendered (none seen of an app's).
    pub fn origin_renders(&self) -> u64 {
        self.origins.iter().map(|o| o.counters.renders.get()).sum()
    }

    /// The caching layer's counters, added up over the replicas that hold
    /// it (none for `ssr-nocache`).
    pub fn cache_counters(&self) -> Option<LayerCounters> {
        if let Some(t) = &self.tally {
            return Some(t.clone());
        }
        match &self.proxy {
            Some(p) => Some(LayerCounters::sum([p.layer.counters()])),
            None => {
                let layers: Vec<&LayerCounters> = self
                    .origins
                    .iter()
                    .filter_map(|o| crate::origin::layer_counters(o))
                    .collect();
                (!layers.is_empty()).then(|| LayerCounters::sum(layers))
            }
        }
    }

    /// The caching layers (the proxy's, or each replica's).
    fn layers(&self) -> Vec<&PageLayer> {
        match &self.proxy {
            Some(p) => vec![&p.layer],
            None => self
                .origins
                .iter()
                .filter_map(|o| o.layer.as_ref().map(|(l, _, _)| l))
                .collect(),
        }
    }

    /// When the caching layer's store was unavailable: the union over its
    /// replicas, in time order (empty with the memory store).
    pub fn store_outages(&self) -> Vec<StoreOutage> {
        StoreOutage::merge(
            self.layers()
                .iter()
                .flat_map(|l| l.store_outages())
                .collect(),
        )
    }

    /// The caching layer's backend, `memory` or `redis` (none without a cache).
    pub fn backend(&self) -> Option<&'static str> {
        self.layers().first().map(|l| l.store().backend_name())
    }

    /// Connects every layer to a Redis backend before visitors come, so
    /// the first burst of requests does not wait for connections to be
    /// made (within a call's timeout, or bypass). A Redis that is down now
    /// is only logged: the layers bypass it until it answers.
    async fn connect_shared_store(&self) {
        for l in self.layers() {
            if let Some(redis) = l.store().redis()
                && let Err(e) = redis.ping().await
            {
                tracing::warn!(error = %e, "Redis does not answer at start; the cache is bypassed until it does");
                return;
            }
        }
    }

    /// Drops the stack's keys from a Redis backend (its namespace is its
    /// own, so nothing else is touched). Bounded; a Redis that is down
    /// leaves them to expire (entries) or to a later clear.
    async fn clear_shared_store(&self) {
        if let Some(redis) = self.layers().first().and_then(|l| l.store().redis()) {
            match redis.clear().await {
                Ok(n) => tracing::debug!(keys = n, "cleared the stack's Redis namespace"),
                Err(e) => tracing::warn!(error = %e, "could not clear the stack's Redis keys"),
            }
        }
    }
}

impl RunningStack {
    /// The caching layer's counters, added up over origin replicas (none
    /// for `ssr-nocache`).
    pub fn cache_counters(&self) -> Option<LayerCounters> {
        self.view.cache_counters()
    }

    /// Stops every server; in-flight requests finish. A Redis backend's
    /// keys of this stack are deleted.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.view.clear_shared_store().await;
    }
}

/// A key prefix no other stack uses: each stack has a run clock of its
/// own starting at zero, so entries of another stack (an earlier run, an
/// architecture before, a parallel test) must never be read as its own.
pub fn fresh_namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "ttlab:{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn serve(
    server: &'static str,
    addr: SocketAddr,
    router: Router,
    stop: &watch::Receiver<bool>,
) -> Result<(String, JoinHandle<()>), StackError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StackError::Bind {
            server,
            addr,
            source,
        })?;
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let mut stop = stop.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let serving =
        ttlab_http_serve::serve(listener, router, Limits::default(), LayerShape, shutdown);
    Ok((url, serving.task))
}

/// The error shape of the origin, CDN and edge, for errors the HTTP stack
/// makes (limits, 405 on `/metrics`, a rejected webhook body): on pages,
/// the plain text the layers answer an upstream failure with
/// (`origin::error_response`: `"<status> <reason>: <message>"`, not stored
/// by any cache); under `/_ttlab/` the webhook endpoint's JSON
/// `{"error": message}`.
#[derive(Clone, Copy)]
pub struct LayerShape;

impl ErrorShape for LayerShape {
    fn error(&self, path: &str, status: StatusCode, message: &str) -> Response {
        if path.starts_with("/_ttlab/") {
            return (status, Json(json!({ "error": message }))).into_response();
        }
        let mut resp = (
            status,
            format!(
                "{} {}: {message}\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        )
            .into_response();
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }

    fn is_shaped(&self, path: &str, response: &Response) -> bool {
        if path.starts_with("/_ttlab/") {
            ttlab_http_serve::is_json(response)
        } else {
            // Pages' own errors all carry a body with its type; axum's
            // bare 405 has neither.
            response.headers().contains_key(CONTENT_TYPE)
        }
    }
}

/// Makes the front layer (CDN or edge) of `arch` over the origins at
/// `origin_urls` and serves it; `variant_param` names the query parameter
/// an edge passes the variants in (ttlab's origin's own by default).
#[allow(clippy::too_many_arguments)]
async fn start_proxy(
    world: &Arc<World>,
    clock: &Arc<dyn Clock>,
    arch: &ArchitectureConfig,
    upstream: &UpstreamConfig,
    addr: SocketAddr,
    origin_urls: &[String],
    variant_param: Option<&str>,
    namespace: &str,
    stop: &watch::Receiver<bool>,
) -> Result<(Arc<Proxy>, String, JoinHandle<()>), StackError> {
    let topology = arch.topology();
    let front = topology.front.expect("a front layer to start");
    let personalize = topology
        .front_personalizes()
        .then(|| Upstreams::new(upstream.clone(), world.clone()));
    let mut proxy = Proxy::new(
        topology,
        world.clone(),
        clock.clone(),
        origin_urls,
        &arch.cache,
        personalize,
        namespace,
    )
    .map_err(|source| StackError::Store {
        layer: front.role.name(),
        source,
    })?;
    if let Some(name) = variant_param {
        proxy = proxy.with_variant_param(name);
    }
    let proxy = Arc::new(proxy);
    let (url, task) = serve(front.role.name(), addr, proxy.router(), stop).await?;
    Ok((proxy, url, task))
}

/// ttlab's CDN or edge, running in front of an origin ttlab did not start:
/// the team's own app (`[app]`).
pub struct RunningFront {
    /// Its topology (the app plays the origin).
    pub topology: Topology,
    /// Where visitors send requests.
    pub url: String,
    /// Where the Delivery mock should send publish webhooks, when the
    /// layer purges on publish.
    pub webhook_url: Option<String>,
    /// The layer.
    pub proxy: Arc<Proxy>,
    /// The layer, for counters (no origin of ttlab's in it).
    pub view: StackView,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningFront {
    /// Stops the layer; in-flight requests finish. A Redis backend's keys
    /// of this layer are deleted.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.view.clear_shared_store().await;
    }
}

/// Starts the front layer of `arch` (its CDN or edge, with its cache
/// options) on `host` in front of the origin at `origin_url` — an app ttlab
/// did not start — passing an edge's variants in `variant_param`.
///
/// # Panics
///
/// When `arch` has no front layer (validation allows an app only behind one,
/// or as-is, which starts nothing).
pub async fn start_front(
    world: Arc<World>,
    clock: Arc<dyn Clock>,
    arch: &ArchitectureConfig,
    upstream: UpstreamConfig,
    host: std::net::IpAddr,
    origin_url: &str,
    variant_param: &str,
) -> Result<RunningFront, StackError> {
    let (stop, stop_rx) = watch::channel(false);
    let (proxy, url, task) = start_proxy(
        &world,
        &clock,
        arch,
        &upstream,
        SocketAddr::new(host, 0),
        &[origin_url.to_owned()],
        Some(variant_param),
        &fresh_namespace(),
        &stop_rx,
    )
    .await?;
    let view = StackView {
        origins: Vec::new(),
        proxy: Some(proxy.clone()),
        tally: None,
    };
    view.connect_shared_store().await;
    let topology = arch.topology();
    let webhook_url = arch
        .cache
        .purge_on_publish
        .then(|| format!("{url}/_ttlab/webhook/publish"));
    Ok(RunningFront {
        topology,
        url,
        webhook_url,
        proxy,
        view,
        stop,
        task,
    })
}

/// What runs beside Varnish when it is an architecture's cache
/// (`[cdn] engine = "varnish"`): the edge in front of it (for `ssr-edge`:
/// it asks Personalize and passes the variants on; Varnish is its cache)
/// and the receiver that turns publish webhooks into purges.
pub struct RunningBehind {
    /// Where visitors send requests: the edge, or Varnish itself.
    pub entry_url: String,
    /// Where the Delivery mock should send publish webhooks, when the
    /// architecture purges on publish.
    pub webhook_url: Option<String>,
    /// The edge in front of Varnish, if the topology has one.
    pub proxy: Option<Arc<Proxy>>,
    /// The purge receiver.
    pub receiver: Arc<PurgeReceiver>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningBehind {
    /// Stops the edge and the receiver; in-flight requests finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts, on `host`, what stands beside Varnish at `varnish_url` as the
/// cache of `arch`: the edge in front of it when the topology's front layer
/// asks Personalize (its cache behind it, [`Proxy::with_cache_behind`]),
/// and the publish receiver that purges in Varnish.
pub async fn start_behind(
    world: Arc<World>,
    clock: Arc<dyn Clock>,
    arch: &ArchitectureConfig,
    upstream: UpstreamConfig,
    host: std::net::IpAddr,
    varnish_url: &str,
) -> Result<RunningBehind, StackError> {
    let (stop, stop_rx) = watch::channel(false);
    let any = SocketAddr::new(host, 0);
    let topology = arch.topology();
    let mut tasks = Vec::new();
    let (proxy, entry_url) = if topology.front_personalizes() {
        let front = topology.front.expect("an edge is a front layer");
        let proxy = Proxy::new(
            topology,
            world.clone(),
            clock,
            &[varnish_url.to_owned()],
            &arch.cache,
            Some(Upstreams::new(upstream, world.clone())),
            &fresh_namespace(),
        )
        .map_err(|source| StackError::Store {
            layer: front.role.name(),
            source,
        })?
        .with_cache_behind();
        let proxy = Arc::new(proxy);
        let (url, task) = serve(front.role.name(), any, proxy.router(), &stop_rx).await?;
        tasks.push(task);
        (Some(proxy), url)
    } else {
        (None, varnish_url.trim_end_matches('/').to_owned())
    };
    let receiver = Arc::new(PurgeReceiver::new(
        world,
        varnish_url,
        arch.cache.purge_on_publish,
    ));
    let (receiver_url, task) = serve("purge receiver", any, receiver.router(), &stop_rx).await?;
    tasks.push(task);
    let webhook_url = arch
        .cache
        .purge_on_publish
        .then(|| format!("{receiver_url}/_ttlab/webhook/publish"));
    Ok(RunningBehind {
        entry_url,
        webhook_url,
        proxy,
        receiver,
        stop,
        tasks,
    })
}

/// Which servers of an architecture to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Servers {
    /// The origin and the layer in front of it.
    All,
    /// The origin alone (configured as it is in the architecture).
    OriginOnly,
}

/// Starts the servers of `arch` on `host` (port 0 each), talking to the
/// upstreams in `upstream`.
pub async fn start_stack(
    world: Arc<World>,
    clock: Arc<dyn Clock>,
    arch: &ArchitectureConfig,
    upstream: UpstreamConfig,
    host: std::net::IpAddr,
) -> Result<RunningStack, StackError> {
    start_servers(world, clock, arch, upstream, host, Servers::All).await
}

/// Starts some servers of `arch`; see [`start_stack`].
pub async fn start_servers(
    world: Arc<World>,
    clock: Arc<dyn Clock>,
    arch: &ArchitectureConfig,
    upstream: UpstreamConfig,
    host: std::net::IpAddr,
    which: Servers,
) -> Result<RunningStack, StackError> {
    let (stop, stop_rx) = watch::channel(false);
    let any = SocketAddr::new(host, 0);
    let topology = arch.topology();
    let namespace = fresh_namespace();
    let replicas = arch.cache.origin_replicas.max(1);
    let mut origins = Vec::new();
    let mut origin_urls = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..replicas {
        let origin = Arc::new(
            Origin::new(
                world.clone(),
                clock.clone(),
                topology,
                Upstreams::new(upstream.clone(), world.clone()),
                &arch.cache,
                &namespace,
            )
            .map_err(|source| StackError::Store {
                layer: Role::Origin.name(),
                source,
            })?,
        );
        let (url, task) = serve(Role::Origin.name(), any, origin.router(), &stop_rx).await?;
        origins.push(origin);
        origin_urls.push(url);
        tasks.push(task);
    }
    if replicas > 1 {
        tracing::info!(replicas, urls = ?origin_urls, "origin replicas");
    }
    let front = topology.front.filter(|_| which == Servers::All);
    let (proxy, proxy_url) = match front {
        Some(_) => {
            let (proxy, url, task) = start_proxy(
                &world,
                &clock,
                arch,
                &upstream,
                any,
                &origin_urls,
                None,
                &namespace,
                &stop_rx,
            )
            .await?;
            tasks.push(task);
            (Some(proxy), Some(url))
        }
        None => (None, None),
    };
    let view = StackView {
        origins: origins.clone(),
        proxy: proxy.clone(),
        tally: None,
    };
    view.connect_shared_store().await;
    let entry_urls = match &proxy_url {
        Some(u) => vec![u.clone()],
        None => origin_urls.clone(),
    };
    let entry_url = entry_urls[0].clone();
    let webhook_url = (topology.caches() && arch.cache.purge_on_publish)
        .then(|| format!("{entry_url}/_ttlab/webhook/publish"));
    Ok(RunningStack {
        arch: arch.arch,
        topology,
        entry_url,
        entry_urls,
        origin_url: origin_urls[0].clone(),
        origin_urls,
        proxy_url,
        webhook_url,
        origin: origins[0].clone(),
        view,
        proxy,
        stop,
        tasks,
    })
}
