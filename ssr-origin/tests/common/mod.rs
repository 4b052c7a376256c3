//! The lab scenario of the end-to-end tests: the mocks and one
//! architecture's servers on port 0 come from `ttlab_test_support::mocks`.

#![allow(dead_code, unused_imports)]

use ttlab_test_support::ScenarioToml;
use ttlab_test_support::scenario::audience_in;

pub use ttlab_test_support::mocks::{Lab, fetch};

/// Starts the mocks and the servers of the scenario's architecture `arch`.
pub async fn lab(toml: &str, arch: usize) -> Lab {
    Lab::start(toml, arch).await
}

/// A lab of [`scenario`] with one `ssr-origin-variant` whose cache options
/// are `cache` (an inline TOML table).
pub async fn origin_lab(cache: &str) -> Lab {
    let arch = format!("[[architectures]]\nname = \"ssr-origin-variant\"\ncache = {cache}");
    lab(&scenario("", &arch), 0).await
}

/// A small scenario: an A/B test and a segment on the home page, a plain
/// page, a per-visitor page; `extra` goes before the architectures, which
/// come last.
pub fn scenario(extra: &str, architectures: &str) -> String {
    let base = ScenarioToml::new("lab", 5, "60s")
        .traffic(50, 5)
        .attribute("country", &[("US", 50), ("DE", 50)])
        .ab("0", &[("0", 50), ("1", 50)])
        .segmented("a", &[("0", &audience_in("country", &["DE"]))])
        .entry("hero", "hero", &["0"])
        .entry("banner", "banner", &["a"])
        .entry("footer", "footer", &[])
        .page("/", &["hero", "footer"])
        .page("/about", &["footer"])
        .visitor_page("/account", &["banner"])
        .publish("hero", "10s");
    format!("{base}\n{extra}\n\n{architectures}\n")
}
