//! Every shipped scenario, shortened, runs the same in the simulator and
//! for real: hit rate, `stale_variant`, `stale_content` and `wrong_variant` agree
//! within 2 percentage points for each architecture.
//!
//! The real runs follow HTTP (`policy = "http"`: the origin states the
//! scenario's windows in `Cache-Control` and the CDN and edge obey the
//! headers), the simulator applies the scenario's windows itself, and the
//! simulator gives the same report under either policy: so the two policies
//! give the same numbers, simulated and real. (`agreement.rs` compares real
//! runs under the scenario policy with the simulator.)
//!
//! Shortened to keep CI bounded: each scenario's run is cut to
//! [`FACTOR`] of its length (but not under [`MIN_SECONDS`], or its own
//! length if shorter), and its timeline (instants, windows, rate-curve
//! stages) is scaled by the same factor so every change still happens
//! inside the run. Both engines run the shortened file, so the comparison
//! is exact in what it asks: the same scenario, the same seed, two engines.
//!
//! Why not shorter: `flash-sale` purges every page many times within a
//! fraction of a second under the Delivery rate limit. Compressed to 6 or
//! 8 s, the burst tips the origin into a storm of 429s whose end is
//! chaotic: three real runs at 8 s measured hit rates of 59.7%, 61.2% and
//! 63.4% (60.4% to 69.0% at the edge) around the simulator's 61.4%, a
//! spread no two-point bound holds on one run. At 12 s the same scenario
//! stays out of the storm, and real runs agree with each other and with
//! the simulator within a point.

use std::sync::Arc;

use ttlab_loadgen::run::{Quiet, run};
use ttlab_loadgen::sim::simulate;
use ttlab_reports::ArchReport;
use ttlab_scenarios::model::{ArchitectureConfig, CachePolicy};
use ttlab_scenarios::shipped::SHIPPED;
use ttlab_scenarios::{World, parse_str};
use ttlab_test_support::redis::RedisServer;
use ttlab_test_support::shorten::shortened;

use super::compare;

/// How much of each scenario's length the shortened run keeps.
const FACTOR: f64 = 0.3;

/// The shortest shortened run (a scenario shorter than this keeps its length).
const MIN_SECONDS: f64 = 6.0;

/// The largest difference allowed on each measure.
const TOLERANCE: f64 = 0.02;

/// `archs` with every cache following HTTP headers.
fn following_http(archs: &[ArchitectureConfig]) -> Vec<ArchitectureConfig> {
    let mut out = archs.to_vec();
    for a in &mut out {
        a.cache.policy = CachePolicy::Http;
    }
    out
}

fn measures(a: &ArchReport) -> [(&'static str, Option<f64>); 4] {
    [
        ("hit rate", a.layer.as_ref().map(|l| l.hit_rate)),
        ("stale_variant", Some(a.rate("stale_variant"))),
        ("stale_content", Some(a.rate("stale_content"))),
        ("wrong_variant", Some(a.rate("wrong_variant"))),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_scenario_agrees_between_the_simulator_and_a_real_run() {
    // The Redis scenario's replicas share a real Redis.
    let redis = RedisServer::start();
    let mut failures = Vec::new();
    let mut compared = 0;
    for shipped in SHIPPED {
        let text = shortened(shipped.source, FACTOR, MIN_SECONDS)
            .replace("redis://127.0.0.1:6379", &redis.url());
        let scenario = parse_str(shipped.path, &text)
            .unwrap_or_else(|e| panic!("{}: shortened: {e}", shipped.name));
        let world = Arc::new(World::new(scenario));
        let archs = world.scenario().architectures.clone();
        let sim = simulate(&world, &archs, None);
        let http = following_http(&archs);
        let sim_http = simulate(&world, &http, None);
        assert_eq!(
            serde_json::to_value(&sim_http).expect("report json"),
            serde_json::to_value(&sim).expect("report json"),
            "{}: the simulator gives the same report under policy = \"http\"",
            shipped.name
        );
        let real = run(world.clone(), &http, &Quiet).await.expect("real run");
        for (r, s) in real.architectures.iter().zip(&sim.architectures) {
            let mut line = format!(
                "{:18} {:18} requests real {:5} sim {:5}",
                shipped.name, r.name, r.requests, s.requests
            );
            for ((what, rv), (_, sv)) in measures(r).into_iter().zip(measures(s)) {
                let (Some(rv), Some(sv)) = (rv, sv) else {
                    continue;
                };
                compared += 1;
                if let Some(d) = compare(&mut line, what, (rv, sv), ("real", "sim"), TOLERANCE) {
                    failures.push(format!("{} {}: {d}", shipped.name, r.name));
                }
            }
            println!("{line}");
        }
    }
    assert!(compared >= 60, "compared {compared} measures");
    assert!(
        failures.is_empty(),
        "{} of {compared} measures differ by more than {} points:\n{}",
        failures.len(),
        TOLERANCE * 100.0,
        failures.join("\n")
    );
}
