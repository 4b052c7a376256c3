//! Showing that a property has teeth: run it over generated cases against a
//! deliberately broken rule and expect a counterexample.

use std::fmt::Debug;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::harness::{Config as ModelConfig, Op, Trace};
use crate::model::{self, Policy};

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

/// The one shape of every "a broken policy is caught" test: `check` over
/// the model run with `broken` finds a counterexample in `strategy` within
/// `cases` cases, and the reference policy passes that very case (so the
/// failure is the broken rule's, not the case's).
pub fn policy_caught<S>(
    what: &str,
    cases: u32,
    broken: &Policy,
    strategy: S,
    check: impl Fn(&ModelConfig, &Trace) -> Result<(), TestCaseError>,
) where
    S: Strategy<Value = (ModelConfig, Vec<Op>)>,
{
    let (cfg, ops) = expect_failure(what, cases, strategy, |(cfg, ops)| {
        check(&cfg, &model::run(broken, &cfg, &ops))
    });
    check(&cfg, &model::run(&Policy::REFERENCE, &cfg, &ops))
        .expect("the reference policy passes the case that caught the broken one");
}
