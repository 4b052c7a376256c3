//! A small scenario and a harness that runs both mocks on port 0 with a
//! clock the test moves by hand.

#![allow(dead_code)]

use std::sync::Arc;

use ttlab_mock_apis::{MockConfig, RunningMocks};
use ttlab_scenarios::{ManualClock, Micros, World, parse_str};

pub const SCENARIO: &str = r#"
[scenario]
name = "mock-tests"
seed = 9
duration = "60s"

[traffic]
visitors = 300
users = 5

[[attributes]]
name = "country"
values = { US = 50, DE = 30, FR = 20 }

[[attributes]]
name = "plan"
values = { free = 70, pro = 30 }

[[experiences]]
uid = "0"
type = "ab"
tags = ["home"]
splits = { "0" = 50, "1" = 50 }

[[experiences]]
uid = "a"
type = "segmented"
tags = ["geo"]

[[experiences.variants]]
uid = "0"
audience = { attribute = "country", in = ["DE"] }

[[experiences.variants]]
uid = "1"
audience = { all = [{ attribute = "country", in = ["FR"] }, { attribute = "plan", in = ["pro"] }] }

[[experiences]]
uid = "z"
type = "ab"
active = false
splits = { "0" = 100 }

[content]

[[content.entries]]
uid = "home_hero"
content_type = "hero"
variants_for = ["0", "a"]

[[content.entries]]
uid = "geo_banner"
content_type = "banner"
variants_for = ["a"]

[[content.entries]]
uid = "footer"
content_type = "footer"

[[content.pages]]
path = "/"
entries = ["home_hero", "geo_banner", "footer"]

[[content.page_sets]]
path = "/p/{i}"
count = 12
content_type = "product"

[[timeline]]
action = "attribute_change"
attribute = "country"
mean_interval = "20s"

[[timeline]]
action = "publish"
entry = "home_hero"
at = "10s"

[[timeline]]
action = "publish"
entry = "home_hero"
variant = "0_1"
at = "20s"

[[timeline]]
action = "activate"
experience = "z"
at = "30s"

[[architectures]]
name = "ssr-origin-variant"
"#;

pub struct Harness {
    pub mocks: RunningMocks,
    pub clock: Arc<ManualClock>,
    pub world: Arc<World>,
    pub http: reqwest::Client,
}

pub fn world(toml: &str) -> Arc<World> {
    Arc::new(World::new(
        parse_str("mock-tests.toml", toml).unwrap_or_else(|e| panic!("{e}")),
    ))
}

pub async fn start(toml: &str, config: MockConfig) -> Harness {
    let world = world(toml);
    let clock = Arc::new(ManualClock::at(Micros::ZERO));
    let mocks = ttlab_mock_apis::start(world.clone(), clock.clone(), config)
        .await
        .expect("mocks start");
    Harness {
        mocks,
        clock,
        world,
        http: reqwest::Client::new(),
    }
}

impl Harness {
    pub fn p(&self, path: &str) -> String {
        format!("{}{path}", self.mocks.personalize_url)
    }

    pub fn d(&self, path: &str) -> String {
        format!("{}{path}", self.mocks.delivery_url)
    }

    /// A manifest request with the default project.
    pub fn manifest(&self, uid: Option<&str>) -> reqwest::RequestBuilder {
        let r = self
            .http
            .get(self.p("/manifest"))
            .header("x-project-uid", "ttlab-project");
        match uid {
            Some(u) => r.header("x-cs-personalize-user-uid", u),
            None => r,
        }
    }

    /// A Delivery request with valid credentials.
    pub fn cda(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.d(path_and_query))
            .header("api_key", "blt-ttlab-api-key")
            .header("access_token", "cs-ttlab-delivery-token")
    }
}

pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"));
    (status, value)
}
