//! `--target URL --mocks URL`: an origin ttlab did not start, judged from its
//! pages alone, with truth timed by the mocks' own run clock.

use std::sync::Arc;
use std::time::Duration;

use ttlab_loadgen::run::{Quiet, run_target};
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::{Clock, Micros, SystemClock};
use ttlab_test_support::mocks::{start_arch, start_mocks, world};
use ttlab_test_support::scenario::audience_in;
use ttlab_test_support::{ScenarioToml, wait_until_async};

fn scenario() -> String {
    ScenarioToml::new("target-test", 8, "2s")
        .traffic(30, 6)
        .traffic_lines("think_time = \"10ms\"\npages_per_session = 3")
        .attribute("country", &[("US", 50), ("DE", 50)])
        .segmented("g", &[("0", &audience_in("country", &["DE"]))])
        .entry("banner", "banner", &["g"])
        .page("/", &["banner"])
        .attribute_change("country", "1s")
        .arch_with("ssr-cdn-user", r#"cache = { ttl = "1m" }"#)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_origin_is_judged_from_its_pages() {
    let world = world(&scenario());
    // "The user's app": mocks started long before the run, and an origin behind a
    // per-visitor CDN pointed at them — as `ttlab serve mocks` plus their own stack.
    let clock = Arc::new(SystemClock::starting_now());
    let mocks = start_mocks(&world, clock.clone(), MockConfig::default()).await;
    let app = start_arch(&world, clock.clone(), &mocks, 0).await;
    // The run must time truth by the mocks' clock, not one of its own
    // starting at zero: let the mocks' clock get well ahead first.
    wait_until_async(
        Duration::from_secs(5),
        "the mocks' clock passed 500 ms",
        async || clock.now() >= Micros::from_millis(500),
    )
    .await;

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
