//! Property tests of the cache library: model-based tests over
//! generated operation sequences on a virtual clock.
//!
//! The caching layer under test ([`CacheLayer`] over the real
//! [`MemoryStore`]) runs beside a plain reference model ([`model`]: a vector
//! in recency order plus the rules written as simply as possible). Both see
//! the same operations — requests, upstream fetches completing or failing,
//! clock advances, publishes and purges — and every response, fetch and
//! counter of the layer must equal the model's. Each property module then
//! judges the trace against one rule of `docs/architecture.md`, and shows once that a
//! deliberately broken variant of that rule (run through the model) is
//! caught. `docs/testing.md` says how to run more cases.
//!
//! [`CacheLayer`]: ttlab_ssr_origin::cache::CacheLayer
//! [`MemoryStore`]: ttlab_ssr_origin::cache::MemoryStore

mod arb;
mod broken;
mod concurrency;
mod harness;
mod model;
mod p1_soundness;
mod p2_freshness;
mod p3_keys;
mod p4_single_flight;
mod p5_accounting;
mod p6_metamorphic;
mod p7_ttl_zero_and_real_time;
mod p8_bounded_memory;
mod p9_http;
mod timed;

use std::fmt::Debug;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// The suite's proptest configuration: proptest's defaults (so
/// `PROPTEST_CASES` sets the case count) with regression files next to each
/// property's source (`tests/properties/<module>.proptest-regressions`).
pub fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Checks `property` over `strategy` like `proptest!` does, but with a
/// `1/divisor` share of the configured cases (at least `min`): for
/// properties whose cases are much dearer than the others (real-time runs,
/// hundreds of tasks), so `PROPTEST_CASES=10000` stays a matter of minutes.
/// (`proptest!` would let `PROPTEST_CASES` override any count it is given.)
pub fn check_scaled<S>(
    source_file: &'static str,
    divisor: u32,
    min: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let base = config();
    let mut runner = TestRunner::new(Config {
        cases: (base.cases / divisor).max(min),
        source_file: Some(source_file),
        ..base
    });
    if let Err(e) = runner.run(&strategy, property) {
        panic!("{e}\n{runner}");
    }
}
