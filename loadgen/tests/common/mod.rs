//! Fixtures shared by the real-run tests.

/// A small site, in scenario TOML between `[traffic]` and `[[timeline]]`:
/// a country attribute, an A/B test and a country segment, three entries
/// (one per experience, one plain) on three pages.
pub const SMALL_SITE: &str = r#"[[attributes]]
name = "country"
values = { US = 50, DE = 50 }

[[experiences]]
uid = "0"
type = "ab"
splits = { "0" = 50, "1" = 50 }

[[experiences]]
uid = "g"
type = "segmented"

[[experiences.variants]]
uid = "0"
audience = { attribute = "country", in = ["DE"] }

[content]

[[content.entries]]
uid = "hero"
content_type = "hero"
variants_for = ["0"]

[[content.entries]]
uid = "banner"
content_type = "banner"
variants_for = ["g"]

[[content.entries]]
uid = "footer"
content_type = "footer"

[[content.pages]]
path = "/"
entries = ["hero", "banner", "footer"]

[[content.pages]]
path = "/geo"
entries = ["banner", "footer"]

[[content.pages]]
path = "/about"
entries = ["footer"]
"#;
