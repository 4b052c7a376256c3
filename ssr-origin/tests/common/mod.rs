//! A lab for end-to-end tests: the mock APIs and one architecture's servers
//! on port 0, with a run clock the test moves by hand.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ttlab_mock_apis::{MockConfig, RunningMocks};
use ttlab_scenarios::{ManualClock, Micros, World, parse_str};
use ttlab_ssr_origin::stack::{RunningStack, start_stack};
use ttlab_ssr_origin::upstream::UpstreamConfig;

pub struct Lab {
    pub world: Arc<World>,
    pub clock: Arc<ManualClock>,
    pub mocks: RunningMocks,
    pub stack: RunningStack,
    pub http: reqwest::Client,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// Starts the mocks and the servers of the scenario's architecture `arch`.
pub async fn lab(toml: &str, arch: usize) -> Lab {
    let scenario = parse_str("lab.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    let world = Arc::new(World::new(scenario));
    let clock = Arc::new(ManualClock::at(Micros::ZERO));
    let mocks = ttlab_mock_apis::start(world.clone(), clock.clone(), MockConfig::default())
        .await
        .unwrap();
    let s = world.scenario();
    let upstream =
        UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
    let stack = start_stack(
        world.clone(),
        clock.clone(),
        &s.architectures[arch],
        upstream,
        "127.0.0.1".parse().unwrap(),
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    if let Some(url) = &stack.webhook_url {
        let r = http
            .post(format!("{}/_ttlab/webhooks", mocks.delivery_url))
            .json(&serde_json::json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    Lab {
        world,
        clock,
        mocks,
        stack,
        http,
    }
}

impl Lab {
    pub fn uid(&self, v: usize) -> String {
        self.world.visitors()[v].uid.clone()
    }

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

    pub async fn get(&self, path: &str, uid: Option<&str>) -> Page {
        fetch(self.request(path, uid)).await
    }

    pub fn delivery_fetches(&self) -> u64 {
        self.mocks.state.metrics.requests(
            ttlab_mock_apis::metrics::Api::Delivery,
            ttlab_mock_apis::metrics::Endpoint::Entry,
        )
    }

    pub fn personalize_calls(&self) -> u64 {
        self.mocks.state.metrics.requests(
            ttlab_mock_apis::metrics::Api::Personalize,
            ttlab_mock_apis::metrics::Endpoint::Manifest,
        )
    }

    pub async fn stop(self) {
        self.stack.shutdown().await;
        self.mocks.shutdown().await;
    }
}

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

/// A small scenario: an A/B test and a segment on the home page, a plain
/// page, a per-visitor page; `extra` goes before the architectures, which
/// come last.
pub fn scenario(extra: &str, architectures: &str) -> String {
    format!(
        r#"
[scenario]
name = "lab"
seed = 5
duration = "60s"

[traffic]
visitors = 50
users = 5

[[attributes]]
name = "country"
values = {{ US = 50, DE = 50 }}

[[experiences]]
uid = "0"
type = "ab"
splits = {{ "0" = 50, "1" = 50 }}

[[experiences]]
uid = "a"
type = "segmented"

[[experiences.variants]]
uid = "0"
audience = {{ attribute = "country", in = ["DE"] }}

[content]

[[content.entries]]
uid = "hero"
content_type = "hero"
variants_for = ["0"]

[[content.entries]]
uid = "banner"
content_type = "banner"
variants_for = ["a"]

[[content.entries]]
uid = "footer"
content_type = "footer"

[[content.pages]]
path = "/"
entries = ["hero", "footer"]

[[content.pages]]
path = "/about"
entries = ["footer"]

[[content.pages]]
path = "/account"
entries = ["banner"]
visitor_fragment = true

[[timeline]]
action = "publish"
entry = "hero"
at = "10s"

{extra}

{architectures}
"#
    )
}
