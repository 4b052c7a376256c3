//! Drawing: pure functions from a [`DashState`] to a ratatui frame. Nothing
//! here reads a clock or the run; the same state draws the same screen.

mod charts;
mod compare;
mod overview;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Clear, Dataset, GraphType, LineGauge, Paragraph};

use crate::state::{ArchState, DashState, MarkerKind, Mode, SecondStats, View};

/// Draws the whole screen.
pub fn draw(f: &mut Frame, s: &DashState) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(f.area());
    header(f, head, s);
    match s.view {
        View::Overview => overview::draw(f, body, s),
        View::Charts => charts::draw(f, body, s),
        View::Compare => compare::draw(f, body, s),
    }
    footer(f, foot, s);
    if s.help {
        help(f, f.area());
    }
}

fn header(f: &mut Frame, area: Rect, s: &DashState) {
    let [top, gauge] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let facts = &s.facts;
    let mut spans = vec![
        Span::styled(" ttlab ", Style::new().bold().reversed()),
        Span::raw(" "),
        Span::styled(facts.scenario.clone(), Style::new().bold()),
        Span::raw(format!(" · seed {} · ", facts.seed)),
    ];
    match facts.mode {
        Mode::Sim => {
            spans.push(Span::raw("sim"));
            if let Some(x) = s.status.speedup {
                spans.push(Span::raw(format!(" ×{}", speedup(x))));
            }
        }
        Mode::Real => spans.push(Span::raw("real")),
    }
    let n = facts.archs.len();
    spans.push(Span::raw(format!(" · [{}/{n}] ", s.selected + 1)));
    spans.push(Span::styled(
        facts.archs.get(s.selected).cloned().unwrap_or_default(),
        Style::new().fg(Color::Cyan).bold(),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), top);

    // Responses after the end (fills still in flight) make a tail second
    // or two: the clock stops at the run's duration.
    let total = facts.duration_s.max(1);
    let now = s.selected().now_s().min(total);
    let clock = if facts.mode == Mode::Sim {
        "virtual"
    } else {
        "elapsed"
    };
    let label = format!(" {clock} {now} / {total} s");
    f.render_widget(
        LineGauge::default()
            .filled_style(Style::new().fg(Color::Cyan))
            .unfilled_style(Style::new().fg(Color::DarkGray))
            .filled_symbol(symbols::line::THICK_HORIZONTAL)
            .unfilled_symbol(symbols::line::THICK_HORIZONTAL)
            .label(label)
            .ratio((f64::from(now) / f64::from(total)).clamp(0.0, 1.0)),
        gauge,
    );
}

fn footer(f: &mut Frame, area: Rect, s: &DashState) {
    let key = |k: &'static str| Span::styled(k, Style::new().fg(Color::Cyan).bold());
    let mut spans = vec![Span::raw(" "), key("q"), Span::raw(" quit  ")];
    if s.facts.mode == Mode::Sim {
        spans.extend([key("p"), Span::raw(" pause  ")]);
    }
    spans.extend([
        key("tab"),
        Span::raw(" view  "),
        key("←→"),
        Span::raw(" arch  "),
        key("?"),
        Span::raw(" help │ "),
        Span::styled(s.view.as_str(), Style::new().bold()),
    ]);
    let state = if s.status.finished {
        Some(("finished: q shows the summary", Color::Green))
    } else if s.status.stopping {
        Some(("stopping…", Color::Yellow))
    } else if s.status.paused {
        Some(("PAUSED", Color::Yellow))
    } else {
        None
    };
    if let Some((text, color)) = state {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(text, Style::new().fg(color).bold()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn help(f: &mut Frame, area: Rect) {
    let lines = [
        (
            "q, Esc, Ctrl-C",
            "stop the run (the report is still written)",
        ),
        ("p", "pause / resume a simulation"),
        ("tab", "next view: overview, charts, compare"),
        ("←/→, 1–9", "pick the architecture shown"),
        ("?", "this help"),
    ];
    let mut text: Vec<Line> = lines
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>15} "), Style::new().fg(Color::Cyan).bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    text.push(Line::raw(""));
    text.push(Line::from(vec![
        Span::raw("markers: "),
        Span::styled("│ publish ", marker_style(MarkerKind::Publish)),
        Span::styled("│ experience ", marker_style(MarkerKind::Experience)),
        Span::styled("│ storm", marker_style(MarkerKind::Storm)),
    ]));
    let w = area.width.min(66);
    let h = area.height.min(text.len() as u16 + 2);
    let [popup] = Layout::horizontal([Constraint::Length(w)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(h)])
        .flex(Flex::Center)
        .areas(popup);
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(text).block(Block::bordered().title(" help ")),
        popup,
    );
}

/// The colour of a marker kind on the charts.
pub(crate) fn marker_style(kind: MarkerKind) -> Style {
    Style::new().fg(match kind {
        MarkerKind::Publish => Color::Yellow,
        MarkerKind::Experience => Color::Magenta,
        MarkerKind::Storm => Color::Red,
    })
}

/// Red and bold when a class that must never happen did.
pub(crate) fn bad_style(class: usize, count: u64) -> Style {
    if (class == 3 || class == 4) && count > 0 {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}

/// A line series over the run: `value` of each second.
pub(crate) fn series(
    a: &ArchState,
    value: impl Fn(&SecondStats) -> Option<f64>,
) -> Vec<(f64, f64)> {
    a.seconds
        .iter()
        .enumerate()
        .filter_map(|(i, s)| value(s).map(|v| (i as f64, v)))
        .collect()
}

/// A named line of a chart.
pub(crate) struct Series {
    pub name: &'static str,
    pub color: Color,
    pub points: Vec<(f64, f64)>,
}

/// A line chart over the run's seconds, with the timeline's markers as
/// dotted vertical lines. `y_max` of `None` scales to the data.
pub(crate) fn line_chart(
    f: &mut Frame,
    area: Rect,
    s: &DashState,
    title: Line<'_>,
    lines: &[Series],
    y_max: Option<f64>,
    y_unit: &str,
) {
    let x_max = f64::from(s.x_max());
    let top = y_max.unwrap_or_else(|| {
        let m = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0_f64, f64::max);
        nice_max(m)
    });
    // Markers as vertical lines of dots (4 braille dots per row), one
    // dataset per kind.
    let dots = u32::from(area.height.max(2)) * 4;
    let marks: Vec<(MarkerKind, Vec<(f64, f64)>)> = [
        MarkerKind::Publish,
        MarkerKind::Experience,
        MarkerKind::Storm,
    ]
    .into_iter()
    .map(|kind| {
        let pts = s
            .facts
            .markers
            .iter()
            .filter(|m| m.kind == kind && f64::from(m.second) <= x_max)
            .flat_map(|m| {
                (0..=dots).map(move |k| (f64::from(m.second), top * f64::from(k) / f64::from(dots)))
            })
            .collect();
        (kind, pts)
    })
    .filter(|(_, pts): &(MarkerKind, Vec<(f64, f64)>)| !pts.is_empty())
    .collect();
    let mut datasets: Vec<Dataset> = marks
        .iter()
        .map(|(kind, pts)| {
            Dataset::default()
                .marker(symbols::Marker::Braille)
                .graph_type(GraphType::Scatter)
                .style(marker_style(*kind))
                .data(pts)
        })
        .collect();
    datasets.extend(lines.iter().map(|l| {
        Dataset::default()
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(l.color))
            .data(&l.points)
    }));
    // The legend goes in the bottom border: ratatui's own would cover the
    // first seconds of the run.
    let mut legend = vec![Span::raw(" ")];
    for l in lines {
        legend.push(Span::styled(l.name, Style::new().fg(l.color)));
        legend.push(Span::raw(" "));
    }
    for (kind, _) in &marks {
        legend.push(Span::styled(
            format!("│{} ", kind.as_str()),
            marker_style(*kind),
        ));
    }
    let chart = Chart::new(datasets)
        .block(
            Block::bordered()
                .title(title)
                .title_bottom(Line::from(legend)),
        )
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([0.0, x_max])
                .style(Style::new().fg(Color::DarkGray))
                .labels([Line::raw("0"), Line::raw(format!("{} s", s.x_max()))]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .style(Style::new().fg(Color::DarkGray))
                .labels([
                    Line::raw("0"),
                    Line::raw(format!("{}{y_unit}", count(top as u64))),
                ]),
        );
    f.render_widget(chart, area);
}

/// A round upper bound above `m` for a y axis (1, 2 or 5 × 10ⁿ).
pub(crate) fn nice_max(m: f64) -> f64 {
    if m <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(m.log10().floor());
    for k in [1.0, 2.0, 5.0, 10.0] {
        if k * p >= m {
            return k * p;
        }
    }
    10.0 * p
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
fn speedup(x: f64) -> String {
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
        assert!((nice_max(730.0) - 1000.0).abs() < 1e-9);
        assert!((nice_max(130.0) - 200.0).abs() < 1e-9);
        assert_eq!(fit("ssr-origin-variant", 12), "origin-varia");
        assert_eq!(fit("ssr-edge", 12), "ssr-edge");
    }
}
