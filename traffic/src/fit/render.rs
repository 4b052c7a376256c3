//! A fit written as a scenario's `[traffic]` table, with what it rests on
//! in comments: the numbers a team pastes into its scenario, and why.

use std::fmt::Write as _;
use std::time::Duration;

use super::Fit;
use super::zipf::KS_GOOD;

/// The `[traffic]` table for `fit`, headed by comments naming `source`,
/// the bad lines, the rate curve and the quality of the Zipf fit.
pub fn render(fit: &Fit, source: &str, bad_lines: u64, first_bad: Option<(u64, &str)>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Fitted by `ttlab traffic fit` from {source}: {} requests over {}.",
        fit.requests,
        span(fit.span)
    );
    if bad_lines > 0 {
        let _ = write!(
            s,
            "# {bad_lines} line(s) could not be read and were skipped"
        );
        if let Some((line, why)) = first_bad {
            let _ = write!(s, " (first: line {line}: {why})");
        }
        s.push_str(".\n");
    }
    let z = &fit.zipf;
    let _ = writeln!(
        s,
        "# Pages: {} distinct; Zipf s = {:.3}, Kolmogorov-Smirnov distance {:.3} ({}).",
        z.pages,
        z.s,
        z.ks,
        if z.good() {
            "a good fit".to_owned()
        } else {
            format!(
                "above {KS_GOOD}: a Zipf law describes these pages badly; check the top pages by hand"
            )
        }
    );
    let _ = writeln!(
        s,
        "# Requests per second, one value per {} from the first request:",
        span(fit.rate.bucket)
    );
    for chunk in fit.rate.rates.chunks(12) {
        let row: Vec<String> = chunk.iter().map(|r| format!("{r:.2}")).collect();
        let _ = writeln!(s, "#   {}", row.join(" "));
    }
    if let Some(ss) = &fit.sessions {
        let _ = writeln!(
            s,
            "# Sessions: {} from {} visitors, {:.2} pages each on average.",
            ss.sessions, ss.visitors, ss.pages_mean
        );
    }
    s.push_str("[traffic]\n");
    let _ = writeln!(
        s,
        "visitors = {}",
        fit.visitors.max(1).min(u64::from(u32::MAX))
    );
    let _ = writeln!(s, "arrival_rate = {:.3}", fit.rate.mean().max(0.001));
    if z.pages > 1 && z.s > 0.0 {
        s.push_str("popularity = \"zipf\"\n");
        let _ = writeln!(s, "zipf_s = {:.3}", z.s);
    }
    if let Some(ss) = &fit.sessions {
        let _ = writeln!(
            s,
            "pages_per_session = {}",
            (ss.pages_mean.round() as u64).max(1)
        );
        if let Some(t) = &ss.think {
            if t.cv < FIXED_CV {
                let _ = writeln!(s, "think_time = \"{}\"", ms(t.mean));
            } else if t.exponential() {
                let _ = writeln!(s, "think_time = {{ mean = \"{}\" }}", ms(t.mean));
            } else {
                let _ = writeln!(
                    s,
                    "think_time = {{ p50 = \"{}\", p99 = \"{}\" }}",
                    ms(t.p50),
                    ms(t.p99.max(t.p50 + Duration::from_millis(1)))
                );
            }
        }
    }
    s
}

/// Below this coefficient of variation the think time is written as fixed.
const FIXED_CV: f64 = 0.05;

/// A duration to the millisecond, as the scenario format writes one.
fn ms(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A span for people: `2h 3m 4s`.
fn span(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{:.1}s", d.as_secs_f64()),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}
