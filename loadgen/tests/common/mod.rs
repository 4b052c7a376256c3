//! Fixtures shared by the loadgen tests.

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use ttlab_test_support::ScenarioToml;

/// A site for [`ScenarioToml::audience`]'s visitors: three entries (one per
/// experience, one plain) on three pages, `/`, `/geo` and `/about`, after
/// the audience itself.
pub fn three_pages(s: ScenarioToml) -> ScenarioToml {
    s.audience()
        .three_entries()
        .page("/", &["hero", "banner", "footer"])
        .page("/geo", &["banner", "footer"])
        .page("/about", &["footer"])
}
