//! The population is derived, not stored: every visitor derived on demand
//! equals the one the world materialised before (pinned fingerprints taken
//! from the materialising world), and a uid maps back to its visitor.

use std::fmt::Write as _;

use ttlab_scenarios::{World, parse_str, shipped::SHIPPED};
use xxhash_rust::xxh3::xxh3_64;

/// Every shipped scenario, and quickstart with a drifting and a rate-driven
/// attribute (changes for most visitors, drawn per visitor).
fn scenarios() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = SHIPPED
        .iter()
        .map(|s| (s.name.to_owned(), s.source.to_owned()))
        .collect();
    let drift = format!(
        "{}\n[[attributes]]\nname = \"zz\"\nvalues = {{ x = 1, y = 2, z = 3 }}\n\n\
         [[timeline]]\naction = \"attribute_change\"\nattribute = \"zz\"\nmean_interval = \"5s\"\n\n\
         [[timeline]]\naction = \"attribute_change\"\nattribute = \"zz\"\nrate = 40\n",
        SHIPPED[0].source
    );
    out.push(("drift".into(), drift));
    out
}

#[test]
fn derived_visitors_equal_the_materialised_ones() {
    // (name, visitors, changes, hash of every visitor's Debug text), as the
    // world that stored every visitor printed them.
    let pinned = [
        ("quickstart", 200, 13, 0xc10f_85ec_8b81_7380_u64),
        ("ab-home", 2000, 0, 0x5352_b9e7_5ad4_3f8a),
        ("geo-segments", 1000, 2885, 0x1881_0e14_c6a4_b326),
        ("login-storm", 2000, 800, 0x3d8d_fc0d_4673_94c1),
        ("flash-sale", 3000, 0, 0x8880_30db_15b6_90ff),
        ("experiment-rollout", 2000, 0, 0x741e_9ae8_7083_2680),
        ("upstream-faults", 1500, 0, 0xbf04_c670_7005_f1e2),
        ("redis-replicas", 300, 36, 0x647c_6fcd_90b0_1759),
        ("drift", 200, 405, 0x4998_ced4_8cce_a823),
    ];
    let all = scenarios();
    assert_eq!(all.len(), pinned.len(), "a shipped scenario without a pin");
    for ((name, src), (want_name, visitors, changes, hash)) in all.into_iter().zip(pinned) {
        assert_eq!(name, want_name);
        let w = World::new(parse_str("x.toml", &src).expect("valid"));
        let mut text = String::new();
        let mut n = 0;
        for v in 0..w.visitor_count() {
            let visitor = w.visitor(v);
            writeln!(text, "{visitor:?}").expect("a String takes any text");
            n += visitor.changes.len();
            assert_eq!(w.uid(v), visitor.uid);
        }
        assert_eq!(
            (w.visitor_count(), n, xxh3_64(text.as_bytes())),
            (visitors, changes, hash),
            "{name}"
        );
    }
}

#[test]
fn every_uid_maps_back_and_others_do_not() {
    let w = World::new(parse_str("x.toml", SHIPPED[2].source).expect("valid"));
    for v in 0..w.visitor_count() {
        assert_eq!(w.visitor_index(&w.uid(v)), Some(v));
    }
    let other = World::new(
        parse_str("x.toml", &SHIPPED[2].source.replace("seed = ", "seed = 9")).expect("valid"),
    );
    assert_ne!(other.scenario().seed, w.scenario().seed);
    for v in 0..other.visitor_count() {
        assert_eq!(w.visitor_index(&other.uid(v)), None);
    }
    for bad in [
        "",
        "x",
        "zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz",
        &w.uid(0)[..35],
    ] {
        assert_eq!(w.visitor_index(bad), None, "{bad:?}");
    }
    // A uid that shares a visitor's first 12 digits but not the rest.
    let mut near = w.uid(5).to_string();
    near.replace_range(35.., if near.ends_with('0') { "1" } else { "0" });
    assert_eq!(w.visitor_index(&near), None);
}
