//! One architecture's charts over the whole run, large: origin load, hit
//! rate and offload, and the share of each bad class per second.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::Line;

use super::overview::{hit_chart, load_chart};
use super::plot::{Series, line_chart, series};
use crate::state::{DashState, SecondStats};

pub(super) fn draw(f: &mut Frame, area: Rect, s: &DashState) {
    let [load, hits, bad] = Layout::vertical([
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
    ])
    .areas(area);
    load_chart(f, load, s);
    hit_chart(f, hits, s);
    let a = s.selected();
    let share = |c: usize| {
        move |x: &SecondStats| {
            let r = x.requests();
            (r > 0).then(|| x.classes[c] as f64 * 100.0 / r as f64)
        }
    };
    // Every class but `fresh`, in `Class::ALL` order, with its colour.
    let lines: Vec<Series> = [
        ("stale_variant", Color::Yellow),
        ("stale_content", Color::LightYellow),
        ("wrong_variant", Color::Red),
        ("leak", Color::LightRed),
        ("error", Color::Magenta),
        ("fallback", Color::Blue),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, color))| Series {
        name,
        color,
        points: series(a, share(i + 1)),
    })
    .collect();
    line_chart(
        f,
        bad,
        s,
        Line::raw(" not fresh, % of responses per second "),
        &lines,
        None,
        "%",
    );
}
