//! Showing that a property has teeth: run it over generated cases against a
//! deliberately broken rule and expect a counterexample.

use std::fmt::Debug;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Runs `property` over `strategy` (deterministically seeded, up to `cases`
/// cases) and returns the shrunk counterexample; panics if there is none,
/// i.e. if the property failed to catch the broken rule it was given.
pub fn expect_failure<S>(
    what: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> S::Value
where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    match runner.run(&strategy, property) {
        Err(TestError::Fail(reason, minimal)) => {
            eprintln!("{what}: caught ({reason}) by {minimal:?}");
            minimal
        }
        Err(TestError::Abort(reason)) => panic!("{what}: aborted: {reason}"),
        Ok(()) => panic!("{what}: the broken rule was not caught in {cases} cases"),
    }
}
