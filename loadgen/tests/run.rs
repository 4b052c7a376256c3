//! `ttlab run` end to end on a small scenario: goose users, every
//! architecture's servers on loopback, every response judged.

mod common;

use std::sync::Arc;

use common::three_pages;
use ttlab_loadgen::run::{Quiet, run};
use ttlab_reports::ArchReport;
use ttlab_scenarios::{World, parse_str};
use ttlab_test_support::ScenarioToml;

fn scenario(cdn_user_ttl: &str) -> String {
    let base = ScenarioToml::new("run-test", 21, "3s")
        .traffic(60, 12)
        .zipf_sessions("5ms", "20ms", 4);
    three_pages(base)
        .attribute_change("country", "2s")
        .table("cache", r#"ttl = "1m""#)
        .archs(&["ssr-cdn-shared"])
        .arch_with(
            "ssr-cdn-user",
            &format!("cache = {{ ttl = {cdn_user_ttl:?} }}"),
        )
        .archs(&["ssr-origin-variant", "ssr-edge", "ssr-nocache"])
        .build()
}

fn conserve(a: &ArchReport) {
    let sum: u64 = a.classes.values().sum();
    assert_eq!(sum, a.requests, "{}: requests = sum of classes", a.name);
    let per_second: u64 = a.series.iter().map(|p| p.requests).sum();
    assert_eq!(
        per_second, a.requests,
        "{}: the series adds up to the totals",
        a.name
    );
    assert!(
        a.series.len() >= 3,
        "{}: a point per second of a 3 s run: {}",
        a.name,
        a.series.len()
    );
    let renders: u64 = a.series.iter().map(|p| p.origin.renders).sum();
    assert!(
        renders <= a.origin.renders,
        "{}: origin load per second within the total",
        a.name
    );

    assert!(
        a.requests > 100,
        "{}: the run made requests ({})",
        a.name,
        a.requests
    );
    if let Some(l) = &a.layer {
        assert_eq!(
            l.counts.requests(),
            a.requests,
            "{}: every request passed the caching layer once",
            a.name
        );
    }
    assert_eq!(a.class("error"), 0, "{}: {:?}", a.name, a.classes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_architecture_shows_what_it_gets_wrong() {
    let world = Arc::new(World::new(parse_str("run.toml", &scenario("1m")).unwrap()));
    let archs = world.scenario().architectures.clone();
    let report = run(world.clone(), &archs, &Quiet).await.unwrap();
    assert_eq!(report.mode, "real");
    assert!(!report.interrupted);
    let by = |n: &str| report.architectures.iter().find(|a| a.name == n).unwrap();
    for a in &report.architectures {
        conserve(a);
        assert!(
            a.generator_cpu > 0.0 && a.generator_cpu <= 1.2,
            "{}: the generator runs on one thread: {}",
            a.name,
            a.generator_cpu
        );
        assert!(
            a.process_cpu >= a.generator_cpu * 0.5,
            "{}: the process includes the generator",
            a.name
        );

        assert!(
            a.attribute_updates > 0,
            "{}: attribute changes were sent",
            a.name
        );
    }
    let shared = by("ssr-cdn-shared");
    assert!(shared.class("wrong_variant") > 0, "{:?}", shared.classes);
    let user = by("ssr-cdn-user");
    assert!(
        user.class("stale_variant") > 0,
        "attributes change within the TTL: {:?}",
        user.classes
    );
    for n in ["ssr-origin-variant", "ssr-edge"] {
        let a = by(n);
        assert_eq!(a.class("wrong_variant"), 0, "{n}: {:?}", a.classes);
        assert_eq!(a.class("stale_variant"), 0, "{n}: {:?}", a.classes);
        assert!(
            a.layer.as_ref().unwrap().hit_rate > 0.3,
            "{n} hits: {:?}",
            a.layer
        );
    }
    let none = by("ssr-nocache");
    assert_eq!(
        none.origin.renders, none.requests,
        "no cache: one render per request"
    );
    assert!(none.layer.is_none());
    assert!(
        none.offload.abs() < f64::EPSILON,
        "no cache offloads nothing: {}",
        none.offload
    );
    assert_eq!(none.class("fresh"), none.requests);
    let json = serde_json::to_string(&report).unwrap();
    let back: ttlab_reports::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report, "the report round-trips through JSON");

    // The same visitors with a TTL of 0 at the per-visitor CDN: never stale.
    let world = Arc::new(World::new(parse_str("run.toml", &scenario("0s")).unwrap()));
    let user0 = world.scenario().architectures[1].clone();
    let report = run(world, &[user0], &Quiet).await.unwrap();
    let a = &report.architectures[0];
    conserve(a);
    assert_eq!(a.class("stale_variant"), 0, "{:?}", a.classes);
    assert_eq!(a.layer.as_ref().unwrap().counts.hits, 0);
}
