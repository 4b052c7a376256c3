//! One architecture's charts over the whole run, large: origin load, hit
//! rate and offload, and the share of each bad class per second.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::Line;

use super::overview::{hit_chart, load_chart};
use super::{Series, line_chart, series};
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
    let lines = [
        Series {
            name: "stale_variant",
            color: Color::Yellow,
            points: series(a, share(1)),
        },
        Series {
            name: "stale_content",
            color: Color::LightYellow,
            points: series(a, share(2)),
        },
        Series {
            name: "wrong_variant",
            color: Color::Red,
            points: series(a, share(3)),
        },
        Series {
            name: "leak",
            color: Color::LightRed,
            points: series(a, share(4)),
        },
        Series {
            name: "error",
            color: Color::Magenta,
            points: series(a, share(5)),
        },
        Series {
            name: "fallback",
            color: Color::Blue,
            points: series(a, share(6)),
        },
    ];
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
