//! The simulator replaying a trace, and reading traces.
//!
//! `cargo bench -p ttlab-loadgen --bench replay` writes a trace of
//! 2,000,000 requests once into a temporary folder (20,000 a second of
//! Poisson arrivals for about 100 s, pages by Zipf popularity over the 201
//! pages of `scripts/bench/sim.toml`, 10,000 visitor ids), loads the
//! benchmark scenario with its `[traffic]` replaced by `trace = …` (the
//! file read and mapped once, outside the timed loop, its time printed),
//! then times the simulator of `ssr-origin-variant` replaying it on one
//! thread: criterion's "elements" are simulated requests. The same
//! scenario's Poisson arrivals are the `sim` bench; comparing the two in one
//! session gives the cost of replaying over drawing.
//!
//! Two more groups time reading a trace alone (`ttlab_traffic::trace::read`,
//! 200,000 lines each of CSV and of a combined access log): elements are
//! lines. Numbers and how they were taken: `docs/performance.md`.

#![allow(missing_docs)] // criterion's macros write undocumented items

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_distr::{Exp1, Zipf};
use rand_pcg::Pcg64Mcg;
use ttlab_loadgen::sim::simulate_arch;
use ttlab_scenarios::World;
use ttlab_scenarios::model::Load;
use ttlab_traffic::trace::{self, Columns, Format, TimeUnit};

const SCENARIO: &str = include_str!("../../scripts/bench/sim.toml");

/// Requests in the replayed trace: as many as the `sim` bench simulates.
const REQUESTS: u64 = 2_000_000;

/// Lines in each trace the reading benches read.
const READ_LINES: u64 = 200_000;

/// A folder of this run's own for the generated traces.
fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttlab-bench-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// The paths of `scripts/bench/sim.toml`'s pages, in content order.
fn paths() -> Vec<String> {
    std::iter::once("/".to_owned())
        .chain((0..200).map(|i| format!("/products/{i}")))
        .collect()
}

/// `n` requests as (microseconds, page index, visitor): Poisson arrivals
/// at 20,000 a second, Zipf (s = 1) pages, uniform visitors.
fn requests(n: u64) -> impl Iterator<Item = (u64, usize, u32)> {
    let mut rng = Pcg64Mcg::seed_from_u64(2026);
    let zipf = Zipf::new(201.0, 1.0).expect("a Zipf law");
    let mut t = 1_700_000_000_000_000.0_f64;
    (0..n).map(move |_| {
        t += rng.sample::<f64, _>(Exp1) * 50.0;
        let page = rng.sample(zipf) as usize - 1;
        (t as u64, page, rng.random_range(0..10_000))
    })
}

/// Writes the CSV trace of `n` requests (`time` in µs, `path`, `visitor`)
/// and returns its path and the last request's offset in seconds.
fn write_csv(dir: &Path, n: u64) -> (PathBuf, f64) {
    let paths = paths();
    let mut text = String::with_capacity(n as usize * 40);
    text.push_str("time,path,visitor\n");
    let (mut first, mut last) = (None, 0);
    for (t, page, visitor) in requests(n) {
        first.get_or_insert(t);
        last = t;
        let _ = writeln!(text, "{t},{},v{visitor}", paths[page]);
    }
    let file = dir.join(format!("trace-{n}.csv"));
    std::fs::write(&file, text).expect("the trace written");
    (file, (last - first.unwrap_or(last)) as f64 / 1e6)
}

/// Writes a combined access log of `n` requests.
fn write_access_log(dir: &Path, n: u64) -> PathBuf {
    let paths = paths();
    let mut text = String::with_capacity(n as usize * 120);
    for (t, page, visitor) in requests(n) {
        let secs = t / 1_000_000;
        let stamp = chrono_free_stamp(secs);
        let _ = writeln!(
            text,
            r#"10.{}.{}.{} - - [{stamp}] "GET {} HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (bench)""#,
            visitor / 65_536,
            visitor / 256 % 256,
            visitor % 256,
            paths[page]
        );
    }
    let file = dir.join(format!("access-{n}.log"));
    std::fs::write(&file, text).expect("the log written");
    file
}

/// `[30/Nov/2026:HH:MM:SS +0000]`'s text for a time's seconds (the day is
/// fixed: the bench spans minutes).
fn chrono_free_stamp(secs: u64) -> String {
    let s = secs % 86_400;
    format!(
        "30/Nov/2026:{:02}:{:02}:{:02} +0000",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The benchmark scenario with its traffic replaced by a replay of `trace`
/// lasting `duration_s`.
fn replay_world(trace: &Path, duration_s: f64) -> Arc<World> {
    let traffic = "arrival_rate = 20000.0\npopularity = \"zipf\"\nzipf_s = 1.0";
    assert!(SCENARIO.contains(traffic), "sim.toml's traffic changed");
    let source = SCENARIO
        .replace(
            traffic,
            &format!(
                "trace = {:?}\ntrace_columns = {{ time_unit = \"us\" }}",
                trace.display().to_string()
            ),
        )
        .replace(
            "duration = \"100s\"",
            &format!("duration = \"{}s\"", duration_s.ceil() + 1.0),
        );
    let started = Instant::now();
    let scenario = ttlab_scenarios::parse_str("scripts/bench/replay.toml", &source)
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.diagnostics()));
    let took = started.elapsed();
    let Load::Trace(r) = &scenario.traffic.load else {
        panic!("a replay");
    };
    assert_eq!(r.unmatched_paths, 0, "every path names a page");
    println!(
        "trace read and mapped (validation included): {} requests in {:.2} s, {:.0} requests/s",
        r.requests.len(),
        took.as_secs_f64(),
        r.requests.len() as f64 / took.as_secs_f64()
    );
    Arc::new(World::new(scenario))
}

fn replayed_requests(c: &mut Criterion) {
    let dir = folder();
    let (file, span) = write_csv(&dir, REQUESTS);
    let world = replay_world(&file, span);
    let arch = world.scenario().architectures[0].clone();
    let requests = simulate_arch(&world, &arch).requests;
    assert_eq!(requests, REQUESTS, "every request of the trace simulated");
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    g.bench_function("trace/ssr-origin-variant", |b| {
        b.iter(|| black_box(simulate_arch(&world, &arch)));
    });
    g.finish();
    let _ = std::fs::remove_file(file);
}

fn trace_reading(c: &mut Criterion) {
    let dir = folder();
    let (csv, _) = write_csv(&dir, READ_LINES);
    let log = write_access_log(&dir, READ_LINES);
    let csv_format = Format::Delimited {
        delimiter: b',',
        columns: Columns {
            time_unit: TimeUnit::Micros,
            ..Columns::default()
        },
    };
    let mut g = c.benchmark_group("trace-read");
    g.sample_size(10);
    g.throughput(Throughput::Elements(READ_LINES));
    for (name, file, format) in [
        ("csv", &csv, csv_format),
        ("access-log", &log, Format::AccessLog),
    ] {
        let read = trace::read(file, &format).expect("the trace reads");
        assert_eq!(read.requests.len() as u64, READ_LINES, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| black_box(trace::read(file, &format).expect("the trace reads")));
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, replayed_requests, trace_reading);
criterion_main!(benches);
