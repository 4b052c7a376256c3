//! Drawing: pure functions from a [`DashState`] to a ratatui frame. Nothing
//! here reads a clock or the run; the same state draws the same screen.

mod charts;
mod compare;
mod format;
mod overview;
mod plot;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, LineGauge, Paragraph};

use crate::state::{DashState, MarkerKind, Mode, View};

use format::speedup;
pub use format::{count, micros, pct, per_s};
use plot::marker_style;

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
    let clock = if facts.mode == Mode::Sim {
        "virtual"
    } else {
        "elapsed"
    };
    // A run bounded by page views has no length: the clock counts on, the
    // gauge stays empty rather than pretend to know how far it is.
    let (label, now) = match facts.page_views {
        Some(n) => (
            format!(
                " {clock} {} · {n} page views per user",
                facts.clock(s.selected().now_s())
            ),
            0,
        ),
        None => {
            let now = s.selected().now_s().min(total);
            (format!(" {clock} {now} / {total} s"), now)
        }
    };
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
