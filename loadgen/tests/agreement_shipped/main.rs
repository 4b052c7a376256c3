//! Every shipped scenario, shortened, run for real and compared: with the
//! simulator (`simulator.rs`) and, where it runs a CDN or edge cache, with
//! Varnish in the place of ttlab's model (`varnish.rs`).
//!
//! One test binary so the two comparisons run side by side: each spends
//! most of its time waiting on its runs' clocks (a run of a few hundred
//! requests a second takes a tenth of a core), and CI's time is bounded.

mod simulator;
mod varnish;

use std::fmt::Write as _;

/// One measure of one architecture as two engines measured it: written to
/// the line printed for the architecture (`; what a% / b%`), and returned
/// as a difference (`what A a% vs B b%`, the engines named) when the two
/// are further apart than `tolerance`.
fn compare(
    line: &mut String,
    what: &str,
    (a, b): (f64, f64),
    (name_a, name_b): (&str, &str),
    tolerance: f64,
) -> Option<String> {
    let _ = write!(line, "; {what} {:.1}% / {:.1}%", a * 100.0, b * 100.0);
    ((a - b).abs() > tolerance).then(|| {
        format!(
            "{what} {name_a} {:.2}% vs {name_b} {:.2}%",
            a * 100.0,
            b * 100.0
        )
    })
}
