//! `--target URL --mocks URL`: an origin ttlab did not start, judged from its
//! pages alone, with truth timed by the mocks' own run clock.

use std::sync::Arc;

use ttlab_loadgen::run::{Quiet, run_target};
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::{SystemClock, World, parse_str};
use ttlab_ssr_origin::stack::start_stack;
use ttlab_ssr_origin::upstream::UpstreamConfig;

const SCENARIO: &str = r#"
[scenario]
name = "target-test"
seed = 8
duration = "2s"

[traffic]
visitors = 30
users = 6
think_time = "10ms"
pages_per_session = 3

[[attributes]]
name = "country"
values = { US = 50, DE = 50 }

[[experiences]]
uid = "g"
type = "segmented"

[[experiences.variants]]
uid = "0"
audience = { attribute = "country", in = ["DE"] }

[content]

[[content.entries]]
uid = "banner"
content_type = "banner"
variants_for = ["g"]

[[content.pages]]
path = "/"
entries = ["banner"]

[[timeline]]
action = "attribute_change"
attribute = "country"
mean_interval = "1s"

[[architectures]]
name = "ssr-cdn-user"
cache = { ttl = "1m" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_origin_is_judged_from_its_pages() {
    let world = Arc::new(World::new(parse_str("target.toml", SCENARIO).unwrap()));
    // "The user's app": mocks started long before the run, and an origin behind a
    // per-visitor CDN pointed at them — as `ttlab serve mocks` plus their own stack.
    let clock = Arc::new(SystemClock::starting_now());
    let mocks = ttlab_mock_apis::start(world.clone(), clock.clone(), MockConfig::default())
        .await
        .unwrap();
    let s = world.scenario();
    let upstream =
        UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
    let app = start_stack(
        world.clone(),
        clock,
        &s.architectures[0],
        upstream,
        "127.0.0.1".parse().unwrap(),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let report = run_target(
        world.clone(),
        &app.entry_url,
        &mocks.personalize_url,
        &Quiet,
    )
    .await
    .unwrap();
    let a = &report.architectures[0];
    assert!(a.name.starts_with("target http://127.0.0.1:"), "{}", a.name);
    assert!(a.requests > 50, "{}", a.requests);
    assert_eq!(a.classes.values().sum::<u64>(), a.requests);
    assert_eq!(a.class("error"), 0, "{:?}", a.classes);
    assert_eq!(a.class("wrong_variant"), 0, "{:?}", a.classes);
    assert!(
        a.class("stale_variant") > 0,
        "a per-visitor cache with a 1 m TTL goes stale as countries change: {:?}",
        a.classes
    );
    assert!(
        a.latency.hit.count > 0,
        "HIT answers recognised from x-cache"
    );
    assert!(
        a.origin.personalize_calls > 0,
        "the mocks' calls, read from their /metrics"
    );
    // Both readings kept, for `ttlab merge` of workers sharing the mocks.
    let m = a
        .mock_counters
        .as_ref()
        .expect("the mocks' counters before and after");
    assert_eq!(a.origin, m.after.combine(&m.before, u64::saturating_sub));
    assert!(a.layer.is_none());

    let wrong = run_target(world.clone(), &app.entry_url, "http://127.0.0.1:9", &Quiet).await;
    assert!(
        wrong
            .unwrap_err()
            .to_string()
            .contains("cannot reach the mocks")
    );
    app.shutdown().await;
    mocks.shutdown().await;
}
