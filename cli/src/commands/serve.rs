//! `ttlab serve …`: parts of the lab on loopback, until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::{SystemClock, World};

use crate::args::{CdnKey, ServeCdnArgs, ServeMocksArgs, ServeOriginArgs, ServeStackArgs};
use crate::exit::EXIT_BAD_INPUT;
use ttlab_scenarios::model::ArchitectureConfig;
use ttlab_ssr_origin::stack::{Servers, start_servers};
use ttlab_ssr_origin::upstream::UpstreamConfig;

/// Serves the mock APIs of a scenario until Ctrl-C.
pub fn mocks(args: &ServeMocksArgs) -> anyhow::Result<ExitCode> {
    let (shown, scenario) = match super::scenario_or_exit(&args.scenario) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    warn_if_exposed(args.host);
    let world = Arc::new(World::new(scenario));
    let config = MockConfig {
        personalize_addr: SocketAddr::new(args.host, args.personalize_port),
        delivery_addr: SocketAddr::new(args.host, args.delivery_port),
        project_uid: args.project_uid.clone(),
        api_key: args.api_key.clone(),
        delivery_token: args.delivery_token.clone(),
        environment: args.environment.clone(),
        webhook_urls: args.webhooks.clone(),
        ..MockConfig::default()
    };
    let runtime = runtime()?;
    runtime.block_on(async move {
        let clock = Arc::new(SystemClock::starting_now());
        let mocks = ttlab_mock_apis::start(world.clone(), clock, config.clone()).await?;
        let s = world.scenario();
        let port = mocks.delivery_url.rsplit(':').next().unwrap_or("");
        println!("ttlab mocks for {shown} (scenario \"{}\", seed {}, {} visitors)", s.name, s.seed, s.traffic.visitors);
        println!("  Personalize Edge API  {}", mocks.personalize_url);
        println!("  Delivery API          {}/v3", mocks.delivery_url);
        println!("  project uid           {}", config.project_uid);
        println!("  api key               {}", config.api_key);
        println!("  delivery token        {}", config.delivery_token);
        println!("  environment           {}", config.environment);
        println!("  SDKs: Personalize.setEdgeApiUrl(\"{}\");", mocks.personalize_url);
        println!(
            "        contentstack.stack({{ apiKey: \"{}\", deliveryToken: \"{}\", environment: \"{}\", host: \"{}\", port: {port}, insecure: true }})",
            config.api_key, config.delivery_token, config.environment, args.host
        );
        println!("  truth and control: {}/_ttlab/…   counters: {}/metrics", mocks.personalize_url, mocks.personalize_url);
        if config.webhook_urls.is_empty() {
            println!("  publish webhooks: none (add --webhook URL)");
        } else {
            println!("  publish webhooks: {}", config.webhook_urls.join(", "));
        }
        serve_until_ctrl_c().await?;
        eprintln!("stopping…");
        mocks.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The scenario's architecture named `name`, or its first.
fn pick_arch<'a>(
    scenario: &'a ttlab_scenarios::Scenario,
    name: Option<&str>,
) -> anyhow::Result<&'a ArchitectureConfig> {
    let picked = match name {
        None => Ok(&scenario.architectures[0]),
        Some(n) => scenario
            .architectures
            .iter()
            .find(|a| a.arch.as_str() == n)
            .ok_or_else(|| {
                let names: Vec<_> = scenario
                    .architectures
                    .iter()
                    .map(|a| a.arch.as_str())
                    .collect();
                anyhow::anyhow!(
                    "scenario \"{}\" has no architecture \"{n}\"; it has: {}",
                    scenario.name,
                    names.join(", ")
                )
            }),
    }?;
    if picked.arch.needs_app() {
        anyhow::bail!(
            "{} is the team's own app with nothing of ttlab's in front: there is no server of ttlab's to serve (start your app, with `ttlab serve mocks` for it to call)",
            picked.arch
        );
    }
    Ok(picked)
}

/// Serves one architecture's origin (and mocks unless upstreams are given).
pub fn origin(args: &ServeOriginArgs) -> anyhow::Result<ExitCode> {
    let external = args.personalize_url.clone().zip(args.delivery_url.clone());
    serve_arch(
        &args.scenario,
        args.arch.as_deref(),
        args.host,
        Servers::OriginOnly,
        external,
    )
}

/// Serves one architecture: mocks, origin and its CDN or edge.
pub fn stack(args: &ServeStackArgs) -> anyhow::Result<ExitCode> {
    serve_arch(
        &args.scenario,
        args.arch.as_deref(),
        args.host,
        Servers::All,
        None,
    )
}

fn serve_arch(
    scenario_arg: &str,
    arch: Option<&str>,
    host: std::net::IpAddr,
    which: Servers,
    external: Option<(String, String)>,
) -> anyhow::Result<ExitCode> {
    let (shown, scenario) = match super::scenario_or_exit(scenario_arg) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    warn_if_exposed(host);
    let arch = match pick_arch(&scenario, arch) {
        Ok(a) => a.clone(),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let world = Arc::new(World::new(scenario));
    let runtime = runtime()?;
    runtime.block_on(async move {
        let clock = Arc::new(SystemClock::starting_now());
        let config = MockConfig {
            personalize_addr: SocketAddr::new(host, 0),
            delivery_addr: SocketAddr::new(host, 0),
            ..MockConfig::default()
        };
        let (mocks, p_url, d_url) = match external {
            Some((p, d)) => (None, p, d),
            None => {
                let m = ttlab_mock_apis::start(world.clone(), clock.clone(), config).await?;
                let (p, d) = (m.personalize_url.clone(), m.delivery_url.clone());
                (Some(m), p, d)
            }
        };
        let upstream = UpstreamConfig::for_mocks(&p_url, &d_url, &world.scenario().origin);
        // As the origin will call them: without a trailing `/v3` or `/`.
        let (p_url, d_url) = (
            upstream.personalize_url.clone(),
            upstream.delivery_url.clone(),
        );
        let stack =
            start_servers(world.clone(), clock.clone(), &arch, upstream, host, which).await?;
        if let (Some(url), Some(m)) = (&stack.webhook_url, &mocks) {
            m.state.webhook_urls_add(url);
        }
        let s = world.scenario();
        println!(
            "ttlab {} for {shown} (scenario \"{}\", seed {})",
            arch.arch, s.name, s.seed
        );
        match &stack.proxy_url {
            Some(p) if which == Servers::All => {
                println!(
                    "  entry ({})  {p}",
                    stack.proxy.as_ref().map_or("", |x| x.role().name())
                );
                println!("  origin       {}", stack.origin_urls.join(", "));
            }
            _ => println!("  origin       {}", stack.origin_urls.join(", ")),
        }
        println!("  Personalize  {p_url}");
        println!("  Delivery     {d_url}/v3");
        let c = &arch.cache;
        if stack.topology.caches() {
            println!(
                "  cache        key {}, policy {}, ttl {}, swr {}, sie {}, coalesce {}, purge on publish {}",
                stack.topology.key_description(),
                c.policy.as_str(),
                c.ttl,
                c.stale_while_revalidate,
                c.stale_if_error,
                c.coalesce,
                c.purge_on_publish
            );
            if let ttlab_scenarios::model::Backend::Redis { url } = &c.backend {
                println!(
                    "  store        redis at {url}, shared by {} origin replica(s)",
                    stack.origin_urls.len()
                );
            }
        }
        if world.visitor_count() > 0 {
            println!(
                "  try          curl -i -b cs-personalize-user-uid={} {}/",
                world.uid(0),
                stack.entry_url
            );
        }
        serve_until_ctrl_c().await?;
        eprintln!("stopping…");
        stack.shutdown().await;
        if let Some(m) = mocks {
            m.shutdown().await;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The runtime of served servers: `TTLAB_WORKER_THREADS` workers (default:
/// one per core).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("TTLAB_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        b.worker_threads(n);
    }
    b.enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Serves a CDN that follows HTTP in front of `--upstream` until Ctrl-C.
pub fn cdn(args: &ServeCdnArgs) -> anyhow::Result<ExitCode> {
    use ttlab_ssr_origin::cache::http::Heuristic;
    use ttlab_ssr_origin::cache::{Bounds, KeyStrategy};
    use ttlab_ssr_origin::http_proxy::{HttpProxy, HttpProxyOptions, KeyMode};

    for u in &args.upstream {
        if !(u.starts_with("http://") && u.len() > "http://".len()) {
            eprintln!(
                "error: --upstream {u}: expected an http:// URL such as http://127.0.0.1:8080"
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    warn_if_exposed(args.host);
    let mut options = HttpProxyOptions::new(&args.upstream[0]);
    options.upstreams = args
        .upstream
        .iter()
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect();
    options.key = match args.key {
        CdnKey::Http => KeyMode::Http,
        CdnKey::Url => KeyMode::Strategy(KeyStrategy::Url),
        CdnKey::Visitor => KeyMode::Strategy(KeyStrategy::UrlVisitor),
    };
    options.bounds = Bounds::or_defaults(Some(args.max_entries), None);
    options.coalesce = !args.no_coalesce;
    options.policy.heuristic = args.heuristic.map(|f| Heuristic {
        fraction_of_last_modified: f,
        ..Heuristic::default()
    });
    let runtime = runtime()?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr().context("listening address")?;
        let clock = ttlab_ssr_origin::http_proxy::proxy_clock();
        let proxy = Arc::new(HttpProxy::new(options.clone(), clock));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = ttlab_ssr_origin::http_proxy::serve(&proxy, listener, async move {
            let _ = stop_rx.await;
        });
        println!(
            "ttlab cdn (HTTP caching, key: {:?}) on http://{bound}",
            args.key
        );
        println!("  upstream   {}", options.upstreams.join(", "));
        println!("  purge      curl -X POST 'http://{bound}/_ttlab/purge?key=KEY' (or ?url=/path)");
        println!("  counters   http://{bound}/_ttlab/metrics");
        serve_until_ctrl_c().await?;
        eprintln!("stopping…");
        let _ = stop_tx.send(());
        let _ = serving.task.await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Prints "Serving until Ctrl-C." and waits for it. The handler is in
/// place before the line is printed, so a Ctrl-C that follows the line at
/// once still stops the servers cleanly (tokio's `ctrl_c()` only starts
/// listening when first awaited, and SIGINT before that kills the process).
#[cfg(unix)]
async fn serve_until_ctrl_c() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    println!("Serving until Ctrl-C.");
    interrupt.recv().await;
    Ok(())
}

/// Prints "Serving until Ctrl-C." and waits for it.
#[cfg(not(unix))]
async fn serve_until_ctrl_c() -> anyhow::Result<()> {
    println!("Serving until Ctrl-C.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")
}

/// Says so when `host` is not loopback: the servers' control endpoints
/// (`/_ttlab/…`: advancing the timeline, registering webhook targets,
/// purging) answer anyone who reaches them, with no authentication.
fn warn_if_exposed(host: std::net::IpAddr) {
    if let Some(w) = exposure_warning(host) {
        eprintln!("{w}");
    }
}

fn exposure_warning(host: std::net::IpAddr) -> Option<String> {
    (!host.is_loopback()).then(|| {
        format!(
            "warning: listening on {host}, beyond this machine: the control endpoints under /_ttlab/ \
             have no authentication; anyone who reaches {host} can move the timeline and add webhook targets"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::exposure_warning;

    #[test]
    fn only_a_host_beyond_loopback_is_warned_about() {
        assert_eq!(exposure_warning("127.0.0.1".parse().unwrap()), None);
        assert_eq!(exposure_warning("::1".parse().unwrap()), None);
        let w = exposure_warning("0.0.0.0".parse().unwrap()).expect("0.0.0.0 is warned about");
        assert!(w.contains("no authentication"), "{w}");
        assert!(exposure_warning("192.0.2.7".parse().unwrap()).is_some());
    }
}
