//! Real runs on a shared Redis cache: several origin replicas
//! sharing one Redis store hit as one origin does, and a Redis that dies
//! mid-run costs visitors nothing — the layer bypasses it, the report says
//! when and how much, and caching resumes when Redis returns.
//!
//! A real `redis-server` on a free port (`scripts/test.sh` installs it).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::three_pages;
use ttlab_loadgen::run::{Quiet, run};
use ttlab_reports::{ArchReport, Report};
use ttlab_scenarios::{World, parse_str};
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::redis::RedisServer;

/// A small site with an A/B test and a segment, attribute changes and a
/// publish with purge, on `url`'s Redis with `replicas` origin replicas.
fn scenario(url: &str, replicas: u32, duration: &str, archs: &[&str]) -> String {
    let base = ScenarioToml::new("redis-replicas-test", 77, duration)
        .traffic(80, 12)
        .zipf_sessions("5ms", "20ms", 4);
    let cache = format!(
        "ttl = \"1m\"\npurge_on_publish = true\nbackend = \"redis\"\nredis_url = {url:?}\norigin_replicas = {replicas}"
    );
    three_pages(base)
        .attribute_change("country", "3s")
        .publish("footer", "1500ms")
        .table("cache", &cache)
        .archs(archs)
        .build()
}

async fn run_on(toml: &str) -> Report {
    let world = Arc::new(World::new(
        parse_str("redis.toml", toml).unwrap_or_else(|e| panic!("{e}")),
    ));
    let archs = world.scenario().architectures.clone();
    run(world, &archs, &Quiet).await.expect("the run completes")
}

fn hit_rate(a: &ArchReport) -> f64 {
    a.layer.as_ref().expect("a caching layer").hit_rate
}

/// Nothing a visitor saw was wrong or an error.
fn all_correct(a: &ArchReport) {
    for class in ["wrong_variant", "leak", "error"] {
        assert_eq!(a.class(class), 0, "{}: {class} in {:?}", a.name, a.classes);
    }
    assert!(a.requests > 200, "{}: only {} requests", a.name, a.requests);
}

/// The same scenario and seed on one origin and on three replicas sharing
/// Redis: the same hit rate within 2 points, at the origin's own cache and
/// at an edge in front of the replicas. With three, some fills are other
/// replicas' (the cross-replica lock) and nobody sees a wrong page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_redis_hit_as_one_origin_does() {
    let server = RedisServer::start();
    let archs = ["ssr-origin-variant", "ssr-edge"];
    let one = run_on(&scenario(&server.url(), 1, "3s", &archs)).await;
    let three = run_on(&scenario(&server.url(), 3, "3s", &archs)).await;
    for (a, b) in one.architectures.iter().zip(&three.architectures) {
        all_correct(a);
        all_correct(b);
        assert_eq!(a.origin_replicas, 1);
        assert_eq!(b.origin_replicas, 3);
        let (la, lb) = (a.layer.as_ref().unwrap(), b.layer.as_ref().unwrap());
        assert_eq!(la.backend.as_deref(), Some("redis"));
        assert_eq!(lb.backend.as_deref(), Some("redis"));
        assert_eq!(
            lb.counts.store_errors, 0,
            "{}: Redis answered throughout",
            b.name
        );
        assert!(lb.store_outages.is_empty());
        let (ha, hb) = (hit_rate(a), hit_rate(b));
        eprintln!(
            "{}: hit rate {:.2}% on one origin, {:.2}% on three replicas ({} remote fills, {} purged)",
            a.name,
            ha * 100.0,
            hb * 100.0,
            lb.counts.remote_fills,
            lb.counts.purged
        );
        assert!(
            (ha - hb).abs() <= 0.02,
            "{}: {:.2}% vs {:.2}%",
            a.name,
            ha * 100.0,
            hb * 100.0
        );
        assert!(ha > 0.5, "{}: the cache works at all ({ha})", a.name);
        assert!(lb.counts.purged > 0, "{}: the publish purged Redis", b.name);
    }
    // Behind the origin's own cache, three replicas really shared it: about
    // as many renders as one origin (three private caches would render
    // each key up to three times).
    let (r1, r3) = (
        one.architectures[0].origin.renders,
        three.architectures[0].origin.renders,
    );
    eprintln!("origin renders: {r1} on one origin, {r3} on three replicas");
    assert!(
        r3 * 2 <= r1 * 3 + 20,
        "{r3} renders on three replicas vs {r1} on one: the replicas share entries"
    );
    // The stacks' namespaces are gone from Redis afterwards.
    assert_eq!(server.dbsize(), 0, "every stack cleared its keys");
}

/// Redis killed about 1 s into a 6 s run through two origin replicas (2.5 s
/// after the test starts: the run's clock starts once goose's users are
/// up, about 1.2 s in) and started again 1.2 s later on its port: every visitor still gets a correct page
/// (no error), the report counts the requests that bypassed the cache and
/// the outage's window, and the cache hits again after Redis returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_costs_visitors_nothing_and_the_report_says_so() {
    let mut server = RedisServer::start();
    let port = server.port();
    let toml = scenario(&server.url(), 2, "6s", &["ssr-origin-variant"]);
    let chaos = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2_500));
        server.kill();
        std::thread::sleep(Duration::from_millis(1_200));
        RedisServer::start_on(port)
    });
    let report = run_on(&toml).await;
    let _server = chaos.join().expect("the chaos thread");
    let a = &report.architectures[0];
    all_correct(a);
    let l = a.layer.as_ref().unwrap();
    eprintln!(
        "store errors {}, bypassed {}, outages {:?}, hit rate {:.1}%",
        l.counts.store_errors,
        l.counts.store_bypass,
        l.store_outages,
        l.hit_rate * 100.0
    );
    assert!(
        l.counts.store_bypass > 0,
        "requests bypassed the dead store"
    );
    assert!(l.counts.store_errors > 0);
    assert!(l.counts.store_bypass <= l.counts.bypass);
    assert_eq!(l.store_outages.len(), 1, "{:?}", l.store_outages);
    let o = &l.store_outages[0];
    // Goose's start-up varies with the machine's load: the outage's place
    // on the run clock does too, its length much less.
    assert!((0.2..3.5).contains(&o.from_s), "down from {}", o.from_s);
    let until = o.until_s.expect("Redis came back within the run");
    assert!(
        (0.8..3.0).contains(&(until - o.from_s)) && until < 6.0,
        "down from {} to {until} (killed, then restarted 1.2 s later)",
        o.from_s
    );
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("redis store was unavailable")),
        "{:?}",
        a.warnings
    );
    // After the outage the cache answers again: the last full second
    // served from it.
    let last = &a.series[a.series.len().saturating_sub(2)];
    assert!(
        last.from_cache > 0,
        "hits after Redis returned: {:?}",
        a.series
            .iter()
            .map(|p| (p.t_s, p.requests, p.from_cache))
            .collect::<Vec<_>>()
    );
    // And the JSON says it all, for `ttlab report` and friends.
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"store_outages\""));
    assert!(json.contains("\"store_bypass\""));
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}
