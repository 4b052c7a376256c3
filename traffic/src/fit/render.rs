//! A fit written as a scenario's `[traffic]` table, with what it rests on
//! in comments: the numbers a team pastes into its scenario, and why.
//!
//! The load model is the one the log shows: sessions (`session_rate`,
//! `pages_per_session`, `think_time`) when it names visitors whose sessions
//! hold two pages or more on average, single requests (`arrival_rate`)
//! otherwise. The rate is a constant when the buckets are within Poisson
//! noise of one rate ([`RateCurve::flatness`]), else the curve bucket by
//! bucket as `{ every = "<bucket>", rates = [...] }`.

use std::fmt::Write as _;
use std::time::Duration;

use super::Fit;
use super::rate::{Flatness, RateCurve};
use super::sessions::{SessionFit, population};
use super::zipf::KS_GOOD;

/// The `[traffic]` table for `fit`, headed by comments naming `source`,
/// the bad lines, the rate curve and the quality of each part of the fit.
pub fn render(fit: &Fit, source: &str, bad_lines: u64, first_bad: Option<(u64, &str)>) -> String {
    let mut s = String::new();
    head(&mut s, fit, source, bad_lines, first_bad);
    // Sessions of two pages or more on average; else single requests.
    let sessions = fit
        .sessions
        .as_ref()
        .filter(|ss| ss.pages_mean.round() >= 2.0);
    let visitors = visitors(&mut s, fit, sessions);
    let (key, curve) = match sessions {
        Some(ss) => ("session_rate", &ss.starts),
        None => ("arrival_rate", &fit.rate),
    };
    let rate = Rate::of(curve, fit.options.max_span);
    rate.comment(&mut s, fit, sessions.is_some());
    s.push_str("[traffic]\n");
    let _ = writeln!(s, "visitors = {}", visitors.clamp(1, u64::from(u32::MAX)));
    let _ = writeln!(s, "{key} = {}", rate.text);
    if let Some(ss) = sessions {
        let _ = writeln!(s, "pages_per_session = {}", ss.pages_mean.round() as u64);
        think_time(&mut s, ss);
    }
    let z = &fit.zipf;
    if z.pages > 1 && z.s > 0.0 {
        s.push_str("popularity = \"zipf\"\n");
        let _ = writeln!(s, "zipf_s = {:.3}", z.s);
    }
    s
}

/// The comments on what was read: the source, the bad lines, the pages
/// and the requests per second.
fn head(s: &mut String, fit: &Fit, source: &str, bad_lines: u64, first_bad: Option<(u64, &str)>) {
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
    rows(s, &fit.rate);
}

/// The comments on sessions and visitors, and the population to write:
/// from the returns the log shows, or one per request when it names no
/// visitors.
fn visitors(s: &mut String, fit: &Fit, sessions: Option<&SessionFit>) -> u64 {
    match &fit.sessions {
        Some(ss) => {
            let _ = writeln!(
                s,
                "# Sessions (a pause over {} ends one): {} from {} visitors, {:.2} pages each on average{}.",
                span(fit.options.session_gap),
                ss.sessions,
                ss.visitors,
                ss.pages_mean,
                if sessions.is_some() {
                    ""
                } else {
                    ": fewer than 1.5, so written as single requests"
                }
            );
            if let (Some(t), Some(_)) = (&ss.think, sessions) {
                let _ = writeln!(
                    s,
                    "# Think time between a session's pages: mean {}, median {}, p99 {}, coefficient of variation {:.2} ({} gaps).",
                    ms(t.mean),
                    ms(t.p50),
                    ms(t.p99),
                    t.cv,
                    t.samples
                );
            }
            // Each session (or single request) is a visitor drawn at random.
            let (draws, what) = match sessions {
                Some(_) => (ss.sessions, "sessions"),
                None => (fit.requests, "single requests"),
            };
            let population = population(draws, ss.visitors, fit.options.max_visitors);
            let _ = writeln!(
                s,
                "# visitors = {population}: {draws} {what}, each from a visitor drawn at random among that many, show about {} different ones, as the log does.",
                ss.visitors
            );
            population
        }
        None => {
            s.push_str(
                "# The log names no visitors: no sessions, and `visitors` is one per request; set your site's own.\n",
            );
            fit.requests.min(fit.options.max_visitors)
        }
    }
}

/// A curve as the value of a rate key.
struct Rate {
    text: String,
    flatness: Flatness,
    /// Buckets past the longest run were left out.
    cut: bool,
}

impl Rate {
    fn of(curve: &RateCurve, max_span: Duration) -> Rate {
        let flatness = curve.flatness();
        if flatness.flat() {
            return Rate {
                text: number(curve.mean()),
                flatness,
                cut: false,
            };
        }
        // Bucket k starts at k·width; the last start may be at most max_span.
        let width = curve.bucket.as_secs_f64();
        let most = (max_span.as_secs_f64() / width).floor() as usize + 1;
        let rates: Vec<String> = curve.rates.iter().take(most).map(|&r| number(r)).collect();
        Rate {
            text: format!(
                "{{ every = \"{}\", rates = [{}] }}",
                duration(curve.bucket),
                rates.join(", ")
            ),
            flatness,
            cut: curve.rates.len() > most,
        }
    }

    /// Says whether the rate is flat, and what of the log the curve holds.
    fn comment(&self, s: &mut String, fit: &Fit, sessions: bool) {
        let f = self.flatness;
        let _ = writeln!(
            s,
            "# {} per second are {} (chi-square {:.1} over {} buckets; a constant rate stays under {:.1} 99 times in 100).",
            if sessions {
                "Session starts"
            } else {
                "Requests"
            },
            if f.flat() {
                "flat: one rate"
            } else {
                "not flat: a curve, bucket by bucket"
            },
            f.chi2,
            f.buckets,
            f.bound
        );
        if self.cut {
            let _ = writeln!(
                s,
                "# The curve holds the first {} of the log: a scenario runs at most that long.",
                span(fit.options.max_span)
            );
        }
        let _ = writeln!(
            s,
            "# The log spans {}: a [scenario] duration that long runs the curve once.",
            span(fit.span)
        );
    }
}

/// The rates as comment rows, twelve to a row.
fn rows(s: &mut String, curve: &RateCurve) {
    for chunk in curve.rates.chunks(12) {
        let row: Vec<String> = chunk.iter().map(|r| format!("{r:.2}")).collect();
        let _ = writeln!(s, "#   {}", row.join(" "));
    }
}

/// The think time as the scenario format writes a distribution: fixed when
/// it hardly varies, exponential when its spread is an exponential's,
/// log-normal through its median and 99th percentile otherwise.
fn think_time(s: &mut String, ss: &SessionFit) {
    let Some(t) = &ss.think else { return };
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

/// Below this coefficient of variation the think time is written as fixed.
const FIXED_CV: f64 = 0.05;

/// A rate with three decimals, or three significant digits under 1 (a rate
/// above 0 never reads as 0), without trailing zeros.
fn number(x: f64) -> String {
    let decimals = if x > 0.0 && x < 1.0 {
        (2 - x.log10().floor() as i32).max(3) as usize
    } else {
        3
    };
    let text = format!("{x:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A bucket's width as the scenario format writes a duration: `2m`, `1h`,
/// `90s`, `1500ms`.
fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_as_a_scenario_writes_them() {
        assert_eq!(number(10.0), "10");
        assert_eq!(number(29.8765), "29.877");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(0.000_412_3), "0.000412");
        assert_eq!(number(0.0), "0");
        assert_eq!(duration(Duration::from_secs(120)), "2m");
        assert_eq!(duration(Duration::from_secs(7200)), "2h");
        assert_eq!(duration(Duration::from_secs(90)), "90s");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
    }
}
