//! A real run and a simulated run of the same closed-loop scenario agree on
//! hit rate and stale-variant rate.

use std::sync::Arc;

use ttlab_loadgen::run::{Quiet, run};
use ttlab_loadgen::sim::simulate;
use ttlab_scenarios::{World, parse_str};

const SCENARIO: &str = r#"
[scenario]
name = "agreement"
seed = 31
duration = "12s"

[traffic]
visitors = 80
users = 16
think_time = { min = "40ms", max = "120ms" }
pages_per_session = 5
popularity = "zipf"
zipf_s = 1.0

[[attributes]]
name = "country"
values = { US = 50, DE = 30, FR = 20 }

[[experiences]]
uid = "0"
type = "ab"
splits = { "0" = 50, "1" = 50 }

[[experiences]]
uid = "g"
type = "segmented"

[[experiences.variants]]
uid = "0"
audience = { attribute = "country", in = ["DE"] }

[[experiences.variants]]
uid = "1"
audience = { attribute = "country", in = ["FR"] }

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
path = "/geo"
entries = ["banner"]

[[content.page_sets]]
path = "/p/{i}"
count = 6
content_type = "product"
shared_entries = ["banner"]

[[timeline]]
action = "attribute_change"
attribute = "country"
mean_interval = "4s"

[[architectures]]
name = "ssr-origin-variant"
cache = { ttl = "2s" }

[[architectures]]
name = "ssr-cdn-user"
cache = { ttl = "3s" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_and_simulated_runs_agree_within_two_points() {
    let world = Arc::new(World::new(parse_str("agreement.toml", SCENARIO).unwrap()));
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
