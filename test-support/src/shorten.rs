//! A shipped scenario shortened for a test: its run cut to a share of its
//! length and its timeline scaled by the same factor, so every change still
//! happens inside the run (`loadgen/tests/agreement_shipped/simulator.rs`
//! and `varnish.rs`).

use std::fmt::Write as _;

/// `"30s"`, `"2m"`: seconds.
fn seconds(text: &str) -> Option<f64> {
    humantime::parse_duration(text)
        .ok()
        .map(|d| d.as_secs_f64())
}

/// The scenario `source` shortened to `factor_of_length` of its length (but
/// not under `min_seconds`, or its own length if shorter), its timeline
/// scaled to fit:
/// every `duration`, `at`, `from`, `until` and `over` given as a duration.
pub fn shortened(source: &str, factor_of_length: f64, min_seconds: f64) -> String {
    let duration = source
        .lines()
        .find_map(|l| l.trim().strip_prefix("duration = "))
        .and_then(|v| seconds(v.trim_matches('"')))
        .expect("a scenario has a duration");
    let length = (duration * factor_of_length).max(duration.min(min_seconds));
    let factor = length / duration;
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    // Each `KEY = "VALUE"` whose KEY is one of these and starts a word.
    while let Some((i, key)) = ["duration", "at", "from", "until", "over"]
        .iter()
        .filter_map(|k| {
            let pat = format!("{k} = \"");
            let mut from = 0;
            while let Some(j) = rest[from..].find(&pat) {
                let at = from + j;
                let word_start = at == 0
                    || !rest[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_');
                if word_start {
                    return Some((at, *k));
                }
                from = at + pat.len();
            }
            None
        })
        .min()
    {
        let value_start = i + key.len() + 4;
        let value_end = value_start + rest[value_start..].find('"').expect("closing quote");
        out.push_str(&rest[..value_start]);
        match seconds(&rest[value_start..value_end]) {
            Some(s) => {
                let _ = write!(out, "{}ms", (s * factor * 1000.0).round() as u64);
            }
            None => out.push_str(&rest[value_start..value_end]),
        }
        rest = &rest[value_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::shortened;

    #[test]
    fn shortening_scales_the_run_and_its_timeline_and_nothing_else() {
        let text = "[scenario]\nduration = \"40s\"\n[traffic]\nthink_time = { mean = \"250ms\" }\nsession_rate = { from = 20, stages = [{ to = 120, over = \"10s\" }] }\n[[timeline]]\nfrom = \"20s\"\nuntil = \"22s\"\nat = \"2m\"\n[cache]\nttl = \"30s\"\nformat = \"x\"\n";
        let s = shortened(text, 0.3, 6.0);
        assert!(s.contains("duration = \"12000ms\""), "{s}");
        assert!(s.contains("over = \"3000ms\""), "{s}");
        assert!(s.contains("from = \"6000ms\"") && s.contains("until = \"6600ms\""));
        assert!(s.contains("at = \"36000ms\""));
        assert!(s.contains("mean = \"250ms\"") && s.contains("ttl = \"30s\""));
        assert!(
            s.contains("format = \"x\""),
            "a key ending in `at` is not `at`: {s}"
        );
    }
}
