//! The memory store's cost per entry stays within the simulator's budget —
//! bytes asked of the allocator per entry: at most 64 unbounded, at every
//! count of entries, and at most 150 bounded under every eviction policy —
//! for the simulator's value type (a 4-byte page id) with two tags. A
//! regression guard beside the benchmark that reports the same figure
//! (`loadgen/benches/sim.rs`).

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use ttlab_scenarios::Micros;
use ttlab_ssr_origin::cache::{Bounds, CacheKey, Eviction, MemoryStore, Stored};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn bytes_per_entry(bounds: Bounds, n: u64) -> f64 {
    bytes_per_entry_after(bounds, n, n)
}

/// Bytes per held entry after `puts` distinct keys into a store that holds
/// `n`: past `n`, every put evicts (the steady state of a bounded store,
/// where S3-FIFO's ghost of evicted keys is full).
fn bytes_per_entry_after(bounds: Bounds, n: u64, puts: u64) -> f64 {
    let region = Region::new(GLOBAL);
    let store: MemoryStore<u32> = MemoryStore::new(bounds);
    for k in 0..puts {
        put(&store, k);
    }
    assert_eq!(store.len() as u64, n.min(puts));
    held(&region) / n as f64
}

/// The `k`th distinct key: a page id, the page's two tags (201 pages).
fn put(store: &MemoryStore<u32>, k: u64) {
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

/// Bytes allocated and not freed since `region` began.
fn held(region: &Region<'_, System>) -> f64 {
    let stats = region.change();
    stats.bytes_allocated as f64 - stats.bytes_deallocated as f64
}

/// For each of `from`, the most bytes per entry an unbounded store holds
/// at any count from there to `to` entries, and that count: tables grow in
/// steps, so the figure is worst just after a step, wherever the steps fall.
fn worst_unbounded<const N: usize>(from: [u64; N], to: u64) -> [(f64, u64); N] {
    let region = Region::new(GLOBAL);
    let store: MemoryStore<u32> = MemoryStore::new(Bounds::default());
    let mut worst = [(0.0, 0); N];
    for k in 0..to {
        put(&store, k);
        let n = k + 1;
        let each = held(&region) / n as f64;
        for (w, &f) in worst.iter_mut().zip(&from) {
            if n >= f && each > w.0 {
                *w = (each, n);
            }
        }
    }
    worst
}

#[test]
fn an_entry_costs_at_most_64_bytes_unbounded_and_150_bounded() {
    // One test, so no other test thread allocates inside the region.
    // `--nocapture` prints the figures `docs/performance.md` records.
    for n in [1_000, 50_000, 100_000, 200_000] {
        let plain = bytes_per_entry(Bounds::default(), n);
        println!("{n} entries: unbounded {plain:.1} B each");
        assert!(plain <= 64.0, "unbounded, {n} entries: {plain:.1} B each");
        assert!(plain >= 20.0, "{plain}");
    }
    // Every count, not only round ones: the worst is just after a table or
    // the entries' vector grew.
    let from = [1_000, 2_000, 10_000];
    let worst = worst_unbounded(from, 300_000);
    for (f, (each, at)) in from.iter().zip(worst) {
        println!("{f} to 300000 entries: unbounded at most {each:.1} B each (at {at})");
    }
    let (each, at) = worst[1];
    assert!(each <= 64.0, "unbounded, {at} entries: {each:.1} B each");
    for n in [1_000, 50_000, 100_000] {
        for eviction in Eviction::ALL {
            let bounded = bytes_per_entry(
                Bounds {
                    max_entries: Some(n),
                    max_bytes: None,
                    eviction,
                },
                n,
            );
            println!("{n} entries: max_entries, {eviction} {bounded:.1} B each");
            assert!(
                bounded <= 150.0,
                "max_entries, {eviction}, {n} entries: {bounded:.1} B each"
            );
            // The figure is real: an entry holds at least its key and value.
            assert!(bounded >= 20.0, "{eviction}: {bounded}");
            let churned = bytes_per_entry_after(
                Bounds {
                    max_entries: Some(n),
                    max_bytes: None,
                    eviction,
                },
                n,
                3 * n,
            );
            println!("{n} entries: max_entries, {eviction} after 3x puts {churned:.1} B each");
            // S3-FIFO also holds its ghost: up to as many evicted keys as
            // entries (a key, a sequence number, in a map and a queue).
            let budget = if eviction == Eviction::S3Fifo {
                250.0
            } else {
                150.0
            };
            assert!(
                churned <= budget,
                "max_entries, {eviction}, {n} entries after churn: {churned:.1} B each"
            );
        }
    }
}
