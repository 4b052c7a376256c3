//! The HTTP caching rules (RFC 9111, RFC 9110 §8.8, §12.5.5, §13, RFC
//! 5861, RFC 9213, Fastly's `Surrogate-Control`) as pure functions: no I/O,
//! no clock (callers pass instants). `policy = "http"` layers, the
//! standalone `ttlab serve cdn --upstream` proxy and the simulator all call
//! these, so a rule is written once.
//!
//! Where the RFCs leave a choice, the choice is what the HTTP caching test
//! suite's (npm `http-cache-tests`) required and optimal tests expect, said
//! at the item and listed in `docs/decisions.md`.

pub mod dates;
pub mod directives;
pub mod hop;
pub mod invalidate;
mod lex;
pub mod policy;
pub mod precondition;
pub mod range;
pub mod targeted;
pub mod validate;
pub mod vary;

pub use dates::{DELTA_MAX, age, delta_seconds, http_date};
pub use directives::{FieldList, MaxStale, RequestDirectives, ResponseDirectives};
pub use hop::is_hop_by_hop;
pub use invalidate::{invalidated_targets, invalidates};
pub use policy::{
    Exchange, Heuristic, HttpPolicy, LifetimeFrom, NotStored, Revalidate, Verdict, constrained,
    evaluate,
};
pub use targeted::{
    CDN_CACHE_CONTROL, SURROGATE_CAPABILITY, SURROGATE_CONTROL, Selected, Targets, is_targeted,
};
pub use validate::{conditional, freshens, update_headers};
pub use vary::{Normalise, Vary, normalise_default};
