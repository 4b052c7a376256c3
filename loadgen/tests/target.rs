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

/// Mocks started from another seed or another version of the file tell
/// every visitor a different truth: the run refuses them, naming what
/// differs, before a single page is judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocks_of_another_seed_or_file_are_refused() {
    let world = world(&scenario());
    let clock = Arc::new(SystemClock::starting_now());
    let mocks = start_mocks(&world, clock.clone(), MockConfig::default()).await;

    let other_seed = ttlab_test_support::mocks::world(&scenario().replace("seed = 8", "seed = 9"));
    assert_eq!(other_seed.scenario().seed, 9, "the seed line was replaced");
    let err = run_target(
        other_seed,
        "http://127.0.0.1:9",
        &mocks.personalize_url,
        &Quiet,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("with seed 8, this file has seed 9"),
        "names both seeds: {err}"
    );

    let edited = ttlab_test_support::mocks::world(&format!("{}\n# edited\n", scenario()));
    let err = run_target(edited, "http://127.0.0.1:9", &mocks.personalize_url, &Quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("another version of scenario \"target-test\""),
        "names the scenario: {err}"
    );
    mocks.shutdown().await;
}

/// Mocks whose clock is past the scenario's timeline have played every
/// change: the run still measures, and says so on its report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocks_past_the_timeline_are_warned_about() {
    let toml = scenario().replace("duration = \"2s\"", "duration = \"1s\"");
    let world = world(&toml);
    assert_eq!(world.scenario().duration, Micros::from_secs(1));
    let started = std::time::Instant::now()
        .checked_sub(Duration::from_secs(30))
        .unwrap();
    let clock = Arc::new(SystemClock::starting_at(started));
    let mocks = start_mocks(&world, clock.clone(), MockConfig::default()).await;
    let app = start_arch(&world, clock.clone(), &mocks, 0).await;
    let report = run_target(
        world.clone(),
        &app.entry_url,
        &mocks.personalize_url,
        &Quiet,
    )
    .await
    .unwrap();
    let warnings = &report.architectures[0].warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("past the scenario's 1 s timeline")),
        "{warnings:?}"
    );
    app.shutdown().await;
    mocks.shutdown().await;
}
