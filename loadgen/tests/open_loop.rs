//! Open-loop real runs: the arrival-rate executor sends the schedule's
//! visits when they are due. When the server keeps up, the run holds the
//! planned rate; when it cannot, the visits that find the pool busy are
//! dropped and counted, and the ones sent are not delayed (their latency is
//! the server's, with no queue in front of it). And warm-up: left out of
//! the headline in both engines, kept in the series.

// Warm-up is whole seconds: exact comparisons.
#![allow(clippy::float_cmp)]

mod common;

use std::sync::Arc;

use common::three_pages;
use ttlab_loadgen::run::{Quiet, run};
use ttlab_loadgen::sim::simulate;
use ttlab_reports::{ArchReport, Report};
use ttlab_scenarios::{World, parse_str};
use ttlab_test_support::ScenarioToml;

fn world(toml: &str) -> Arc<World> {
    Arc::new(World::new(parse_str("open.toml", toml).expect("valid")))
}

/// Real runs one at a time: the tests of this file run in parallel, and
/// two runs on two cores would measure each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn real(world: &Arc<World>) -> Report {
    let _one = ONE_AT_A_TIME.lock().await;
    let archs = world.scenario().architectures.clone();
    run(world.clone(), &archs, &Quiet).await.expect("run")
}

fn only(r: &Report) -> &ArchReport {
    &r.architectures[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_run_holds_the_planned_rate_when_the_server_keeps_up() {
    let toml = three_pages(
        ScenarioToml::new("open-rate", 5, "8s").traffic_lines("visitors = 500\narrival_rate = 100"),
    )
    .archs(&["ssr-origin-variant"])
    .build();
    let w = world(&toml);
    let sim = simulate(&w, &w.scenario().architectures, None);
    let planned = only(&sim).arrivals.expect("open").planned;
    let report = real(&w).await;
    let a = only(&report);
    let arrivals = a.arrivals.expect("an open run counts its arrivals");
    println!(
        "planned {planned}, real planned {}, dropped {}, judged {}, pool {:?}",
        arrivals.planned, arrivals.dropped, a.requests, arrivals.pool
    );
    // The same seeded schedule in both engines.
    assert_eq!(
        arrivals.planned, planned,
        "both engines plan the same visits"
    );
    // Every planned visit sent and answered, within 2% (a stall of the
    // machine may make the pool miss a few, which are counted as dropped).
    let held = a.requests as f64 / planned as f64;
    assert!(
        (0.98..=1.0).contains(&held),
        "judged {} of {planned} planned ({held:.3}); {:?}",
        a.requests,
        a.warnings
    );
    assert_eq!(a.requests + arrivals.dropped, planned);
    assert_eq!(sim.architectures[0].requests, planned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_run_drops_visits_instead_of_slowing_down_when_the_server_cannot_keep_up() {
    // Every render waits 300 ms for Delivery; 4 goose users can hold at
    // most ~13 requests a second, and 60 a second are planned.
    let toml = three_pages(
        ScenarioToml::new("open-slow", 6, "5s")
            .traffic_lines("visitors = 500\narrival_rate = 60\npool = 4"),
    )
    .raw("[faults.delivery]\nlatency = \"300ms\"")
    .archs(&["ssr-nocache"])
    .build();
    let w = world(&toml);
    let sim = simulate(&w, &w.scenario().architectures, None);
    let report = real(&w).await;
    let a = only(&report);
    let c = a.arrivals.expect("open");
    assert_eq!(
        c.planned,
        only(&sim).arrivals.unwrap().planned,
        "every visit of the schedule planned, sent or dropped"
    );
    println!(
        "planned {}, dropped {}, judged {}, p50 {} ms, p99 {} ms, warnings {:?}",
        c.planned, c.dropped, a.requests, a.latency.all.p50_ms, a.latency.all.p99_ms, a.warnings
    );
    assert_eq!(c.pool, Some(4));
    // Most visits found the pool busy, and every one is accounted for:
    // sent (and judged, or in flight at the end) or dropped.
    assert!(
        c.dropped as f64 > 0.6 * c.planned as f64,
        "dropped {} of {}",
        c.dropped,
        c.planned
    );
    assert!(
        c.planned - c.dropped >= a.requests && c.planned - c.dropped <= a.requests + 4,
        "planned {} = judged {} + dropped {} (+ at most the pool in flight)",
        c.planned,
        a.requests,
        c.dropped
    );
    // Those sent were sent when due: their latency is the server's 300 ms,
    // not a queue's growing wait.
    assert!(a.latency.all.p50_ms >= 290.0, "{}", a.latency.all.p50_ms);
    assert!(a.latency.all.p99_ms < 600.0, "{}", a.latency.all.p99_ms);
    assert!(
        a.warnings.iter().any(|w| w.contains("dropped")),
        "{:?}",
        a.warnings
    );
}

/// A scenario whose caches start cold, with `warmup` seconds of warm-up.
fn warming(warmup: Option<&str>) -> String {
    let mut s = ScenarioToml::new("warmup", 7, "6s");
    if let Some(w) = warmup {
        s = s.head(&format!("warmup = {w:?}"));
    }
    three_pages(s.traffic_lines(
        "visitors = 200\nsession_rate = 20\npages_per_session = 3\nthink_time = \"50ms\"",
    ))
    .table("cache", r#"ttl = "10s""#)
    .archs(&["ssr-cdn-user"])
    .build()
}

fn check_warmup(with: &ArchReport, without: &ArchReport, warmup_s: usize) {
    // The series is the whole run either way (answers still on the wire
    // at the end may add a second).
    for a in [with, without] {
        assert!((6..=7).contains(&a.series.len()), "{:?}", a.series.len());
    }
    let after: u64 = with.series[warmup_s..].iter().map(|p| p.requests).sum();
    assert_eq!(with.requests, after, "headline = the series after warm-up");
    assert!(with.requests < without.requests);
    let (lw, lo) = (
        with.layer.as_ref().unwrap(),
        without.layer.as_ref().unwrap(),
    );
    assert!(
        lw.counts.requests() < lo.counts.requests(),
        "the layer's counts start after warm-up too"
    );
    // Cold misses were in the warm-up: the measured hit rate is higher.
    assert!(
        lw.hit_rate > lo.hit_rate,
        "hit rate with warm-up {} vs without {}",
        lw.hit_rate,
        lo.hit_rate
    );
}

#[test]
fn warmup_is_left_out_of_the_simulated_headline_and_kept_in_the_series() {
    let (w, o) = (world(&warming(Some("2s"))), world(&warming(None)));
    let with = simulate(&w, &w.scenario().architectures, None);
    let without = simulate(&o, &o.scenario().architectures, None);
    assert_eq!(with.warmup_s, 2.0);
    assert!(
        with.markers
            .iter()
            .any(|m| m.kind == "warmup" && m.t_s == 2.0)
    );
    // Same traffic: the same series second for second.
    let series = |r: &Report| r.architectures[0].series.clone();
    assert_eq!(series(&with), series(&without));
    check_warmup(only(&with), only(&without), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_is_left_out_of_the_real_headline_and_kept_in_the_series() {
    let (w, o) = (world(&warming(Some("2s"))), world(&warming(None)));
    let with = real(&w).await;
    let without = real(&o).await;
    assert_eq!(with.warmup_s, 2.0);
    check_warmup(only(&with), only(&without), 2);
}
