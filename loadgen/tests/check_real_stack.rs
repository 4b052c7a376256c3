//! The checker on real responses: pages served by each architecture's
//! servers on loopback, judged from their content tokens alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use ttlab_loadgen::check::{Checker, Class, Observation};
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::{Clock, ManualClock, Micros, token};
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::mocks::{start_arch, start_mocks, world};

fn scenario() -> String {
    ScenarioToml::new("judged", 11, "60s")
        .traffic(40, 1)
        .audience()
        .entry("hero", "hero", &["0"])
        .entry("banner", "banner", &["g"])
        .page("/", &["hero", "banner"])
        .visitor_page("/account", &["banner"])
        .table("cache", r#"ttl = "10m""#)
        .archs(&[
            "ssr-cdn-shared",
            "ssr-cdn-user",
            "ssr-origin-variant",
            "ssr-edge",
        ])
        .build()
}

/// Every visitor requests every page once at t = 1 s; the classes counted.
async fn judge_arch(arch: usize) -> BTreeMap<Class, usize> {
    let world = world(&scenario());
    let clock = Arc::new(ManualClock::at(Micros::from_secs(1)));
    let mocks = start_mocks(&world, clock.clone(), MockConfig::default()).await;
    let stack = start_arch(&world, clock.clone(), &mocks, arch).await;
    let http = reqwest::Client::new();
    let checker = Checker::new(world.clone());
    let mut classes = BTreeMap::new();
    for (v, visitor) in (0..world.visitor_count()).map(|v| (v as usize, world.visitor(v))) {
        for path in ["/", "/account"] {
            let resp = http
                .get(format!("{}{path}", stack.entry_url))
                .header("cookie", format!("cs-personalize-user-uid={}", visitor.uid))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let fallback = resp.headers().contains_key("x-ttlab-fallback");
            let body = resp.text().await.unwrap();
            let tokens = token::parse(&body);
            let now = clock.now();
            let j = checker.judge(&Observation {
                visitor: v as u32,
                sent: now,
                received: now,
                status,
                fallback,
                tokens: &tokens,
            });
            *classes.entry(j.class).or_insert(0) += 1;
        }
    }
    stack.shutdown().await;
    mocks.shutdown().await;
    classes
}

#[tokio::test]
async fn shared_cdn_serves_wrong_variants_and_the_keyed_architectures_do_not() {
    let shared = judge_arch(0).await;
    assert!(
        shared.get(&Class::WrongVariant).copied().unwrap_or(0) > 0,
        "{shared:?}"
    );
    assert_eq!(
        shared.get(&Class::Leak),
        None,
        "per-visitor pages are private, so even the shared CDN does not leak: {shared:?}"
    );
    for arch in [1, 2, 3] {
        let classes = judge_arch(arch).await;
        assert_eq!(
            classes.get(&Class::Fresh),
            Some(&80),
            "architecture {arch}: {classes:?}"
        );
    }
}
