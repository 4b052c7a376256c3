//! The dashboard's plain sibling for logs and pipes: one line a second.

use std::fmt::Write as _;

use crate::state::{DashState, Mode};
use crate::views::{pct, per_s};

/// A line about the architecture running now: where it is, its last
/// second's load, hit rate and bad answers so far.
pub fn line(s: &DashState) -> String {
    let i = s.status.current.unwrap_or(0);
    let Some(a) = s.archs.get(i) else {
        return String::new();
    };
    let name = s.facts.archs.get(i).map_or("", String::as_str);
    let last = a.last().cloned().unwrap_or_default();
    let mut out = format!(
        "  {name} {}: visitor {}/s, origin {}/s",
        s.facts.clock(a.now_s()),
        per_s(last.requests() as f64),
        per_s(last.origin.requests as f64),
    );
    if let Some(h) = a.total.hit_rate() {
        let _ = write!(out, ", hit {}", pct(h));
    }
    if let Some(l) = a.total.layer.filter(|l| l.store_bypass > 0) {
        let _ = write!(out, ", store down: {} bypassed", l.store_bypass);
    }
    let c = &a.total.classes;
    let _ = write!(
        out,
        ", stale {}, wrong {}, leak {}, error {}",
        c[1] + c[2],
        c[3],
        c[4],
        c[5]
    );
    if s.facts.mode == Mode::Sim
        && let Some(x) = s.status.speedup
    {
        let _ = write!(out, " (×{x:.0})");
    }
    out
}
