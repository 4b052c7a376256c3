//! The memory store's cost per entry stays within the simulator's budget (150
//! bytes asked of the allocator per entry), for the simulator's value type (a
//! 4-byte page id) with two tags, unbounded and bounded under every eviction
//! policy. A regression guard
//! beside the benchmark that reports the same figure (`loadgen/benches/sim.rs`).

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
    assert_eq!(store.len() as u64, n.min(puts));
    let stats = region.change();
    (stats.bytes_allocated as f64 - stats.bytes_deallocated as f64) / n as f64
}

#[test]
fn an_entry_costs_at_most_150_bytes() {
    // One test, so no other test thread allocates inside the region.
    // `--nocapture` prints the figures `docs/performance.md` records.
    for n in [1_000, 50_000, 100_000] {
        let plain = bytes_per_entry(Bounds::default(), n);
        println!("{n} entries: unbounded {plain:.1} B each");
        assert!(plain <= 150.0, "unbounded, {n} entries: {plain:.1} B each");
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
        assert!(plain >= 20.0, "{plain}");
    }
}
