//! `[content] export`: the scenario's entries come from a stack export, the
//! experiences say what varies, and `ttlab validate`'s summary says what the
//! export holds and warns about what cannot be judged.

use std::path::Path;

use ttlab_scenarios::World;
use ttlab_scenarios::model::VariantRef;
use ttlab_scenarios::summary::summarize;
use ttlab_scenarios::validate::load;

fn site() -> ttlab_scenarios::Scenario {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/site.toml")).unwrap()
}

#[test]
fn the_entries_and_their_variants_come_from_the_export() {
    let s = site();
    let c = &s.content;
    assert!(c.export.is_some());
    assert_eq!(
        c.locale, "en-gb",
        "the export's master locale is the default"
    );
    let uids: Vec<&str> = c.entries.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(uids, ["blthero1", "bltbanner1", "bltwidget1", "bltfooter1"]);
    let v = |e: u16, k: u16| VariantRef {
        experience: e,
        variant: k,
    };
    // content_types = ["hero"]: both A/B variants; entries = [...]: the segment.
    assert_eq!(c.entries[0].variants, [v(0, 0), v(0, 1)]);
    assert_eq!(c.entries[1].variants, [v(1, 0)]);
    assert_eq!(c.entries[2].variants, [v(1, 0)]);
    assert!(c.entries[3].variants.is_empty());
    assert_eq!(c.pages[0].entries, [0, 1, 3]);
    // The truth functions work on them unchanged.
    let world = World::new(s.clone());
    assert_eq!(
        world.entry_version(0, None, ttlab_scenarios::Micros::ZERO),
        1
    );
}

#[test]
fn validate_says_what_the_export_holds_and_what_cannot_be_judged() {
    let summary = summarize(&World::new(site()));
    let text = summary.to_string();
    assert!(
        text.contains("  export       ")
            && text.contains(
                "site-export: 4 content types, 4 entries in 1 locales, 0 assets (0 with files)"
            ),
        "{text}"
    );
    assert_eq!(
        summary.warnings,
        [
            "widget field hologram has data_type \"hologram\", which ttlab does not know: the mock serves it as stored, with no content token",
            "entry bltwidget1 (widget) varies but has no text value to carry a content token: a page showing it cannot be judged by which variant it shows",
        ]
    );
    assert!(
        text.contains("  warning: entry bltwidget1 (widget) varies"),
        "{text}"
    );
}
