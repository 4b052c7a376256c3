//! A world's mock APIs, and an architecture's servers in front of them, on
//! port 0: the setup every end-to-end test of the origin, the load generator
//! and the mocks starts from.

use std::sync::Arc;
use std::time::Duration;

use ttlab_mock_apis::metrics::{Api, Endpoint};
use ttlab_mock_apis::{MockConfig, RunningMocks};
use ttlab_scenarios::{Clock, ManualClock, Micros, World, parse_str};
use ttlab_ssr_origin::stack::{RunningStack, start_stack};
use ttlab_ssr_origin::upstream::UpstreamConfig;

/// The world of scenario `toml`; panics showing why the scenario is invalid.
pub fn world(toml: &str) -> Arc<World> {
    let scenario = parse_str("test.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(World::new(scenario))
}

/// Starts the mock APIs for `world` on port 0, timed by `clock`.
pub async fn start_mocks(
    world: &Arc<World>,
    clock: Arc<dyn Clock>,
    config: MockConfig,
) -> RunningMocks {
    ttlab_mock_apis::start(world.clone(), clock, config)
        .await
        .expect("the mocks start")
}

/// Starts the servers of the scenario's architecture number `arch` on
/// 127.0.0.1, port 0, their upstream the running `mocks`.
pub async fn start_arch(
    world: &Arc<World>,
    clock: Arc<dyn Clock>,
    mocks: &RunningMocks,
    arch: usize,
) -> RunningStack {
    let s = world.scenario();
    let upstream =
        UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
    start_stack(
        world.clone(),
        clock,
        &s.architectures[arch],
        upstream,
        "127.0.0.1".parse().unwrap(),
    )
    .await
    .expect("the architecture's servers start")
}

/// The mocks and one architecture's servers, with a run clock the test
/// moves by hand.
pub struct Lab {
    /// The scenario's world.
    pub world: Arc<World>,
    /// The run clock both the mocks and the servers read.
    pub clock: Arc<ManualClock>,
    /// The mock APIs.
    pub mocks: RunningMocks,
    /// The architecture's servers.
    pub stack: RunningStack,
    /// A client with room for many connections to one host.
    pub http: reqwest::Client,
}

/// A page as a visitor received it.
pub struct Page {
    /// Its HTTP status.
    pub status: u16,
    /// Its headers.
    pub headers: reqwest::header::HeaderMap,
    /// Its body.
    pub body: String,
}

impl Page {
    /// The header `name`, or "" when it is absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// Registers `url` for the mock Delivery API's publish webhooks, as a
/// run does for an architecture that purges on publish.
pub async fn register_webhook(http: &reqwest::Client, mocks: &RunningMocks, url: &str) {
    let r = http
        .post(format!("{}/_ttlab/webhooks", mocks.delivery_url))
        .json(&serde_json::json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "registering the webhook {url}");
}

impl Lab {
    /// Starts the mocks and the servers of the scenario's architecture
    /// number `arch`, the run clock at zero; registers the architecture's
    /// webhook with the mocks when it has one.
    pub async fn start(toml: &str, arch: usize) -> Lab {
        let world = world(toml);
        let clock = Arc::new(ManualClock::at(Micros::ZERO));
        let mocks = start_mocks(&world, clock.clone(), MockConfig::default()).await;
        let stack = start_arch(&world, clock.clone(), &mocks, arch).await;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .unwrap();
        if let Some(url) = &stack.webhook_url {
            register_webhook(&http, &mocks, url).await;
        }
        Lab {
            world,
            clock,
            mocks,
            stack,
            http,
        }
    }

    /// Visitor number `v`'s uid.
    pub fn uid(&self, v: usize) -> String {
        self.world.uid(v as u32).to_string()
    }

    /// A request for `path` at the architecture's entry, as visitor `uid`
    /// (its cookie) or anonymous.
    pub fn request(&self, path: &str, uid: Option<&str>) -> reqwest::RequestBuilder {
        let r = self
            .http
            .get(format!("{}{path}", self.stack.entry_url))
            .timeout(Duration::from_secs(20));
        match uid {
            Some(u) => r.header("cookie", format!("cs-personalize-user-uid={u}")),
            None => r,
        }
    }

    /// Fetches `path` as `uid`.
    pub async fn get(&self, path: &str, uid: Option<&str>) -> Page {
        fetch(self.request(path, uid)).await
    }

    /// How many entries the mocks' Delivery API has served.
    pub fn delivery_fetches(&self) -> u64 {
        self.mocks
            .state
            .metrics
            .requests(Api::Delivery, Endpoint::Entry)
    }

    /// How many manifests the mocks' Personalize API has served.
    pub fn personalize_calls(&self) -> u64 {
        self.mocks
            .state
            .metrics
            .requests(Api::Personalize, Endpoint::Manifest)
    }

    /// Shuts the servers, then the mocks, down.
    pub async fn stop(self) {
        self.stack.shutdown().await;
        self.mocks.shutdown().await;
    }
}

/// Sends `r` and reads the whole answer.
pub async fn fetch(r: reqwest::RequestBuilder) -> Page {
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap();
    Page {
        status,
        headers,
        body,
    }
}

/// The body of the answer to `r` (a `/metrics` page...), whatever its
/// status.
pub async fn text(r: reqwest::RequestBuilder) -> String {
    r.send().await.unwrap().text().await.unwrap()
}

/// The status and the JSON body of `resp`; panics showing the body when it
/// is not JSON.
pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"));
    (status, value)
}
