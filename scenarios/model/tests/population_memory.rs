//! Population memory: a world of ten million visitors, measured with a
//! counting allocator (its own test binary, so no other test allocates
//! meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use ttlab_scenarios::{World, parse_str, shipped::SHIPPED};

/// Counts live heap bytes, so the population's cost is measured, not
/// estimated.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Ten million visitors: the world builds without per-visitor work, and
/// the population, uid index included, stays within 32 bytes a visitor.
#[test]
fn ten_million_visitors_cost_at_most_32_bytes_each() {
    const N: u32 = 10_000_000;
    let mut scenario = parse_str("x.toml", SHIPPED[2].source).expect("valid");
    scenario.traffic.visitors = N;
    // No timeline: what is measured is the population alone.
    scenario.timeline.clear();
    let before = LIVE.load(Ordering::Relaxed);
    let started = Instant::now();
    let w = World::new(scenario);
    let built = started.elapsed();
    let after_build = LIVE.load(Ordering::Relaxed) - before;
    assert!(
        after_build < 1 << 20,
        "the build holds {after_build} bytes: it does per-visitor work"
    );
    let last = w.uid(N - 1);
    let started = Instant::now();
    assert_eq!(w.visitor_index(&last), Some(N - 1));
    let indexed = started.elapsed();
    let total = LIVE.load(Ordering::Relaxed) - before;
    let per_visitor = total as f64 / f64::from(N);
    println!(
        "population: {N} visitors, build {built:?} holding {after_build} B; \
         uid index built in {indexed:?}; {total} B in all = {per_visitor:.2} B/visitor"
    );
    assert!(per_visitor <= 32.0, "{per_visitor} bytes a visitor");
    assert_eq!(w.population_bytes() as isize, total - after_build);
}
