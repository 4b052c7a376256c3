//! Two reports of the same scenario compared: what got worse beyond noise.
//!
//! Shares (class rates, hit rate, offload) are compared with a
//! two-proportion z-test over the requests each report judged: a change is a
//! regression when it is worse by more than [`Z`] standard errors and by
//! more than [`RATE_FLOOR`] in absolute terms. A `wrong_variant` or `leak`
//! count that rises from zero is always a regression: correctness has no
//! noise band. Latency percentiles are a regression when worse by more than
//! [`LATENCY_REL`] and [`LATENCY_FLOOR_MS`]: HDR percentiles carry no
//! sampling error estimate, so a relative band with a floor stands in.

use crate::model::{ArchReport, Report};

/// Standard errors a share must worsen by.
pub const Z: f64 = 3.0;
/// Smallest absolute change of a share that counts (0.05 points).
pub const RATE_FLOOR: f64 = 0.0005;
/// Relative worsening of a latency percentile that counts.
pub const LATENCY_REL: f64 = 0.10;
/// Smallest absolute worsening of a latency percentile that counts, ms.
pub const LATENCY_FLOOR_MS: f64 = 1.0;

/// One measure of one architecture in both reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Architecture.
    pub arch: String,
    /// Measure (`stale_variant_rate`, `p99`, …).
    pub measure: String,
    /// In the base report.
    pub base: f64,
    /// In the new report.
    pub new: f64,
    /// `rate` or `ms`.
    pub unit: &'static str,
    /// Worse beyond noise.
    pub regression: bool,
}

/// The comparison of two reports.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Comparison {
    /// Every measure compared.
    pub changes: Vec<Change>,
    /// Architectures in only one of the two reports.
    pub unmatched: Vec<String>,
    /// Architectures in both that were not compared, and why (no requests
    /// in one of them: a share of nothing is no measure).
    pub skipped: Vec<(String, String)>,
    /// What the reader must know to read the table (a simulated report
    /// against a real one, say).
    pub notes: Vec<String>,
}

impl Comparison {
    /// The regressions.
    pub fn regressions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.regression)
    }
}

/// Whether share `new` (of `n_new`) is worse than `base` (of `n_base`)
/// beyond noise; `higher_is_worse` says which way is worse.
fn share_regressed(base: f64, n_base: u64, new: f64, n_new: u64, higher_is_worse: bool) -> bool {
    let worse_by = if higher_is_worse {
        new - base
    } else {
        base - new
    };
    if worse_by <= RATE_FLOOR || n_base == 0 || n_new == 0 {
        return false;
    }
    let (n1, n2) = (n_base as f64, n_new as f64);
    let pooled = (base * n1 + new * n2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    se == 0.0 || worse_by / se > Z
}

fn latency_regressed(base: f64, new: f64) -> bool {
    new - base > LATENCY_FLOOR_MS && new > base * (1.0 + LATENCY_REL)
}

fn compare_arch(b: &ArchReport, n: &ArchReport, latency: bool, out: &mut Vec<Change>) {
    let mut push = |measure: &str, base: f64, new: f64, unit, regression| {
        out.push(Change {
            arch: b.name.clone(),
            measure: measure.to_owned(),
            base,
            new,
            unit,
            regression,
        });
    };
    for class in [
        "wrong_variant",
        "leak",
        "stale_variant",
        "stale_content",
        "error",
        "fallback",
    ] {
        let (rb, rn) = (b.rate(class), n.rate(class));
        let from_zero =
            matches!(class, "wrong_variant" | "leak") && b.class(class) == 0 && n.class(class) > 0;
        push(
            &format!("{class}_rate"),
            rb,
            rn,
            "rate",
            from_zero || share_regressed(rb, b.requests, rn, n.requests, true),
        );
    }
    let hit = |a: &ArchReport| a.layer.as_ref().map_or(0.0, |l| l.hit_rate);
    push(
        "hit_rate",
        hit(b),
        hit(n),
        "rate",
        share_regressed(hit(b), b.requests, hit(n), n.requests, false),
    );
    push(
        "offload",
        b.offload,
        n.offload,
        "rate",
        share_regressed(b.offload, b.requests, n.offload, n.requests, false),
    );
    if latency {
        let (lb, ln) = (&b.latency.all, &n.latency.all);
        for (name, vb, vn) in [("p50", lb.p50_ms, ln.p50_ms), ("p99", lb.p99_ms, ln.p99_ms)] {
            push(name, vb, vn, "ms", latency_regressed(vb, vn));
        }
    }
}

/// Why two reports' measures do not mean the same thing, when they do not.
fn notes(base: &Report, new: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if base.mode != new.mode {
        out.push(format!(
            "base is a {} run and new a {} one: latency is not compared (the simulator models it, a real run measures it); shares are, and agree only when both ran the same workload (closed-loop users in both, or open arrivals in both)",
            mode_name(&base.mode),
            mode_name(&new.mode)
        ));
    }
    if base.seed != new.seed {
        out.push(format!(
            "the seeds differ ({} and {}): visitors and their variants differ, so shares move by chance as well",
            base.seed, new.seed
        ));
    }
    out
}

fn mode_name(mode: &str) -> &str {
    match mode {
        "sim" => "simulated",
        other => other,
    }
}

/// Why an architecture in both reports cannot be compared, if it cannot.
fn not_comparable(b: &ArchReport, n: &ArchReport) -> Option<String> {
    match (b.requests, n.requests) {
        (0, 0) => Some("no requests in either report".to_owned()),
        (0, _) => Some("no requests in the base report (stopped before it ran?)".to_owned()),
        (_, 0) => Some("no requests in the new report (stopped before it ran?)".to_owned()),
        _ => None,
    }
}

/// Compares `new` with `base`, architecture by architecture (by name).
pub fn compare(base: &Report, new: &Report) -> Comparison {
    let mut out = Comparison {
        notes: notes(base, new),
        ..Comparison::default()
    };
    let latency = base.mode == new.mode;
    for b in &base.architectures {
        match new.architectures.iter().find(|n| n.name == b.name) {
            Some(n) => match not_comparable(b, n) {
                Some(why) => out.skipped.push((b.name.clone(), why)),
                None => compare_arch(b, n, latency, &mut out.changes),
            },
            None => out.unmatched.push(b.name.clone()),
        }
    }
    for n in &new.architectures {
        if !base.architectures.iter().any(|b| b.name == n.name) {
            out.unmatched.push(n.name.clone());
        }
    }
    out
}

/// A table for people: every measure, regressions marked.
pub fn render(c: &Comparison) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let show = |v: f64, unit: &str| match unit {
        "rate" => format!("{:.3}%", v * 100.0),
        _ => format!("{v:.1} ms"),
    };
    for note in &c.notes {
        let _ = writeln!(s, "note: {note}");
    }
    let _ = writeln!(
        s,
        "{:<22} {:<22} {:>12} {:>12}",
        "architecture", "measure", "base", "new"
    );
    for ch in &c.changes {
        let _ = writeln!(
            s,
            "{:<22} {:<22} {:>12} {:>12}{}",
            ch.arch,
            ch.measure,
            show(ch.base, ch.unit),
            show(ch.new, ch.unit),
            if ch.regression { "  REGRESSION" } else { "" }
        );
    }
    for u in &c.unmatched {
        let _ = writeln!(s, "{u}: in only one of the two reports, not compared");
    }
    for (arch, why) in &c.skipped {
        let _ = writeln!(s, "{arch}: {why}, not compared");
    }
    s
}
