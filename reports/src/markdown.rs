//! A Markdown summary fit for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`: the verdict first, then the architectures side
//! by side, the thresholds, and for a sweep its table and the advice.

use std::fmt::Write as _;

use crate::advise::{self, Budget};
use crate::gate;
use crate::model::{ArchReport, Report};
use crate::verdict::Share;

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The verdict ([`crate::verdict`]): what to ship, then one bullet per
/// other candidate.
fn verdict_section(s: &mut String, report: &Report) {
    let lines = crate::verdict::verdict(report).lines();
    let mut lines = lines.iter();
    if let Some(first) = lines.next() {
        let _ = writeln!(
            s,
            "**Verdict.** {first}
"
        );
    }
    let mut any = false;
    for line in lines {
        let _ = writeln!(s, "- {line}");
        any = true;
    }
    if any {
        s.push('\n');
    }
}

/// The summary of one report.
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let checked: usize = report
        .architectures
        .iter()
        .map(|a| a.thresholds.len())
        .sum();
    let breaches = gate::breaches(report);
    let verdict = match (checked, breaches.len()) {
        (0, _) => "no thresholds".to_owned(),
        (n, 0) => format!("✅ all {n} thresholds hold"),
        (n, b) => format!("❌ {b} of {n} thresholds breached"),
    };
    let _ = writeln!(
        s,
        "## ttlab · {} · {}\n\n{} run, seed {}, {} s per architecture — {verdict}\n",
        report.scenario, report.mode, report.mode, report.seed, report.duration_s
    );
    if report.interrupted {
        s.push_str("> ⚠️ The run was interrupted: these numbers cover only what ran.\n\n");
    }
    if report.warmup_s > 0.0 {
        let _ = writeln!(
            s,
            "The first {} s warmed the caches: they are in the per-second series, not in these numbers or the thresholds.\n",
            report.warmup_s
        );
    }
    verdict_section(&mut s, report);
    table(&mut s, &report.architectures);
    if checked > 0 {
        s.push_str(
            "\n### Thresholds\n\n| architecture | threshold | value | |\n|---|---|--:|:-:|\n",
        );
        for a in &report.architectures {
            for t in &a.thresholds {
                let _ = writeln!(
                    s,
                    "| {} | `{}` | {} | {} |",
                    a.name,
                    t.describe(),
                    t.shown_value(),
                    if t.holds { "✅" } else { "❌" }
                );
            }
        }
    }
    if let Some(sweep) = &report.sweep {
        let _ = writeln!(
            s,
            "\n### Sweep of `{}`\n\n| {} | architecture | hit rate | offload | stale_variant | stale_content | wrong_variant | origin requests |\n|---|---|--:|--:|--:|--:|--:|--:|",
            sweep.option, sweep.option
        );
        for p in &sweep.points {
            for a in &p.architectures {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    p.value,
                    a.name,
                    a.layer.as_ref().map_or("-".to_owned(), |l| pct(l.hit_rate)),
                    pct(a.offload),
                    pct(a.rate("stale_variant")),
                    pct(a.rate("stale_content")),
                    a.class("wrong_variant"),
                    a.origin.requests
                );
            }
        }
        if let Some(advice) = advise::advise(report, |a| Budget::from_thresholds(a, 0.01)) {
            s.push_str("\n**Advice** (stale-rate budget from the thresholds, else 1%):\n\n");
            for line in advise::describe(&sweep.option, &advice) {
                let _ = writeln!(s, "- {line}");
            }
        }
    }
    s
}

/// The architectures side by side.
fn table(s: &mut String, archs: &[ArchReport]) {
    s.push('|');
    s.push_str(" |");
    for a in archs {
        let _ = write!(s, " {} |", a.name);
    }
    s.push_str("\n|---|");
    for _ in archs {
        s.push_str("--:|");
    }
    s.push('\n');
    let row = |s: &mut String, name: &str, f: &dyn Fn(&ArchReport) -> String| {
        let _ = write!(s, "| {name} |");
        for a in archs {
            let _ = write!(s, " {} |", f(a));
        }
        s.push('\n');
    };
    row(s, "requests", &|a| a.requests.to_string());
    row(s, "offload", &|a| {
        a.known_offload().map_or("-".to_owned(), pct)
    });
    row(s, "hit rate", &|a| {
        a.layer.as_ref().map_or("-".to_owned(), |l| {
            format!("{} ({})", pct(l.hit_rate), a.layer_label(l))
        })
    });
    row(s, "origin renders", &|a| {
        a.known_renders().map_or("-".to_owned(), |r| r.to_string())
    });
    row(s, "Personalize calls", &|a| {
        a.origin.personalize_calls.to_string()
    });
    row(s, "Delivery calls", &|a| {
        a.origin.delivery_calls.to_string()
    });
    for class in [
        "fresh",
        "stale_variant",
        "stale_content",
        "fallback",
        "error",
    ] {
        row(s, class, &|a| Share::of_class(a, class).shown());
    }
    for class in ["wrong_variant", "leak"] {
        row(s, class, &|a| {
            let n = a.class(class);
            if n == 0 {
                "0".to_owned()
            } else {
                format!("**{n}**, {}", Share::of_class(a, class).shown())
            }
        });
    }
    row(s, "latency p50 / p99", &|a| {
        format!(
            "{:.1} / {:.1} ms",
            a.latency.all.p50_ms, a.latency.all.p99_ms
        )
    });
    row(s, "staleness p99", &|a| {
        if a.staleness.count == 0 {
            "-".to_owned()
        } else {
            format!("{:.0} ms", a.staleness.p99_ms)
        }
    });
    // Only when a shared store failed somewhere: requests it sent around
    // the cache, and when.
    let outage = |a: &ArchReport| {
        a.layer
            .as_ref()
            .is_some_and(|l| l.counts.store_errors > 0 || !l.store_outages.is_empty())
    };
    if archs.iter().any(outage) {
        row(s, "store down: bypassed", &|a| match &a.layer {
            Some(l) if outage(a) => {
                let windows: Vec<String> = l
                    .store_outages
                    .iter()
                    .map(|o| match o.until_s {
                        Some(u) => format!("{:.1}–{u:.1} s", o.from_s),
                        None => format!("{:.1} s–end", o.from_s),
                    })
                    .collect();
                format!("{} ({})", l.counts.store_bypass, windows.join(", "))
            }
            _ => "0".to_owned(),
        });
    }
}
