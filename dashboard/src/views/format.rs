//! How values read on the dashboard: short numbers, fitted names, and the
//! style of a class that must never happen.

use ratatui::style::{Color, Modifier, Style};

/// Red and bold when a class that must never happen did.
pub(crate) fn bad_style(class: usize, count: u64) -> Style {
    if (class == 3 || class == 4) && count > 0 {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}

/// A count, short: 950, 12.3k, 4.56M.
pub fn count(n: u64) -> String {
    let x = n as f64;
    if n < 10_000 {
        n.to_string()
    } else if x < 1e6 {
        format!("{:.1}k", x / 1e3)
    } else if x < 1e9 {
        format!("{:.2}M", x / 1e6)
    } else {
        format!("{:.2}G", x / 1e9)
    }
}

/// A rate per second, short.
pub fn per_s(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}")
    } else {
        count(x.round() as u64)
    }
}

/// A duration in µs, short: 850µs, 12.3ms, 1.20s, 2.5m.
pub fn micros(us: u64) -> String {
    let x = us as f64;
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 100_000 {
        format!("{:.1}ms", x / 1e3)
    } else if us < 1_000_000 {
        format!("{:.0}ms", x / 1e3)
    } else if us < 120_000_000 {
        format!("{:.2}s", x / 1e6)
    } else {
        format!("{:.1}m", x / 6e7)
    }
}

/// A share as a percentage: 95.2%, 0.12%, 0%.
pub fn pct(x: f64) -> String {
    if x == 0.0 {
        "0%".to_owned()
    } else if x < 0.01 {
        format!("{:.2}%", x * 100.0)
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

/// A speed-up factor: ×3.2, ×450, ×12k.
pub(super) fn speedup(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}")
    } else {
        count(x.round() as u64)
    }
}

/// `name` shortened to `width`: without the `ssr-` prefix first, then cut.
pub(crate) fn fit(name: &str, width: usize) -> String {
    let n = if name.chars().count() > width {
        name.strip_prefix("ssr-").unwrap_or(name)
    } else {
        name
    };
    n.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_short() {
        assert_eq!(count(950), "950");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(4_560_000), "4.56M");
        assert_eq!(micros(850), "850µs");
        assert_eq!(micros(12_300), "12.3ms");
        assert_eq!(micros(1_200_000), "1.20s");
        assert_eq!(pct(0.952), "95.2%");
        assert_eq!(pct(0.0012), "0.12%");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(fit("ssr-origin-variant", 12), "origin-varia");
        assert_eq!(fit("ssr-edge", 12), "ssr-edge");
    }
}
