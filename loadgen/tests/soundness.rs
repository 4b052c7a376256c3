//! Property 1 of the cache property suite, at the level users see it: on generated small
//! scenarios (visitors, A/B and segmented experiences, attribute changes,
//! experience switches and split changes, publishes, upstream faults, cache
//! options), the simulator — which runs the real cache rules and the real
//! checker on virtual time — never judges an answer of `ssr-origin-variant`,
//! `ssr-edge`, `ssr-cdn-user` (or `ssr-nocache`) `wrong_variant` or `leak`;
//! under `ssr-cdn-shared` with two variants in play the checker does find
//! wrong variants; every layer's outcomes add up to its requests; and a
//! layer with ttl 0 and no stale windows never answers from the cache.
//!
//! The checker itself is held to a plain reference: a page built from one
//! visitor's truth, served to another, is judged exactly as the truth over
//! time says.

use std::fmt::Write as _;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use ttlab_loadgen::check::{Checker, Class, Observation};
use ttlab_loadgen::sim::simulate_arch;
use ttlab_reports::ArchReport;
use ttlab_scenarios::model::Architecture;
use ttlab_scenarios::token::{EntryToken, Tokens};
use ttlab_scenarios::world::EventKind;
use ttlab_scenarios::{Micros, World, parse_str};

fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// An experience of a generated site.
#[derive(Clone, Debug)]
enum Exp {
    /// A/B with these relative weights (2 or 3 variants).
    Ab(Vec<u8>),
    /// Segmented: variant i for visitors in country `i`-th of the list.
    Segmented(Vec<&'static str>),
}

/// A timeline rule of a generated site (times in tenths of the duration).
#[derive(Clone, Debug)]
enum Rule {
    /// Country changes at this rate per second across the population.
    Moves(u8),
    /// A share (percent) of visitors moves at once.
    Storm { at: u8, percent: u8 },
    /// Experience `exp` switches on or off.
    Switch { exp: usize, at: u8, on: bool },
    /// An A/B experience's splits change (weights).
    Splits {
        exp: usize,
        at: u8,
        weights: Vec<u8>,
    },
    /// An entry (or, with `variant`, the hero's variant 1 of experience 0)
    /// is published.
    Publish { entry: usize, at: u8, variant: bool },
}

/// A generated site: everything a scenario file says.
#[derive(Clone, Debug)]
struct Site {
    seed: u64,
    seconds: u32,
    visitors: u32,
    /// Open loop at this rate per second, or closed loop with this many users.
    load: Result<u32, u32>,
    experiences: Vec<Exp>,
    rules: Vec<Rule>,
    /// Error rates of Personalize and Delivery, in percent.
    faults: (u8, u8),
    /// ttl, swr, sie in seconds; coalesce; purge on publish; page scope;
    /// max entries.
    cache: (u8, u8, u8, bool, bool, bool, Option<u8>),
}

const COUNTRIES: [&str; 3] = ["US", "DE", "FR"];
const ENTRIES: [&str; 4] = ["hero", "banner", "footer", "greeting"];

fn percent(weights: &[u8]) -> Vec<u32> {
    let total: u32 = weights.iter().map(|w| u32::from(*w)).sum();
    let mut p: Vec<u32> = weights
        .iter()
        .map(|w| u32::from(*w) * 100 / total)
        .collect();
    p[0] += 100 - p.iter().sum::<u32>();
    p
}

fn splits(weights: &[u8]) -> String {
    let p = percent(weights);
    let items: Vec<String> = p
        .iter()
        .enumerate()
        .map(|(i, v)| format!("\"{i}\" = {v}"))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

impl Site {
    fn at(&self, tenth: u8) -> String {
        format!("{}ms", u32::from(tenth) * self.seconds * 100)
    }

    /// The scenario file.
    fn toml(&self) -> String {
        let mut s = String::new();
        let w = &mut s;
        let _ = write!(
            w,
            "[scenario]\nname = \"generated\"\nseed = {}\nduration = \"{}s\"\n\n[traffic]\nvisitors = {}\n",
            self.seed, self.seconds, self.visitors
        );
        match self.load {
            Ok(rate) => {
                let _ = writeln!(w, "arrival_rate = {rate}.0");
            }
            Err(users) => {
                let _ = writeln!(
                    w,
                    "users = {users}\nthink_time = {{ min = \"20ms\", max = \"200ms\" }}"
                );
            }
        }
        let _ = write!(
            w,
            "\n[[attributes]]\nname = \"country\"\nvalues = {{ US = 50, DE = 30, FR = 20 }}\n"
        );
        for (i, e) in self.experiences.iter().enumerate() {
            match e {
                Exp::Ab(weights) => {
                    let _ = write!(
                        w,
                        "\n[[experiences]]\nuid = \"e{i}\"\ntype = \"ab\"\nsplits = {}\n",
                        splits(weights)
                    );
                }
                Exp::Segmented(countries) => {
                    let _ = write!(
                        w,
                        "\n[[experiences]]\nuid = \"e{i}\"\ntype = \"segmented\"\n"
                    );
                    for (v, c) in countries.iter().enumerate() {
                        let _ = write!(
                            w,
                            "\n[[experiences.variants]]\nuid = \"{v}\"\naudience = {{ attribute = \"country\", in = [\"{c}\"] }}\n"
                        );
                    }
                }
            }
        }
        let last = self.experiences.len() - 1;
        let _ = write!(
            w,
            "\n[content]\n\n[[content.entries]]\nuid = \"hero\"\ncontent_type = \"hero\"\nvariants_for = [\"e0\"]\n\n\
             [[content.entries]]\nuid = \"banner\"\ncontent_type = \"banner\"\nvariants_for = [\"e{last}\"]\n\n\
             [[content.entries]]\nuid = \"footer\"\ncontent_type = \"footer\"\n\n\
             [[content.entries]]\nuid = \"greeting\"\ncontent_type = \"greeting\"\n\n\
             [[content.pages]]\npath = \"/\"\nentries = [\"hero\", \"banner\", \"footer\"]\n\n\
             [[content.pages]]\npath = \"/promo\"\nentries = [\"banner\"]\n\n\
             [[content.pages]]\npath = \"/account\"\nentries = [\"greeting\", \"hero\"]\nvisitor_fragment = true\n\n\
             [[content.pages]]\npath = \"/about\"\nentries = [\"footer\"]\n"
        );
        self.timeline(w);
        let (p, d) = self.faults;
        let _ = write!(
            w,
            "\n[faults.personalize]\nlatency = {{ p50 = \"3ms\", p99 = \"30ms\" }}\nerror_rate = {}\n\n\
             [faults.delivery]\nlatency = {{ p50 = \"5ms\", p99 = \"50ms\" }}\nerror_rate = {}\n",
            f64::from(p) / 100.0,
            f64::from(d) / 100.0
        );
        let (ttl, swr, sie, coalesce, purge, page, max) = self.cache;
        let _ = write!(
            w,
            "\n[cache]\nttl = \"{ttl}s\"\nstale_while_revalidate = \"{swr}s\"\nstale_if_error = \"{sie}s\"\n\
             coalesce = {coalesce}\npurge_on_publish = {purge}\nkey_scope = \"{}\"\n",
            if page { "page" } else { "all" }
        );
        if let Some(m) = max {
            let _ = writeln!(w, "max_entries = {m}");
        }
        for a in [
            "ssr-nocache",
            "ssr-cdn-shared",
            "ssr-cdn-user",
            "ssr-origin-variant",
            "ssr-edge",
        ] {
            let _ = write!(w, "\n[[architectures]]\nname = \"{a}\"\n");
        }
        s
    }

    /// The `[[timeline]]` rules.
    fn timeline(&self, w: &mut String) {
        for r in &self.rules {
            let _ = write!(w, "\n[[timeline]]\n");
            match r {
                Rule::Moves(rate) => {
                    let _ = writeln!(
                        w,
                        "action = \"attribute_change\"\nattribute = \"country\"\nrate = {rate}.0"
                    );
                }
                Rule::Storm { at, percent } => {
                    let _ = writeln!(
                        w,
                        "action = \"attribute_change\"\nattribute = \"country\"\nat = \"{}\"\nfraction = {}",
                        self.at(*at),
                        f64::from(*percent) / 100.0
                    );
                }
                Rule::Switch { exp, at, on } => {
                    let action = if *on { "activate" } else { "deactivate" };
                    let _ = writeln!(
                        w,
                        "action = \"{action}\"\nexperience = \"e{exp}\"\nat = \"{}\"",
                        self.at(*at)
                    );
                }
                Rule::Splits { exp, at, weights } => {
                    let _ = writeln!(
                        w,
                        "action = \"set_splits\"\nexperience = \"e{exp}\"\nat = \"{}\"\nsplits = {}",
                        self.at(*at),
                        splits(weights)
                    );
                }
                Rule::Publish { entry, at, variant } => {
                    let _ = writeln!(
                        w,
                        "action = \"publish\"\nentry = \"{}\"\nat = \"{}\"",
                        ENTRIES[*entry],
                        self.at(*at)
                    );
                    if *variant {
                        let _ = writeln!(w, "variant = \"e0_1\"");
                    }
                }
            }
        }
    }

    fn world(&self) -> Arc<World> {
        let toml = self.toml();
        Arc::new(World::new(
            parse_str("generated.toml", &toml).unwrap_or_else(|e| panic!("{e}\n{toml}")),
        ))
    }
}

fn exp() -> impl Strategy<Value = Exp> {
    prop_oneof![
        prop::collection::vec(1u8..=10, 2..=3).prop_map(Exp::Ab),
        prop::sample::subsequence(COUNTRIES.to_vec(), 1..=2).prop_map(Exp::Segmented),
    ]
}

fn site() -> impl Strategy<Value = Site> {
    (
        any::<u64>(),
        4u32..=12,
        5u32..=40,
        prop_oneof![(10u32..=150).prop_map(Ok), (2u32..=12).prop_map(Err)],
        prop::collection::vec(exp(), 1..=3),
    )
        .prop_flat_map(|(seed, seconds, visitors, load, experiences)| {
            let n = experiences.len();
            let ab: Vec<usize> = (0..n)
                .filter(|i| matches!(experiences[*i], Exp::Ab(_)))
                .collect();
            let rule = prop_oneof![
                (1u8..=5).prop_map(Rule::Moves),
                (0u8..10, 5u8..=60).prop_map(|(at, percent)| Rule::Storm { at, percent }),
                (0..n, 0u8..10, any::<bool>()).prop_map(|(exp, at, on)| Rule::Switch {
                    exp,
                    at,
                    on
                }),
                (0..4usize, 0u8..10, any::<bool>()).prop_map(|(entry, at, variant)| {
                    Rule::Publish {
                        entry,
                        at,
                        variant: variant && entry == 0,
                    }
                }),
            ];
            let splits = if ab.is_empty() {
                Just(Vec::new()).boxed()
            } else {
                prop::collection::vec(
                    (
                        prop::sample::select(ab),
                        0u8..10,
                        prop::collection::vec(1u8..=10, 3),
                    ),
                    0..2,
                )
                .boxed()
            };
            (
                Just((seed, seconds, visitors, load)),
                Just(experiences),
                prop::collection::vec(rule, 0..5),
                splits,
                (0u8..=20, 0u8..=20),
                (
                    prop_oneof![1 => Just(0u8), 3 => 1u8..=20],
                    prop_oneof![2 => Just(0u8), 1 => 1u8..=5],
                    prop_oneof![2 => Just(0u8), 1 => 1u8..=5],
                    any::<bool>(),
                    any::<bool>(),
                    any::<bool>(),
                    prop::option::of(1u8..=4),
                ),
            )
        })
        .prop_map(
            |((seed, seconds, visitors, load), experiences, mut rules, splits, faults, cache)| {
                for (exp, at, weights) in splits {
                    // As many weights as the experience has variants.
                    let Exp::Ab(w) = &experiences[exp] else {
                        unreachable!()
                    };
                    rules.push(Rule::Splits {
                        exp,
                        at,
                        weights: weights[..w.len()].to_vec(),
                    });
                }
                // Variant "1" of experience 0 exists only with two variants.
                let two = match &experiences[0] {
                    Exp::Ab(w) => w.len() >= 2,
                    Exp::Segmented(c) => c.len() >= 2,
                };
                for r in &mut rules {
                    if let Rule::Publish { variant, .. } = r {
                        *variant &= two;
                    }
                }
                // Each user of a closed loop plays at least one visitor.
                let visitors = match load {
                    Err(users) => visitors.max(users),
                    Ok(_) => visitors,
                };
                Site {
                    seed,
                    seconds,
                    visitors,
                    load,
                    experiences,
                    rules,
                    faults,
                    cache,
                }
            },
        )
}

fn layer_adds_up(r: &ArchReport) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        r.classes.values().sum::<u64>(),
        r.requests,
        "{}: classes",
        r.name
    );
    if let Some(l) = &r.layer {
        prop_assert_eq!(
            l.counts.requests(),
            r.requests,
            "{}: layer outcomes",
            r.name
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn correct_architectures_never_serve_wrong_variants_or_leak(site in site()) {
        let world = world_of(&site);
        for arch in &world.scenario().architectures {
            let r = simulate_arch(&world, arch);
            layer_adds_up(&r)?;
            if arch.arch != Architecture::CdnShared {
                prop_assert_eq!(r.class("wrong_variant"), 0, "{}:\n{}", r.name, site.toml());
                prop_assert_eq!(r.class("leak"), 0, "{}:\n{}", r.name, site.toml());
            }
            let w = &arch.cache;
            if arch.arch.caches() && w.ttl == Micros::ZERO && w.stale_while_revalidate == Micros::ZERO && w.stale_if_error == Micros::ZERO {
                let l = r.layer.as_ref().expect("a caching layer reports");
                prop_assert_eq!(l.counts.hits + l.counts.stale, 0, "{}: ttl 0 answered from the cache", r.name);
            }
        }
    }

    #[test]
    fn a_shared_cache_with_two_variants_in_play_is_caught(site in shared_site()) {
        let world = world_of(&site);
        // Both arms of experience 0 among the visitors, from start to end.
        let arms: std::collections::BTreeSet<_> = (0..world.visitor_count())
            .filter_map(|v| world.variants_of(v, Micros::ZERO).get(0))
            .collect();
        prop_assume!(arms.len() >= 2);
        let shared = world
            .scenario()
            .architectures
            .iter()
            .find(|a| a.arch == Architecture::CdnShared)
            .unwrap();
        let r = simulate_arch(&world, shared);
        layer_adds_up(&r)?;
        prop_assert!(r.class("wrong_variant") > 0, "the checker never fired:\n{}", site.toml());
    }
}

fn world_of(site: &Site) -> Arc<World> {
    site.world()
}

/// A site where a shared cache must mix variants: experience 0 is A/B,
/// never switched or re-split, the home page (which shows its hero) is
/// requested often enough, and entries live the whole run.
fn shared_site() -> impl Strategy<Value = Site> {
    site().prop_map(|mut s| {
        s.experiences[0] = Exp::Ab(vec![1, 1]);
        s.rules
            .retain(|r| !matches!(r, Rule::Switch { exp: 0, .. } | Rule::Splits { exp: 0, .. }));
        s.seconds = s.seconds.max(8);
        s.visitors = s.visitors.max(20);
        s.load = Ok(100);
        s.cache.0 = 60;
        s.cache.6 = None;
        s
    })
}

/// The plain reference for the checker: the served entries' variants of a
/// page for visitor `u`'s truth at `t`.
fn served_for(world: &World, page: usize, u: u32, t: Micros) -> Vec<EntryToken> {
    let truth = world.variants_of(u, t);
    world.scenario().content.pages[page]
        .entries
        .iter()
        .map(|e| {
            let served = world.served_variant(*e, &truth);
            EntryToken {
                entry: world.scenario().content.entries[*e as usize].uid.clone(),
                variant: served.map(|r| world.alias(r)),
                version: world.entry_version(*e, served, t),
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_checker_judges_another_visitors_page_as_the_truth_says(
        site in site(),
        u in any::<prop::sample::Index>(),
        v in any::<prop::sample::Index>(),
        page in 0usize..4,
        tenth in 0u32..10,
        identity in any::<bool>(),
    ) {
        let world = site.world();
        let n = world.visitor_count() as usize;
        let (u, v) = (u.index(n) as u32, v.index(n) as u32);
        let t = Micros(u64::from(tenth * site.seconds) * 100_000);
        let page_def = &world.scenario().content.pages[page];
        let mut tokens = Tokens { entries: served_for(&world, page, v, t), visitors: Vec::new() };
        if identity && page_def.visitor_fragment {
            tokens.visitors.push(world.uid(v).to_string());
        }
        let got = Checker::new(&*world).judge(&Observation {
            visitor: u,
            sent: t,
            received: t,
            status: 200,
            fallback: false,
            tokens: &tokens,
        });
        // The reference: u's truth is constant between its attribute
        // changes and the experience changes; look at each such instant.
        let mut instants: Vec<Micros> = world.changes(u)
            .iter()
            .map(|c| c.at)
            .chain(world.events().iter().filter(|e| {
                matches!(e.kind, EventKind::SetActive { .. } | EventKind::SetSplits { .. })
            }).map(|e| e.at))
            .filter(|at| *at < t)
            .collect();
        instants.push(Micros::ZERO);
        let variants_of = |toks: &[EntryToken]| -> Vec<Option<String>> {
            toks.iter().map(|e| e.variant.clone()).collect()
        };
        let served = variants_of(&tokens.entries);
        let want = if identity && page_def.visitor_fragment && u != v {
            Class::Leak
        } else if served == variants_of(&served_for(&world, page, u, t)) {
            Class::Fresh
        } else if instants.iter().any(|s| served == variants_of(&served_for(&world, page, u, *s))) {
            Class::StaleVariant
        } else {
            Class::WrongVariant
        };
        prop_assert_eq!(got.class, want, "visitor {} shown visitor {}'s page {} at {:?}: {:?}", u, v, page, t, got);
    }
}

#[test]
fn found_a_request_that_waits_for_a_background_refresh_is_answered() {
    // ttl 0 with stale-while-revalidate: a request serves stale and starts
    // a refresh; the next, past the window, finds the refresh in flight and
    // waits for it (coalescing). The simulator used to index its waiter
    // list with "none" here and panic.
    let site = Site {
        seed: 10_044_421_233_856_382_598,
        seconds: 12,
        visitors: 36,
        load: Ok(137),
        experiences: vec![Exp::Ab(vec![4, 7, 4]), Exp::Ab(vec![1, 5, 2])],
        rules: Vec::new(),
        faults: (0, 0),
        cache: (0, 1, 0, true, false, false, Some(1)),
    };
    let world = site.world();
    for arch in &world.scenario().architectures {
        let r = simulate_arch(&world, arch);
        assert_eq!(r.classes.values().sum::<u64>(), r.requests, "{}", r.name);
    }
}
