//! Fixtures shared by the loadgen tests.

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

/// Who the visitors are, in scenario TOML after `[traffic]`: a country
/// attribute, an A/B test (experience `0`) and a segment of visitors in
/// DE (experience `g`).
pub const AUDIENCE: &str = r#"[[attributes]]
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
"#;

/// Content for [`AUDIENCE`]: three entries (one per experience, one plain)
/// on three pages, `/`, `/geo` and `/about`.
pub const THREE_PAGES: &str = r#"
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
