//! The servers of one architecture, composed and started on loopback: the
//! origin, and the CDN or edge in front of it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ttlab_scenarios::model::{Architecture, ArchitectureConfig};
use ttlab_scenarios::{Clock, World};

use crate::cache::LayerCounters;
use crate::origin::{Origin, VariantSource};
use crate::proxy::{Proxy, ProxyKind};
use crate::upstream::{UpstreamConfig, Upstreams};

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
}

/// A running architecture.
pub struct RunningStack {
    /// The architecture.
    pub arch: Architecture,
    /// Where visitors send requests: the outermost layer.
    pub entry_url: String,
    /// The origin's URL.
    pub origin_url: String,
    /// The CDN's or edge's URL, if the architecture has one.
    pub proxy_url: Option<String>,
    /// Where the Delivery mock should send publish webhooks (the caching
    /// layer's endpoint), when the architecture purges on publish.
    pub webhook_url: Option<String>,
    /// The origin.
    pub origin: Arc<Origin>,
    /// The CDN or edge.
    pub proxy: Option<Arc<Proxy>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningStack {
    /// The caching layer's counters (none for `ssr-nocache`).
    pub fn cache_counters(&self) -> Option<&LayerCounters> {
        match &self.proxy {
            Some(p) => Some(p.layer.counters()),
            None => crate::origin::layer_counters(&self.origin),
        }
    }

    /// Stops every server; in-flight requests finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
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
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, server, "server stopped with an error");
        }
    });
    Ok((url, task))
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
    let source = if arch.arch == Architecture::Edge {
        VariantSource::UrlParam
    } else {
        VariantSource::Personalize
    };
    let origin_cache = (arch.arch == Architecture::OriginVariant).then_some(&arch.cache);
    let origin = Arc::new(Origin::new(
        world.clone(),
        clock.clone(),
        source,
        Upstreams::new(upstream.clone(), world.clone()),
        origin_cache,
    ));
    let (origin_url, origin_task) = serve("origin", any, origin.router(), &stop_rx).await?;
    let mut tasks = vec![origin_task];
    let kind = match arch.arch {
        Architecture::CdnShared => Some(ProxyKind::CdnShared),
        Architecture::CdnUser => Some(ProxyKind::CdnUser),
        Architecture::Edge => Some(ProxyKind::Edge),
        Architecture::NoCache | Architecture::OriginVariant => None,
    }
    .filter(|_| which == Servers::All);
    let (proxy, proxy_url) = match kind {
        Some(kind) => {
            let personalize =
                (kind == ProxyKind::Edge).then(|| Upstreams::new(upstream.clone(), world.clone()));
            let proxy = Arc::new(Proxy::new(
                kind,
                world.clone(),
                clock.clone(),
                &origin_url,
                &arch.cache,
                personalize,
            ));
            let (url, task) = serve(kind.layer_name(), any, proxy.router(), &stop_rx).await?;
            tasks.push(task);
            (Some(proxy), Some(url))
        }
        None => (None, None),
    };
    let entry_url = proxy_url.clone().unwrap_or_else(|| origin_url.clone());
    let webhook_url = (arch.arch.caches() && arch.cache.purge_on_publish)
        .then(|| format!("{entry_url}/_ttlab/webhook/publish"));
    Ok(RunningStack {
        arch: arch.arch,
        entry_url,
        origin_url,
        proxy_url,
        webhook_url,
        origin,
        proxy,
        stop,
        tasks,
    })
}
