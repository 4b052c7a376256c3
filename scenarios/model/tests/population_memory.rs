//! Population memory: a world of ten million visitors, measured by the
//! process's resident memory (`VmRSS`) and by what the world says it holds.
//! Its own test binary, so no other test allocates meanwhile.

use std::time::Instant;

use ttlab_scenarios::{World, parse_str, shipped::SHIPPED};

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Ten million visitors: the world builds without per-visitor work, and
/// the population, uid index included, stays within 32 bytes a visitor.
#[test]
fn ten_million_visitors_cost_at_most_32_bytes_each() {
    const N: u32 = 10_000_000;
    let mut scenario = parse_str("x.toml", SHIPPED[2].source).expect("valid");
    scenario.traffic.visitors = N;
    // No timeline: what is measured is the population alone.
    scenario.timeline.clear();
    let before = rss();
    let started = Instant::now();
    let w = World::new(scenario);
    let built = started.elapsed();
    let after_build = rss().saturating_sub(before);
    assert_eq!(w.population_bytes(), 0, "the build holds per-visitor data");
    // Deriving a visitor needs no table: the last one, as fast as the first.
    let last = w.visitor(N - 1);
    assert_eq!(last.uid.len(), 36);
    assert!(
        after_build < 8 << 20,
        "the build grew resident memory by {after_build} bytes"
    );
    // The uid index: the one per-visitor table, built on the first lookup.
    let started = Instant::now();
    assert_eq!(w.visitor_index(&last.uid), Some(N - 1));
    let indexed = started.elapsed();
    let held = w.population_bytes();
    let grown = rss().saturating_sub(before);
    let per_visitor = |bytes: u64| bytes as f64 / f64::from(N);
    println!(
        "population of {N} visitors: World::new {built:?}, resident +{after_build} B; \
         uid index built in {indexed:?}, holding {held} B ({:.2} B/visitor); \
         resident +{grown} B in all ({:.2} B/visitor)",
        per_visitor(held as u64),
        per_visitor(grown),
    );
    assert!(per_visitor(held as u64) <= 32.0);
    assert!(per_visitor(grown) <= 32.0, "{grown} resident bytes");
    // Lookups stay right at this size.
    for v in [0, 1, N / 2, N - 2] {
        assert_eq!(w.visitor_index(&w.uid(v)), Some(v));
    }
}
