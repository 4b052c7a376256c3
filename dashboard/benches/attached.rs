//! What watching costs: the simulator's requests per second on
//! `scripts/bench/sim.toml` (2,000,000 requests of `ssr-origin-variant`)
//! alone, and with a [`Live`] sink attached and a watcher thread that folds
//! the frames into a `DashState` and draws the overview to a 160×48
//! `TestBackend` five times a second, as the dashboard does.
//!
//! `cargo bench -p ttlab-dashboard --bench attached`; numbers in
//! `docs/performance.md`.

#![allow(missing_docs)] // criterion's macros write undocumented items

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ttlab_dashboard::app::REDRAW;
use ttlab_dashboard::{DashState, Facts, Mode};
use ttlab_loadgen::live::Live;
use ttlab_loadgen::sim::{SimControl, simulate_with};
use ttlab_scenarios::World;

const SCENARIO: &str = include_str!("../../scripts/bench/sim.toml");

fn attached(c: &mut Criterion) {
    let scenario =
        ttlab_scenarios::parse_str("scripts/bench/sim.toml", SCENARIO).expect("valid scenario");
    let world = Arc::new(World::new(scenario));
    let archs = world.scenario().architectures.clone();
    let requests =
        simulate_with(&world, &archs, None, &SimControl::default()).architectures[0].requests;
    let names: Vec<String> = archs.iter().map(|a| a.arch.as_str().to_owned()).collect();

    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    g.bench_function("without dashboard", |b| {
        b.iter(|| black_box(simulate_with(&world, &archs, None, &SimControl::default())));
    });
    // Only the simulation is timed; the watcher runs beside it the whole
    // time and is wound down outside the measurement.
    g.bench_function("with dashboard", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let live = Arc::new(Live::new());
                let control = SimControl::with_live(live.clone());
                let done = AtomicBool::new(false);
                std::thread::scope(|s| {
                    let watcher = s.spawn(|| watch(&world, &names, &live, &done));
                    let started = Instant::now();
                    let report = simulate_with(&world, &archs, None, &control);
                    total += started.elapsed();
                    done.store(true, Ordering::Relaxed);
                    let draws = watcher.join().expect("watcher");
                    assert!(draws > 0);
                    black_box(report);
                });
            }
            total
        });
    });
    g.finish();
}

/// Folds frames and draws the overview every [`REDRAW`] until `done`, as
/// the dashboard's loop does; returns how many screens it drew.
fn watch(world: &World, names: &[String], live: &Live, done: &AtomicBool) -> u32 {
    let facts = Facts::of_world(world, names.to_vec(), Mode::Sim);
    let mut state = DashState::new(facts);
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    let mut draws = 0;
    while !done.load(Ordering::Relaxed) {
        state.apply(live.take());
        term.draw(|f| ttlab_dashboard::views::draw(f, &state))
            .expect("draw");
        draws += 1;
        let next = Instant::now() + REDRAW;
        while Instant::now() < next && !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    draws
}

criterion_group!(benches, attached);
criterion_main!(benches);
