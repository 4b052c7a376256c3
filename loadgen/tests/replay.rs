//! A trace replayed by both engines: the simulator judges exactly the
//! trace's requests on the trace's pages, and a real run on loopback sends
//! every one of them at its instant, sped up, with the trace's shape.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use ttlab_loadgen::run::{Quiet, run};
use ttlab_loadgen::sim::simulate;
use ttlab_reports::ArchReport;
use ttlab_scenarios::World;
use ttlab_scenarios::model::Load;
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::process::fresh_dir;

/// The world of `scenario`, written into `dir` beside the trace it names.
fn world(dir: &Path, scenario: &ScenarioToml) -> Arc<World> {
    let path = dir.join("replay.toml");
    std::fs::write(&path, scenario.build()).unwrap();
    let s = ttlab_scenarios::load(&path).unwrap_or_else(|e| panic!("{e}: {:?}", e.diagnostics()));
    Arc::new(World::new(s))
}

fn trace_len(world: &World) -> usize {
    match &world.scenario().traffic.load {
        Load::Trace(r) => r.requests.len(),
        other => panic!("not a replay: {other:?}"),
    }
}

/// Pages of one, two and three entries (`/one`, `/two`, `/three`), so the
/// Delivery calls of an uncached run tell how often each was asked; no
/// render time and no upstream latency, so a request is answered in the
/// virtual second it was sent.
fn site(s: ScenarioToml) -> ScenarioToml {
    s.entry("a", "hero", &[])
        .entry("b", "banner", &[])
        .entry("c", "footer", &[])
        .page("/one", &["a"])
        .page("/two", &["a", "b"])
        .page("/three", &["a", "b", "c"])
        .table("origin", r#"render_time = "0s""#)
}

#[test]
fn the_simulator_judges_each_request_of_the_trace_on_its_page() {
    let dir = fresh_dir("replay-sim-pages");
    // 60 s of trace: /one 3 times a second, /two twice, /three once (its
    // query dropped), then 40 requests past the 60 s the scenario lasts.
    let mut csv = String::from("time,path,visitor\n");
    let mut per_second = vec![0u64; 60];
    for s in 0..60u32 {
        for (k, path) in ["/one", "/two", "/one", "/three?ref=x", "/two", "/one"]
            .iter()
            .enumerate()
        {
            writeln!(csv, "{s}.{k},{path},v{}", (s as usize * 6 + k) % 37).unwrap();
            per_second[s as usize] += 1;
        }
    }
    for i in 0..40 {
        writeln!(csv, "{},/three,late{i}", 60 + i).unwrap();
    }
    std::fs::write(dir.join("pages.csv"), csv).unwrap();
    let w = world(
        &dir,
        &site(ScenarioToml::new("replay-pages", 5, "60s"))
            .traffic_lines("visitors = 50\ntrace = \"pages.csv\"")
            .archs(&["ssr-nocache"]),
    );
    assert_eq!(trace_len(&w), 360, "the 40 requests past 60 s are cut");
    let report = simulate(&w, &w.scenario().architectures, None);
    let a = &report.architectures[0];
    assert_eq!(a.requests, 360, "every request of the trace, no more");
    let arrivals = a.arrivals.as_ref().expect("an open schedule");
    assert_eq!((arrivals.planned, arrivals.dropped), (360, 0));
    assert_eq!(a.class("fresh"), 360, "{:?}", a.classes);
    // Uncached: each request renders its page, one Delivery call an entry.
    assert_eq!(a.origin.renders, 360);
    assert_eq!(a.origin.personalize_calls, 360);
    assert_eq!(
        a.origin.delivery_calls,
        60 * (3 + 2 * 2 + 3),
        "/one 3 a second, /two 2, /three 1"
    );
    assert_eq!(
        a.series.iter().map(|p| p.requests).collect::<Vec<_>>(),
        per_second,
        "each second as many as the trace has"
    );
}

/// A trace of Poisson arrivals at `rate` for `secs` seconds, all for `/two`,
/// from 1,000 visitors.
fn poisson_trace(rate: f64, secs: f64, seed: u64) -> (String, u64) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut csv = String::from("time,path,visitor\n");
    let (mut t, mut n) = (0.0, 0);
    loop {
        t += -(1.0 - rng.random::<f64>()).ln() / rate;
        if t >= secs {
            return (csv, n);
        }
        writeln!(csv, "{t:.6},/two,v{}", rng.random_range(0..1_000)).unwrap();
        n += 1;
    }
}

#[test]
fn a_trace_of_one_page_hits_as_one_key_does() {
    // One key with TTL T under Poisson arrivals at λ: each miss is followed
    // by λT hits on average, so the hit rate is λT / (1 + λT).
    let dir = fresh_dir("replay-sim-one-key");
    let (rate, ttl, secs) = (10.0, 0.5, 4_000.0);
    let (csv, n) = poisson_trace(rate, secs, 9);
    std::fs::write(dir.join("one-page.csv"), csv).unwrap();
    let w = world(
        &dir,
        &site(ScenarioToml::new("replay-one-key", 5, &format!("{secs}s")))
            .traffic_lines("visitors = 1000\ntrace = \"one-page.csv\"")
            .arch_with(
                "ssr-origin-variant",
                &format!("cache = {{ ttl = \"{ttl}s\", coalesce = true }}"),
            ),
    );
    let report = simulate(&w, &w.scenario().architectures, None);
    let a = &report.architectures[0];
    assert_eq!(a.requests, n, "every request of the trace");
    let layer = a.layer.as_ref().unwrap();
    let x: f64 = rate * ttl;
    let expected = x / (1.0 + x);
    // Four standard errors of a proportion over n requests, widened by
    // √(1 + λT) because hits come in runs after each miss.
    let tolerance = 4.0 * (expected * (1.0 - expected) / n as f64).sqrt() * (1.0 + x).sqrt();
    assert!(
        (layer.hit_rate - expected).abs() <= tolerance,
        "hit rate {:.4}, expected {expected:.4} ± {tolerance:.4} over {n} requests",
        layer.hit_rate
    );
    // Only /two was asked: two Delivery calls per fill, none for the others.
    assert_eq!(a.origin.delivery_calls, 2 * a.origin.renders);
    assert_eq!(
        a.origin.renders,
        layer.counts.misses - layer.counts.coalesced
    );
}

/// Requests the trace has in `[from, to)` seconds of the run.
fn in_window(report: &ArchReport, from: usize, to: usize) -> u64 {
    report.series[from..to].iter().map(|p| p.requests).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_run_sends_every_request_of_a_sped_up_trace_in_its_shape() {
    let dir = fresh_dir("replay-real");
    // 20 s of trace time: 100 requests in the first 10 s, then a burst of
    // 300 in the next 10. At speed 4 that is 5 s of run: 40 requests a
    // second, then 120.
    let mut csv = String::from("time,path,visitor\n");
    for i in 0..100 {
        writeln!(csv, "{:.3},/one,v{}", f64::from(i) * 0.1, i % 23).unwrap();
    }
    for i in 0..300 {
        let path = ["/one", "/two", "/three"][i % 3];
        writeln!(csv, "{:.3},{path},v{}", 10.0 + i as f64 / 30.0, i % 41).unwrap();
    }
    std::fs::write(dir.join("burst.csv"), csv).unwrap();
    // The run lasts 6 s, the trace 5 s of it: the last requests are not
    // racing the end of the run.
    let w = world(
        &dir,
        &site(ScenarioToml::new("replay-real", 5, "6s"))
            .traffic_lines("visitors = 50\ntrace = \"burst.csv\"\nspeed = 4")
            .archs(&["ssr-origin-variant"]),
    );
    assert_eq!(trace_len(&w), 400);
    let archs = w.scenario().architectures.clone();
    let started = std::time::Instant::now();
    let report = run(w.clone(), &archs, &Quiet).await.unwrap();
    let took = started.elapsed();
    let a = &report.architectures[0];
    let arrivals = a.arrivals.as_ref().expect("an open schedule");
    assert_eq!(
        (a.requests, arrivals.planned, arrivals.dropped),
        (400, 400, 0),
        "every request sent, none dropped: {:?}, warnings {:?}",
        a.classes,
        a.warnings
    );
    assert_eq!(a.class("error"), 0, "{:?}", a.classes);
    assert!(a.series.len() >= 5, "a point a second: {}", a.series.len());
    // The trace's shape at four times its speed: 40 a second in the
    // run's first 2.5 s, 120 in its last 2.5 s. Answers take milliseconds,
    // so a few may land in the next second.
    let per_second: Vec<u64> = a.series.iter().map(|p| p.requests).collect();
    let (calm, burst) = (in_window(a, 0, 2), in_window(a, 3, 5));
    assert!(
        (70..=90).contains(&calm) && (220..=260).contains(&burst),
        "40/s then 120/s: first two seconds {calm}, last two {burst} ({per_second:?})"
    );
    assert_eq!(
        in_window(a, 5, a.series.len()),
        0,
        "nothing after the trace's 5 s: {per_second:?}"
    );
    assert!(
        took < std::time::Duration::from_secs(15),
        "the run took {took:?}"
    );
    // The simulator replays the same schedule: with no latency, each
    // request in the second it was planned.
    let sim = simulate(&w, &archs, None);
    let simulated: Vec<u64> = sim.architectures[0]
        .series
        .iter()
        .map(|p| p.requests)
        .collect();
    assert_eq!(simulated[..5], [40, 40, 80, 120, 120], "{simulated:?}");
    assert_eq!(sim.architectures[0].requests, 400);
}
