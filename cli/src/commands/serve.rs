//! `ttlab serve …`: parts of the lab on loopback, until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::{SystemClock, World};

use crate::EXIT_BAD_INPUT;
use crate::args::ServeMocksArgs;

/// Serves the mock APIs of a scenario until Ctrl-C.
pub fn mocks(args: &ServeMocksArgs) -> anyhow::Result<ExitCode> {
    let (shown, loaded) = super::load_scenario(&args.scenario);
    let scenario = match loaded {
        Ok(s) => s,
        Err(e) => {
            super::print_scenario_error(&shown, &e);
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
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
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
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
        println!("Serving until Ctrl-C.");
        tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
        eprintln!("stopping…");
        mocks.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
