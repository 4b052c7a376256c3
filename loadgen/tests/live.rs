//! The live view's frames: watching a simulation changes nothing
//! in its report, and the frames add up to the report's totals.

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ttlab_loadgen::check::Class;
use ttlab_loadgen::live::{LayerCounts, Live};
use ttlab_loadgen::sim::{SimControl, simulate_with};
use ttlab_scenarios::{World, parse_str, shipped};
use ttlab_test_support::wait_until;

fn world(name: &str) -> Arc<World> {
    let src = shipped::get(name).unwrap().source;
    Arc::new(World::new(parse_str("s.toml", src).unwrap()))
}

#[test]
fn a_watched_simulation_reports_the_same_bytes_and_its_frames_add_up() {
    for name in ["quickstart", "flash-sale"] {
        let w = world(name);
        let archs = w.scenario().architectures.clone();
        let plain = simulate_with(&w, &archs, None, &SimControl::default());
        let live = Arc::new(Live::new());
        let watched = simulate_with(&w, &archs, None, &SimControl::with_live(live.clone()));
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            serde_json::to_string(&watched).unwrap(),
            "{name}: a sink must not change the report"
        );
        let frames = live.take();
        assert_eq!(live.current_arch(), Some(archs.len() - 1));
        for (i, a) in watched.architectures.iter().enumerate() {
            let mine: Vec<_> = frames.iter().filter(|f| f.arch == i).collect();
            // One frame per second, in order, covering the whole run.
            let seconds: Vec<u32> = mine.iter().map(|f| f.second).collect();
            let want: Vec<u32> = (0..seconds.len() as u32).collect();
            assert_eq!(seconds, want, "{name} {}", a.name);
            assert!(seconds.len() as f64 >= w.scenario().duration.as_secs_f64());
            let requests: u64 = mine.iter().map(|f| f.requests()).sum();
            assert_eq!(requests, a.requests, "{name} {}", a.name);
            for class in Class::ALL {
                let framed: u64 = mine.iter().map(|f| f.classes[class.index()]).sum();
                assert_eq!(
                    framed,
                    a.class(class.as_str()),
                    "{name} {} {class:?}",
                    a.name
                );
            }
            let renders: u64 = mine.iter().map(|f| f.origin.renders).sum();
            assert_eq!(renders, a.origin.renders);
            let origin: u64 = mine.iter().map(|f| f.origin.requests).sum();
            assert_eq!(origin, a.origin.requests);
            let p: u64 = mine.iter().map(|f| f.origin.personalize_calls).sum();
            assert_eq!(p, a.origin.personalize_calls);
            let d: u64 = mine.iter().map(|f| f.origin.delivery_calls).sum();
            assert_eq!(d, a.origin.delivery_calls);
            let latency: u64 = mine
                .iter()
                .map(|f| f.latency_hit.len() + f.latency_miss.len())
                .sum();
            assert_eq!(latency, a.requests);
            let stale: u64 = mine.iter().map(|f| f.staleness.len()).sum();
            assert_eq!(stale, a.staleness.count);
            match &a.layer {
                Some(l) => {
                    let mut sum = LayerCounts::default();
                    for f in &mine {
                        sum.add(&f.layer.expect("a caching layer"));
                    }
                    assert_eq!(
                        (sum.hits, sum.stale, sum.misses, sum.bypass),
                        (
                            l.counts.hits,
                            l.counts.stale,
                            l.counts.misses,
                            l.counts.bypass
                        ),
                        "{name} {}",
                        a.name
                    );
                }
                None => assert!(mine.iter().all(|f| f.layer.is_none())),
            }
        }
    }
}

#[test]
fn a_paused_simulation_waits_and_a_stop_ends_it() {
    // Big enough (2 M requests) to reach the engine's checks.
    let src = include_str!("../../scripts/bench/sim.toml");
    let w = Arc::new(World::new(parse_str("sim.toml", src).unwrap()));
    let archs = w.scenario().architectures.clone();
    let live = Arc::new(Live::new());
    let control = SimControl::with_live(live.clone());
    control.set_paused(true);
    assert!(control.paused());
    std::thread::scope(|s| {
        let run = s.spawn(|| simulate_with(&w, &archs, None, &control));
        // Paused at its first check, which reports the first 4,096 events'
        // progress before it waits.
        wait_until(Duration::from_secs(10), "the first check", || {
            control.progress_us() > 0
        });
        let at = control.progress_us();
        // What is under test is that time passes without progress: this
        // sleep is the time.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(control.progress_us(), at, "paused means no progress");
        assert!(!run.is_finished());
        control.stop();
        let report = run.join().unwrap();
        assert!(report.interrupted);
    });
}
