//! Every shipped scenario, shortened, run for real and compared: with the
//! simulator (`simulator.rs`) and, where it runs a CDN or edge cache, with
//! Varnish in the place of ttlab's model (`varnish.rs`).
//!
//! One test binary so the two comparisons run side by side: each spends
//! most of its time waiting on its runs' clocks (a run of a few hundred
//! requests a second takes a tenth of a core), and CI's time is bounded.

mod simulator;
mod varnish;
