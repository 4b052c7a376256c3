//! A small scenario and a harness that runs both mocks on port 0 with a
//! clock the test moves by hand.

#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use ttlab_mock_apis::{MockConfig, RunningMocks};
use ttlab_scenarios::{ManualClock, Micros, World};
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::mocks::{start_mocks, world};
use ttlab_test_support::scenario::audience_in;

pub use ttlab_test_support::mocks::json;

/// Two attributes, an A/B test on the home page, a segment, an inactive
/// test switched on at 30 s, publishes at 10 s and 20 s, a home page and
/// twelve product pages.
pub fn scenario() -> ScenarioToml {
    let de = audience_in("country", &["DE"]);
    let fr_pro = r#"{ all = [{ attribute = "country", in = ["FR"] }, { attribute = "plan", in = ["pro"] }] }"#;
    ScenarioToml::new("mock-tests", 9, "60s")
        .traffic(300, 5)
        .attribute("country", &[("US", 50), ("DE", 30), ("FR", 20)])
        .attribute("plan", &[("free", 70), ("pro", 30)])
        .ab_with("0", &[("0", 50), ("1", 50)], r#"tags = ["home"]"#)
        .segmented_with("a", &[("0", &de), ("1", fr_pro)], r#"tags = ["geo"]"#)
        .ab_with("z", &[("0", 100)], "active = false")
        .entry("home_hero", "hero", &["0", "a"])
        .entry("geo_banner", "banner", &["a"])
        .entry("footer", "footer", &[])
        .page("/", &["home_hero", "geo_banner", "footer"])
        .page_set("/p/{i}", 12, "product")
        .attribute_change("country", "20s")
        .publish("home_hero", "10s")
        .event("action = \"publish\"\nentry = \"home_hero\"\nvariant = \"0_1\"\nat = \"20s\"")
        .event("action = \"activate\"\nexperience = \"z\"\nat = \"30s\"")
        .archs(&["ssr-origin-variant"])
}

/// [`scenario`]'s TOML.
pub static SCENARIO: LazyLock<String> = LazyLock::new(|| scenario().build());

pub struct Harness {
    pub mocks: RunningMocks,
    pub clock: Arc<ManualClock>,
    pub world: Arc<World>,
    pub http: reqwest::Client,
}

pub async fn start(toml: &str, config: MockConfig) -> Harness {
    let world = world(toml);
    let clock = Arc::new(ManualClock::at(Micros::ZERO));
    let mocks = start_mocks(&world, clock.clone(), config).await;
    Harness {
        mocks,
        clock,
        world,
        http: reqwest::Client::new(),
    }
}

/// [`start`] on the shared scenario with no timeline ticker: the test (a
/// run driver) moves the timeline itself through `/_ttlab/timeline/advance`.
pub async fn start_driven() -> Harness {
    start(
        &SCENARIO,
        MockConfig {
            auto_timeline: false,
            ..MockConfig::default()
        },
    )
    .await
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

    /// Sends [`Harness::cda`] for `path_and_query` and reads the JSON answer.
    pub async fn cda_json(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        json(
            self.cda(path_and_query)
                .send()
                .await
                .expect("delivery answers"),
        )
        .await
    }
}

/// The stack export under `tests/fixtures/export/`, in the layout the CLI
/// writes: every field type, a global field (also as a block), groups,
/// modular blocks, references two levels deep, two assets with their files,
/// three locales (`fr-fr` falls back to `en-us`, `de-de` to `fr-fr`).
pub fn fixture_export() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export")
}

/// A scenario over the fixture export: an A/B test `0` every page and
/// author varies by, a segment `s` whose variant `0` is named "Germans"
/// (pages vary by it), a publish of the home page at 10 s and of its
/// variant `0_1` at 20 s.
pub fn export_scenario() -> ScenarioToml {
    let germans = format!("{}\nname = \"Germans\"", audience_in("country", &["DE"]));
    ScenarioToml::new("export-tests", 11, "60s")
        .traffic(50, 2)
        .attribute("country", &[("US", 50), ("DE", 50)])
        .ab_with(
            "0",
            &[("0", 50), ("1", 50)],
            r#"content_types = ["page", "author"]"#,
        )
        .segmented_with("s", &[("0", &germans)], r#"content_types = ["page"]"#)
        .content(&format!(
            "export = {:?}",
            fixture_export().display().to_string()
        ))
        .page("/", &["blt_p_home"])
        .page("/about", &["blt_p_about", "blt_a_alan"])
        .publish("blt_p_home", "10s")
        .event("action = \"publish\"\nentry = \"blt_p_home\"\nvariant = \"0_1\"\nat = \"20s\"")
        .archs(&["ssr-origin-variant"])
}

/// The world of [`export_scenario`]: the fixture export, read by the
/// scenario's `[content] export`.
pub fn export_world() -> Arc<World> {
    world(&export_scenario().build())
}

/// Both mocks serving [`export_world`], no timeline ticker (tests pass
/// publishes with `/_ttlab/timeline/advance`).
pub async fn start_export(config: MockConfig) -> Harness {
    let world = export_world();
    let clock = Arc::new(ManualClock::at(Micros::ZERO));
    let mocks = start_mocks(
        &world,
        clock.clone(),
        MockConfig {
            auto_timeline: false,
            ..config
        },
    )
    .await;
    Harness {
        mocks,
        clock,
        world,
        http: reqwest::Client::new(),
    }
}
