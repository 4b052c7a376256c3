//! The world's truth: split accuracy, audience rules, determinism, versions.

use std::collections::HashMap;

use ttlab_scenarios::model::VariantRef;
use ttlab_scenarios::world::EventKind;
use ttlab_scenarios::{Micros, World, parse_str};
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::scenario::audience_in;

fn world(toml: &str) -> World {
    match parse_str("test.toml", toml) {
        Ok(s) => World::new(s),
        Err(e) => panic!("test scenario invalid:\n{e}"),
    }
}

/// One plain entry on one page, for scenarios about the audience alone.
fn tail(s: ScenarioToml) -> ScenarioToml {
    s.entry("e", "hero", &[])
        .page("/", &["e"])
        .archs(&["ssr-nocache"])
}

fn ab_world(visitors: u32, seed: u64) -> World {
    let s = ScenarioToml::new("splits", seed, "60s")
        .traffic(visitors, 1)
        .attribute("plan", &[("free", 70), ("pro", 30)])
        .ab("0", &[("0", 20), ("1", 30), ("2", 50)])
        .ab_with("b", &[("0", 50), ("1", 50)], &format!("audience = {}", audience_in("plan", &["pro"])))
        .event("action = \"set_splits\"\nexperience = \"0\"\nat = \"30s\"\nsplits = { \"0\" = 70, \"1\" = 30 }");
    world(&tail(s).build())
}

fn shares(world: &World, exp: u16, t: Micros, variants: usize) -> (Vec<f64>, usize) {
    let mut counts = vec![0usize; variants];
    let mut participants = 0;
    for v in 0..world.visitor_count() {
        if let Some(k) = world.variants_of(v, t).get(exp) {
            counts[usize::from(k)] += 1;
            participants += 1;
        }
    }
    let shares = counts
        .iter()
        .map(|c| *c as f64 / participants as f64 * 100.0)
        .collect();
    (shares, participants)
}

#[test]
fn ab_splits_within_one_point_over_100k_visitors() {
    let w = ab_world(100_000, 7);
    let (s, n) = shares(&w, 0, Micros::ZERO, 3);
    assert_eq!(
        n, 100_000,
        "every visitor takes part in an A/B test without audience"
    );
    for (got, want) in s.iter().zip([20.0, 30.0, 50.0]) {
        assert!(
            (got - want).abs() <= 1.0,
            "split {got:.2}% vs configured {want}%"
        );
    }
    // After the split change at 30 s.
    let (s, _) = shares(&w, 0, Micros::from_secs(30), 3);
    for (got, want) in s.iter().zip([70.0, 30.0, 0.0]) {
        assert!(
            (got - want).abs() <= 1.0,
            "split after change {got:.2}% vs {want}%"
        );
    }
    // The audience-gated test: only "pro" visitors (30%), split 50/50 among them.
    let (s, n) = shares(&w, 1, Micros::ZERO, 2);
    let pro_share = n as f64 / 1000.0;
    assert!((pro_share - 30.0).abs() <= 1.0, "pro share {pro_share:.2}%");
    for got in s {
        assert!((got - 50.0).abs() <= 1.0, "gated split {got:.2}%");
    }
}

#[test]
fn ab_assignment_is_sticky_and_depends_only_on_the_uids() {
    let w = ab_world(2_000, 7);
    let other = ab_world(2_000, 7);
    for v in 0..2_000 {
        let early = w.variants_of(v, Micros::ZERO).get(0);
        assert_eq!(early, w.variants_of(v, Micros::from_secs(29)).get(0));
        assert_eq!(early, other.variants_of(v, Micros::ZERO).get(0));
        // Raising variant 0's share from 20 to 70 only moves visitors into 0.
        let late = w.variants_of(v, Micros::from_secs(30)).get(0);
        if early == Some(0) {
            assert_eq!(late, Some(0));
        }
    }
}

fn segmented() -> String {
    let us_not_free = r#"{ all = [{ attribute = "country", in = ["US"] }, { attribute = "plan", not_in = ["free"] }] }"#;
    let pro_or_fr = r#"{ any = [{ attribute = "plan", in = ["pro"] }, { attribute = "country", in = ["FR"] }] }"#;
    let s = ScenarioToml::new("segments", 11, "60s")
        .traffic(5000, 1)
        .attribute("country", &[("US", 40), ("DE", 30), ("AT", 10), ("FR", 20)])
        .attribute("plan", &[("free", 60), ("pro", 40)])
        .segmented(
            "a",
            &[
                ("0", &audience_in("country", &["DE", "AT"])),
                ("1", us_not_free),
                ("2", pro_or_fr),
            ],
        )
        .attribute_change("country", "20s")
        .event("action = \"attribute_change\"\nattribute = \"plan\"\nat = \"30s\"\nfraction = 0.5\nvalue = \"pro\"");
    tail(s).build()
}

#[test]
fn segmented_assignment_follows_the_audience_rules_exactly() {
    let w = world(&segmented());
    let attrs = &w.scenario().attributes;
    let name = |a: usize, v: u16| attrs[a].values[usize::from(v)].as_str();
    let mut changed = 0;
    for t in [0, 10, 29, 30, 45, 59].map(Micros::from_secs) {
        for v in 0..5000 {
            let values = w.attributes_at(v, t);
            let (country, plan) = (name(0, values[0]), name(1, values[1]));
            // The rules, written out by hand.
            let expected = if country == "DE" || country == "AT" {
                Some(0)
            } else if country == "US" && plan != "free" {
                Some(1)
            } else if plan == "pro" || country == "FR" {
                Some(2)
            } else {
                None
            };
            assert_eq!(
                w.variants_of(v, t).get(0),
                expected,
                "visitor {v} at {t}: {country}/{plan}"
            );
            if values != w.attributes_at(v, Micros::ZERO) {
                changed += 1;
            }
        }
    }
    assert!(
        changed > 1000,
        "attribute changes must move visitors between segments"
    );
}

#[test]
fn drawn_attribute_changes_never_keep_the_value_and_storms_hit_the_fraction() {
    let w = world(&segmented());
    let mut storm = 0;
    for e in w.events() {
        if let EventKind::AttributeChange {
            visitor,
            attribute,
            value,
        } = e.kind
        {
            if attribute == 0 {
                let before = w.attribute_at(visitor, 0, Micros(e.at.0 - 1));
                assert_ne!(before, value, "a drawn change must pick another value");
            } else {
                assert_eq!(e.at, Micros::from_secs(30));
                storm += 1;
            }
        }
    }
    assert_eq!(storm, 2500, "fraction 0.5 of 5000 visitors");
}

/// Every visitor of `w`, derived.
fn everyone(w: &World) -> Vec<ttlab_scenarios::world::Visitor> {
    (0..w.visitor_count()).map(|v| w.visitor(v)).collect()
}

#[test]
fn same_seed_same_world_other_seed_other_visitors() {
    let a = ab_world(1000, 1);
    let b = ab_world(1000, 1);
    let c = ab_world(1000, 2);
    assert_eq!(everyone(&a), everyone(&b));
    assert_eq!(a.events(), b.events());
    let seg1 = world(&segmented());
    let seg2 = world(&segmented());
    assert_eq!(everyone(&seg1), everyone(&seg2));
    assert_eq!(seg1.events(), seg2.events());
    let (a_all, c_all) = (everyone(&a), everyone(&c));
    let uids_a: Vec<_> = a_all.iter().map(|v| &v.uid).collect();
    let uids_c: Vec<_> = c_all.iter().map(|v| &v.uid).collect();
    assert!(
        uids_a.iter().zip(&uids_c).all(|(x, y)| x != y),
        "another seed gives other visitors"
    );
    let attrs_differ = a_all
        .iter()
        .zip(&c_all)
        .filter(|(x, y)| x.initial != y.initial)
        .count();
    assert!(
        attrs_differ > 100,
        "another seed draws other attributes ({attrs_differ} differ)"
    );
    // Uids look like the real API's (UUID v4 shape) and are unique.
    let mut seen = HashMap::new();
    for (i, v) in (0..a.visitor_count()).map(|v| (v as usize, a.visitor(v))) {
        assert_eq!(v.uid.len(), 36);
        assert_eq!(&v.uid[14..15], "4");
        assert!(seen.insert(v.uid.clone(), i).is_none());
        assert_eq!(a.visitor_index(&v.uid), Some(i as u32));
    }
}

/// Ten visitors, an A/B test (`extra` its further lines) with variants of
/// the hero, and a footer without: both on the home page.
fn hero_and_footer(s: ScenarioToml, extra: &str) -> ScenarioToml {
    s.traffic(10, 1)
        .ab_with("0", &[("0", 50), ("1", 50)], extra)
        .entry("hero", "hero", &["0"])
        .entry("footer", "footer", &[])
        .page("/", &["hero", "footer"])
        .archs(&["ssr-origin-variant"])
}

#[test]
fn entry_versions_follow_base_and_variant_publishes() {
    let w = world(
        &hero_and_footer(ScenarioToml::new("versions", 3, "60s"), "active = false")
            .publish("hero", "10s")
            .event("action = \"publish\"\nentry = \"hero\"\nvariant = \"0_1\"\nat = \"20s\"")
            .event("action = \"activate\"\nexperience = \"0\"\nat = \"5s\"")
            .build(),
    );
    let v1 = Some(VariantRef {
        experience: 0,
        variant: 1,
    });
    let v0 = Some(VariantRef {
        experience: 0,
        variant: 0,
    });
    let at = Micros::from_secs;
    assert_eq!(w.entry_version(0, None, at(0)), 1);
    assert_eq!(w.entry_version(0, None, Micros(at(10).0 - 1)), 1);
    assert_eq!(
        w.entry_version(0, None, at(10)),
        2,
        "a publish counts from its instant"
    );
    assert_eq!(
        w.entry_version(0, v1, at(10)),
        2,
        "variants inherit base publishes"
    );
    assert_eq!(w.entry_version(0, v1, at(20)), 3);
    assert_eq!(
        w.entry_version(0, v0, at(20)),
        2,
        "a variant publish touches only that variant"
    );
    assert_eq!(w.entry_version(0, None, at(20)), 2);
    assert_eq!(w.entry_version(1, None, at(59)), 1);
    assert_eq!(w.last_publish(0, None, at(9)), None);
    assert_eq!(w.last_publish(0, None, at(25)), Some(at(10)));
    assert_eq!(w.last_publish(0, v1, at(25)), Some(at(20)));
    assert_eq!(w.last_publish(0, v0, at(25)), Some(at(10)));
    // Inactive before 5 s: nobody has a variant; afterwards everybody does.
    for v in 0..10 {
        assert!(w.variants_of(v, at(4)).get(0).is_none());
        let set = w.variants_of(v, at(5));
        let got = set
            .get(0)
            .expect("active A/B without audience gives everyone a variant");
        assert_eq!(
            w.served_variant(0, &set),
            Some(VariantRef {
                experience: 0,
                variant: got
            })
        );
        assert_eq!(w.served_variant(1, &set), None, "footer has no variants");
    }
    assert_eq!(
        w.alias(VariantRef {
            experience: 0,
            variant: 1
        }),
        "cs_personalize_0_1"
    );
    assert_eq!(w.page_experience_mask(0), 1);
}

#[test]
fn superseded_at_is_the_inverse_of_entry_version() {
    let w = world(
        &hero_and_footer(ScenarioToml::new("superseded", 5, "60s"), "")
            .event("action = \"publish\"\nrate = 0.5")
            .event("action = \"publish\"\nentries = [\"hero\"]\nvariant = \"0_1\"\nrate = 0.3")
            .event("action = \"publish\"\nentries = [\"hero\", \"footer\"]\nat = \"30s\"")
            .build(),
    );
    let end = Micros::from_secs(60);
    let variants = [
        None,
        Some(VariantRef {
            experience: 0,
            variant: 0,
        }),
        Some(VariantRef {
            experience: 0,
            variant: 1,
        }),
    ];
    let mut checked = 0;
    for entry in 0..2 {
        for variant in variants {
            let last = w.entry_version(entry, variant, end);
            for version in 1..last {
                let t = w
                    .superseded_at(entry, variant, version)
                    .expect("a later version exists");
                assert!(w.entry_version(entry, variant, t) > version);
                assert!(
                    t == Micros::ZERO
                        || w.entry_version(entry, variant, Micros(t.0 - 1)) <= version,
                    "entry {entry} {variant:?} v{version} superseded at {t:?}, not before"
                );
                checked += 1;
            }
            assert_eq!(w.superseded_at(entry, variant, last), None, "still current");
        }
    }
    assert!(checked > 40, "the timeline publishes often: {checked}");
}
