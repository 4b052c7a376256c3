//! The simulator's speed and its cache's memory.
//!
//! `cargo bench -p ttlab-loadgen --bench sim` runs `scripts/bench/sim.toml`
//! — 10,000 visitors, three experiences, Zipf pages, a variant-keyed cache
//! with TTL and SWR, 2,000,000 open-loop requests — through the simulator of
//! `ssr-origin-variant` on one thread, and reports simulated requests per
//! second (criterion's "elements"). It then prints the memory one cached
//! entry takes in the store the simulator keys (bytes asked of the
//! allocator per entry, over 100,000 entries), measured with a counting
//! allocator. Two more runs of the same set `max_entries` and `max_bytes`
//! (far above what they store): the bounded store, and with a byte bound
//! the cost of weighing pages by their real size. Numbers and how they were
//! taken: `docs/performance.md`.

#![allow(missing_docs)] // criterion's macros write undocumented items

use std::alloc::System;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use ttlab_loadgen::sim::simulate_arch;
use ttlab_scenarios::{Micros, World};
use ttlab_ssr_origin::cache::{Bounds, CacheKey, MemoryStore, Stored};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SCENARIO: &str = include_str!("../../scripts/bench/sim.toml");

fn world() -> Arc<World> {
    let scenario =
        ttlab_scenarios::parse_str("scripts/bench/sim.toml", SCENARIO).expect("valid scenario");
    Arc::new(World::new(scenario))
}

fn simulated_requests(c: &mut Criterion) {
    let world = world();
    let arch = world.scenario().architectures[0].clone();
    let requests = simulate_arch(&world, &arch).requests;
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    g.bench_function("realistic/ssr-origin-variant", |b| {
        b.iter(|| black_box(simulate_arch(&world, &arch)));
    });
    // The same under a bound far above what the run stores (nothing
    // evicted), of entries and then of bytes: both take the bounded store,
    // and the byte bound also weighs each distinct page by its real size.
    for (name, entries, bytes) in [
        ("max_entries", Some(1 << 20), None),
        ("max_bytes", None, Some(1 << 30)),
    ] {
        let mut bounded = arch.clone();
        bounded.cache.max_entries = entries;
        bounded.cache.max_bytes = bytes;
        g.bench_function(format!("realistic/ssr-origin-variant {name}"), |b| {
            b.iter(|| black_box(simulate_arch(&world, &bounded)));
        });
    }
    g.finish();
}

/// Bytes asked of the allocator per entry of the store the simulator keys:
/// value a 4-byte page id, two tags (a page of two entries), no bounds.
fn memory_per_entry(_: &mut Criterion) {
    const N: u64 = 100_000;
    for (name, bounds) in [
        ("unbounded", Bounds::default()),
        (
            "max_entries",
            Bounds {
                max_entries: Some(N),
                max_bytes: None,
                ..Bounds::default()
            },
        ),
    ] {
        let region = Region::new(GLOBAL);
        let store: MemoryStore<u32> = MemoryStore::new(bounds);
        for k in 0..N {
            store.put_now(
                CacheKey(u128::from(k).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
                Stored {
                    value: k as u32,
                    stored_at: Micros(k),
                    fetched_at: Micros(k),
                    tags: [(k % 201) as u32, 201].into_iter().collect(),
                    size: 1,
                },
            );
        }
        let stats = region.change();
        let held = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
        println!(
            "store memory ({name}): {} entries, {:.1} bytes per entry",
            store.len(),
            held as f64 / N as f64
        );
        black_box(&store);
    }
}

criterion_group!(benches, simulated_requests, memory_per_entry);
criterion_main!(benches);
