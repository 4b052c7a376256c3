//! Property 1, at the cache library: a variant-keyed layer never answers a
//! request with a page built for other variants (`wrong_variant`) or another
//! page. The scenario-level half (every architecture, judged by the checker)
//! is `loadgen/tests/soundness.rs`.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_ssr_origin::cache::{CacheKey, KeyStrategy};

use crate::arb;
use crate::broken::{expect_failure, policy_caught};
use crate::harness::{Req, Trace, library_key, run_both, run_layer};
use crate::model::Policy;

/// Every page served was built for the request's page and for the
/// request's variants of that page's experiences.
pub fn check(t: &Trace) -> Result<(), TestCaseError> {
    for (resp, rec, s) in t.served() {
        prop_assert_eq!(
            s.value.page,
            rec.req.page,
            "request {} got another page ({:?})",
            resp.req,
            s
        );
        prop_assert_eq!(
            s.value.variants,
            rec.req.content_variants(),
            "wrong variant: request {} ({:?}) got a page built for request {}: {:?}",
            resp.req,
            rec.req,
            s.value.fetch,
            s
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn a_variant_keyed_layer_never_serves_another_visitors_variant(
        cfg in arb::config(),
        ops in arb::ops(),
    ) {
        check(&run_both(&cfg, &ops)?)?;
    }
}

/// A key that forgets experience 0 (the one every personalized page uses).
fn key_dropping_a_variant(strategy: KeyStrategy, mut r: Req) -> CacheKey {
    r.variants[0] = None;
    library_key(strategy, r)
}

#[test]
fn a_key_that_drops_a_variant_is_caught() {
    let broken = Policy {
        key: key_dropping_a_variant,
        ..Policy::REFERENCE
    };
    policy_caught(
        "key without experience 0",
        2_000,
        &broken,
        (arb::config(), arb::ops()),
        |_, t| check(t),
    );
}

#[test]
fn a_url_only_key_on_the_real_layer_is_caught() {
    // `ssr-cdn-shared`: the shared key the property exists to reject.
    let (cfg, ops) = expect_failure(
        "URL-only key",
        2_000,
        (arb::config(), arb::ops()),
        |(mut cfg, ops)| {
            cfg.strategy = KeyStrategy::Url;
            check(&run_layer(&cfg, &ops))
        },
    );
    check(&run_layer(&cfg, &ops)).expect("with variant keys the same case passes");
}
