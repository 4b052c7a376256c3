//! The checker on real responses: pages served by each architecture's
//! servers on loopback, judged from their content tokens alone.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::AUDIENCE;
use ttlab_loadgen::check::{Checker, Class, Observation};
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::{Clock, ManualClock, Micros, World, parse_str, token};
use ttlab_ssr_origin::stack::start_stack;
use ttlab_ssr_origin::upstream::UpstreamConfig;

const SCENARIO_HEAD: &str = r#"
[scenario]
name = "judged"
seed = 11
duration = "60s"

[traffic]
visitors = 40
users = 1

"#;

const SCENARIO_CONTENT: &str = r#"
[content]

[[content.entries]]
uid = "hero"
content_type = "hero"
variants_for = ["0"]

[[content.entries]]
uid = "banner"
content_type = "banner"
variants_for = ["g"]

[[content.pages]]
path = "/"
entries = ["hero", "banner"]

[[content.pages]]
path = "/account"
entries = ["banner"]
visitor_fragment = true

[cache]
ttl = "10m"

[[architectures]]
name = "ssr-cdn-shared"

[[architectures]]
name = "ssr-cdn-user"

[[architectures]]
name = "ssr-origin-variant"

[[architectures]]
name = "ssr-edge"
"#;

/// Every visitor requests every page once at t = 1 s; the classes counted.
async fn judge_arch(arch: usize) -> BTreeMap<Class, usize> {
    let world = Arc::new(World::new(
        parse_str(
            "judged.toml",
            &[SCENARIO_HEAD, AUDIENCE, SCENARIO_CONTENT].concat(),
        )
        .unwrap(),
    ));
    let clock = Arc::new(ManualClock::at(Micros::from_secs(1)));
    let mocks = ttlab_mock_apis::start(world.clone(), clock.clone(), MockConfig::default())
        .await
        .unwrap();
    let s = world.scenario();
    let upstream =
        UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
    let stack = start_stack(
        world.clone(),
        clock.clone(),
        &s.architectures[arch],
        upstream,
        "127.0.0.1".parse().unwrap(),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let checker = Checker::new(world.clone());
    let mut classes = BTreeMap::new();
    for (v, visitor) in world.visitors().iter().enumerate() {
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
