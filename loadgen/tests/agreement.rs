//! A real run and a simulated run of the same closed-loop scenario agree on
//! hit rate and stale-variant rate.

use std::sync::Arc;

use ttlab_loadgen::run::{Quiet, run};
use ttlab_loadgen::sim::simulate;
use ttlab_scenarios::{World, parse_str};
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::scenario::audience_in;

fn scenario() -> String {
    let (de, fr) = (
        audience_in("country", &["DE"]),
        audience_in("country", &["FR"]),
    );
    ScenarioToml::new("agreement", 31, "12s")
        .traffic(80, 16)
        .zipf_sessions("40ms", "120ms", 5)
        .attribute("country", &[("US", 50), ("DE", 30), ("FR", 20)])
        .ab("0", &[("0", 50), ("1", 50)])
        .segmented("g", &[("0", &de), ("1", &fr)])
        .entry("hero", "hero", &["0"])
        .entry("banner", "banner", &["g"])
        .page("/", &["hero", "banner"])
        .page("/geo", &["banner"])
        .page_set_with("/p/{i}", 6, "product", r#"shared_entries = ["banner"]"#)
        .attribute_change("country", "4s")
        .arch_with("ssr-origin-variant", r#"cache = { ttl = "2s" }"#)
        .arch_with("ssr-cdn-user", r#"cache = { ttl = "3s" }"#)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_and_simulated_runs_agree_within_two_points() {
    let world = Arc::new(World::new(
        parse_str("agreement.toml", &scenario()).unwrap(),
    ));
    let archs = world.scenario().architectures.clone();
    let real = run(world.clone(), &archs, &Quiet).await.unwrap();
    let sim = simulate(&world, &archs, None);
    for (r, s) in real.architectures.iter().zip(&sim.architectures) {
        let hr = |a: &ttlab_reports::ArchReport| a.layer.as_ref().unwrap().hit_rate;
        println!(
            "{}: hit rate real {:.4} sim {:.4}; stale_variant real {:.4} sim {:.4}; requests {} / {}",
            r.name,
            hr(r),
            hr(s),
            r.rate("stale_variant"),
            s.rate("stale_variant"),
            r.requests,
            s.requests
        );
        assert!(
            (hr(r) - hr(s)).abs() <= 0.02,
            "{}: hit rate real {:.4} vs sim {:.4}",
            r.name,
            hr(r),
            hr(s)
        );
        assert!(
            (r.rate("stale_variant") - s.rate("stale_variant")).abs() <= 0.02,
            "{}: stale_variant real {:.4} vs sim {:.4}",
            r.name,
            r.rate("stale_variant"),
            s.rate("stale_variant")
        );
    }
}
