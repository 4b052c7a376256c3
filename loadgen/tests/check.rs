//! The checker classifies each kind of response the way `docs/architecture.md` defines it.

use ttlab_loadgen::check::{Checker, Class, Observation};
use ttlab_scenarios::token::{EntryToken, Tokens};
use ttlab_scenarios::world::EventKind;
use ttlab_scenarios::{Micros, World, parse_str};
use ttlab_test_support::ScenarioToml;

fn world() -> World {
    let toml = ScenarioToml::new("check", 3, "60s")
        .traffic(200, 1)
        .audience()
        .entry("hero", "hero", &["0"])
        .entry("banner", "banner", &["g"])
        .page("/", &["hero", "banner"])
        .attribute_change("country", "20s")
        .publish("hero", "30s")
        .archs(&["ssr-origin-variant"]);
    World::new(parse_str("check.toml", &toml.build()).unwrap())
}

/// The tokens of the home page rendered for visitor `v` as the truth is at `t`.
fn page_at(w: &World, v: u32, t: Micros) -> Tokens {
    let truth = w.variants_of(v, t);
    let entries = w.scenario().content.pages[0]
        .entries
        .iter()
        .map(|e| {
            let served = w.served_variant(*e, &truth);
            EntryToken {
                entry: w.scenario().content.entries[*e as usize].uid.clone(),
                variant: served.map(|r| w.alias(r)),
                version: w.entry_version(*e, served, t),
            }
        })
        .collect();
    Tokens {
        entries,
        visitors: Vec::new(),
    }
}

fn obs(v: u32, sent: Micros, received: Micros, tokens: &Tokens) -> Observation<'_> {
    Observation {
        visitor: v,
        sent,
        received,
        status: 200,
        fallback: false,
        tokens,
    }
}

/// A visitor whose country (hence banner variant) changes, and when.
fn changing_visitor(w: &World) -> (u32, Micros) {
    for (i, v) in (0..w.visitor_count()).map(|v| (v as usize, w.visitor(v))) {
        if let Some(c) = v
            .changes
            .iter()
            .find(|c| c.at > Micros::from_secs(2) && c.at < Micros::from_secs(25))
        {
            return (i as u32, c.at);
        }
    }
    panic!("no visitor changes country");
}

#[test]
fn true_pages_are_fresh() {
    let w = world();
    let c = Checker::new(&w);
    for v in 0..200 {
        for t in [0, 10, 29, 30, 59].map(Micros::from_secs) {
            let tokens = page_at(&w, v, t);
            let j = c.judge(&obs(v, t, Micros(t.0 + 5_000), &tokens));
            assert_eq!(j.class, Class::Fresh, "visitor {v} at {t}: {j:?}");
        }
    }
}

#[test]
fn a_page_from_before_an_attribute_change_is_stale_variant_with_its_staleness() {
    let w = world();
    let c = Checker::new(&w);
    let (v, changed) = changing_visitor(&w);
    let old = page_at(&w, v, Micros(changed.0 - 1));
    let sent = Micros(changed.0 + 1_500_000);
    let j = c.judge(&obs(v, sent, Micros(sent.0 + 1000), &old));
    assert_eq!(j.class, Class::StaleVariant, "{j:?}");
    assert_eq!(
        j.staleness,
        Some(Micros(1_500_000)),
        "stale since the change"
    );
    // A change inside the request's window: both the old and the new page are fresh.
    let new = page_at(&w, v, changed);
    for tokens in [&old, &new] {
        let j = c.judge(&obs(
            v,
            Micros(changed.0 - 1000),
            Micros(changed.0 + 1000),
            tokens,
        ));
        assert_eq!(j.class, Class::Fresh);
    }
}

#[test]
fn another_visitors_arm_is_wrong_variant() {
    let w = world();
    let checker = Checker::new(&w);
    let t = Micros::from_secs(1);
    let arm = |v: u32| w.variants_of(v, Micros::ZERO).get(0);
    // A/B arms never change in this scenario, so the other arm was never this visitor's.
    let first = (0..200).find(|v| arm(*v) == Some(0)).unwrap();
    let second = (0..200)
        .find(|v| {
            arm(*v) == Some(1) && w.variants_of(*v, t).get(1) == w.variants_of(first, t).get(1)
        })
        .unwrap();
    let bs_page = page_at(&w, second, t);
    let verdict = checker.judge(&obs(first, t, t, &bs_page));
    assert_eq!(verdict.class, Class::WrongVariant, "{verdict:?}");
}

#[test]
fn an_old_version_after_a_publish_is_stale_content() {
    let w = world();
    let c = Checker::new(&w);
    let sent = Micros::from_secs(33);
    // A visitor whose country does not change between 29 s and 33 s.
    let v = (0..200u32)
        .find(|v| {
            w.changes(*v)
                .iter()
                .all(|ch| ch.at <= Micros::from_secs(29) || ch.at > sent)
        })
        .unwrap();
    let before = page_at(&w, v, Micros::from_secs(29));
    let j = c.judge(&obs(v, sent, Micros(sent.0 + 1000), &before));
    assert_eq!(j.class, Class::StaleContent, "{j:?}");
    assert_eq!(
        j.staleness,
        Some(Micros::from_secs(3)),
        "the publish at 30 s superseded it"
    );
    assert!(
        w.events()
            .iter()
            .any(|e| matches!(e.kind, EventKind::Publish { .. }) && e.at == Micros::from_secs(30))
    );
}

#[test]
fn other_identities_errors_and_fallbacks() {
    let w = world();
    let c = Checker::new(&w);
    let t = Micros::ZERO;
    let mut tokens = page_at(&w, 1, t);
    tokens.visitors.push(w.uid(2).to_string());
    assert_eq!(c.judge(&obs(1, t, t, &tokens)).class, Class::Leak);
    tokens.visitors = vec![w.uid(1).to_string()];
    assert_eq!(
        c.judge(&obs(1, t, t, &tokens)).class,
        Class::Fresh,
        "one's own greeting is fine"
    );
    let mut failed = obs(1, t, t, &tokens);
    failed.status = 503;
    assert_eq!(c.judge(&failed).class, Class::Error);
    let empty = Tokens::default();
    let j = c.judge(&obs(1, t, t, &empty));
    assert_eq!(j.class, Class::Error);
    assert!(j.detail.unwrap().contains("no content tokens"));
    let base = Tokens {
        entries: w
            .scenario()
            .content
            .entries
            .iter()
            .map(|e| EntryToken {
                entry: e.uid.clone(),
                variant: None,
                version: 1,
            })
            .collect(),
        visitors: Vec::new(),
    };
    let mut fb = obs(1, t, t, &base);
    fb.fallback = true;
    assert_eq!(c.judge(&fb).class, Class::Fallback);
    let future = Tokens {
        entries: vec![EntryToken {
            entry: "hero".into(),
            variant: page_at(&w, 1, t).entries[0].variant.clone(),
            version: 9,
        }],
        visitors: vec![],
    };
    assert_eq!(c.judge(&obs(1, t, t, &future)).class, Class::Error);
    let unknown = Tokens {
        entries: vec![EntryToken {
            entry: "nope".into(),
            variant: None,
            version: 1,
        }],
        visitors: vec![],
    };
    assert_eq!(c.judge(&obs(1, t, t, &unknown)).class, Class::Error);
}

#[test]
fn the_memo_path_judges_exactly_like_the_plain_one() {
    use rand::{Rng, SeedableRng};
    let w = world();
    let checker = Checker::new(&w);
    let mut memo = checker.memo();
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(9);
    let page = &w.scenario().content.pages[0];
    let mut classes = std::collections::BTreeMap::new();
    for _ in 0..20_000 {
        // A page rendered for some visitor at some time, judged for a visitor
        // (often the same one) over a window that may straddle changes.
        let owner = rng.random_range(0..200);
        let visitor = if rng.random_bool(0.7) {
            owner
        } else {
            rng.random_range(0..200)
        };
        let rendered = Micros(rng.random_range(0..60_000_000));
        let sent = Micros(rng.random_range(0..60_000_000));
        let received = Micros(sent.0 + rng.random_range(0..3_000_000));
        let truth = w.variants_of(owner, rendered);
        let entries: Vec<_> = page
            .entries
            .iter()
            .map(|e| {
                let served = w.served_variant(*e, &truth);
                (*e, served, w.entry_version(*e, served, rendered))
            })
            .collect();
        let plain = checker.judge_served(visitor, sent, received, &entries);
        let mask = w.page_experience_mask(0);
        let facts = checker.page_facts(&entries, truth.project(mask), mask);
        let memo_judged =
            checker.judge_served_memo(&mut memo, visitor, sent, received, &entries, &facts);
        assert_eq!(plain, memo_judged, "visitor {visitor} sent {sent:?}");
        *classes.entry(plain.class).or_insert(0) += 1;
    }
    // The draws reach every class the two paths could disagree on.
    for c in [
        Class::Fresh,
        Class::StaleVariant,
        Class::StaleContent,
        Class::WrongVariant,
        Class::Error,
    ] {
        assert!(
            classes.get(&c).copied().unwrap_or(0) > 0,
            "{c:?}: {classes:?}"
        );
    }
}
