//! One architecture at a glance: origin load and hit rate over the run,
//! correctness, latency and the last second's load.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};

use super::format::{bad_style, count, micros, pct, per_s};
use super::plot::{Series, line_chart, series};
use crate::state::{ArchState, CLASSES, DashState, Quantiles, RECENT};

pub(super) fn draw(f: &mut Frame, area: Rect, s: &DashState) {
    let [charts, tables] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(11)]).areas(area);
    let [load, hits] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(charts);
    load_chart(f, load, s);
    hit_chart(f, hits, s);
    let [classes, right] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(tables);
    correctness(f, classes, s.selected());
    let [now, latency] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(right);
    load_now(f, now, s.selected(), s.facts.duration_s);
    latency_table(f, latency, s.selected());
}

/// Visitor and origin requests, renders, Personalize and Delivery calls per second.
pub(super) fn load_chart(f: &mut Frame, area: Rect, s: &DashState) {
    let a = s.selected();
    let lines = [
        Series {
            name: "visitor",
            color: Color::Cyan,
            points: series(a, |x| Some(x.requests() as f64)),
        },
        Series {
            name: "origin",
            color: Color::Green,
            points: series(a, |x| Some(x.origin.requests as f64)),
        },
        Series {
            name: "renders",
            color: Color::LightBlue,
            points: series(a, |x| Some(x.origin.renders as f64)),
        },
        Series {
            name: "Personalize",
            color: Color::White,
            points: series(a, |x| Some(x.origin.personalize_calls as f64)),
        },
        Series {
            name: "Delivery",
            color: Color::Gray,
            points: series(a, |x| Some(x.origin.delivery_calls as f64)),
        },
    ];
    line_chart(f, area, s, Line::raw(" requests/s "), &lines, None, "");
}

/// Hit rate and offload per second, with the current figures in the title.
pub(super) fn hit_chart(f: &mut Frame, area: Rect, s: &DashState) {
    let a = s.selected();
    let lines = [
        Series {
            name: "hit rate",
            color: Color::Green,
            points: series(a, |x| x.hit_rate().map(|r| r * 100.0)),
        },
        Series {
            name: "offload",
            color: Color::Cyan,
            points: series(a, |x| x.offload().map(|r| r * 100.0)),
        },
    ];
    let t = &a.total;
    let mut title = Line::from(vec![
        Span::raw(" hit "),
        Span::styled(
            t.hit_rate().map_or("-".to_owned(), pct),
            Style::new().fg(Color::Green).bold(),
        ),
        Span::raw(" · offload "),
        Span::styled(
            t.offload().map_or("-".to_owned(), pct),
            Style::new().fg(Color::Cyan).bold(),
        ),
        Span::raw(" "),
    ]);
    // The cache's store unavailable (Redis down): the origin answered
    // around it, which the hit rate alone does not say.
    let down = t.layer.map_or(0, |l| l.store_bypass);
    if down > 0 {
        title.push_span(Span::styled(
            format!("· store down: {} bypassed ", count(down)),
            Style::new().fg(Color::Red).bold(),
        ));
    }
    line_chart(f, area, s, title, &lines, Some(100.0), "%");
}

/// Counts and shares of each class, staleness percentiles below.
pub(super) fn correctness(f: &mut Frame, area: Rect, a: &ArchState) {
    let rows = CLASSES.iter().enumerate().map(|(i, name)| {
        let n = a.total.classes[i];
        Row::new([name.to_string(), count(n), pct(a.rate(i))]).style(bad_style(i, n))
    });
    let st = Quantiles::of(&a.staleness);
    let bottom = if st.count == 0 {
        " staleness - ".to_owned()
    } else {
        format!(" staleness p50 {} p99 {} ", micros(st.p50), micros(st.p99))
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(13),
            Constraint::Length(7),
            Constraint::Min(6),
        ],
    )
    .header(Row::new(["class", "count", "rate"]).style(Style::new().bold()))
    .block(
        Block::bordered()
            .title(" correctness ")
            .title_bottom(Line::raw(bottom)),
    );
    f.render_widget(table, area);
}

/// The last second's load, per second.
fn load_now(f: &mut Frame, area: Rect, a: &ArchState, duration_s: u32) {
    // The last second within the run: a tail after its end holds only the
    // last fills' answers.
    let i = a.now_s().min(duration_s) as usize;
    let last = i
        .checked_sub(1)
        .and_then(|i| a.seconds.get(i))
        .cloned()
        .unwrap_or_default();
    let v = |x: u64| Span::styled(per_s(x as f64), Style::new().bold());
    let text = vec![
        Line::from(vec![
            Span::raw("visitor "),
            v(last.requests()),
            Span::raw("  origin "),
            v(last.origin.requests),
            Span::raw("  renders "),
            v(last.origin.renders),
        ]),
        Line::from(vec![
            Span::raw("Personalize "),
            v(last.origin.personalize_calls),
            Span::raw("  Delivery "),
            v(last.origin.delivery_calls),
        ]),
    ];
    f.render_widget(
        Paragraph::new(text).block(Block::bordered().title(" last second, /s ")),
        area,
    );
}

/// Latency percentiles over the run, overall and by outcome, and of the
/// last seconds.
pub(super) fn latency_table(f: &mut Frame, area: Rect, a: &ArchState) {
    let row = |name: String, q: Quantiles| {
        let cell = |v: u64| {
            if q.count == 0 {
                "-".to_owned()
            } else {
                micros(v)
            }
        };
        Row::new([name, cell(q.p50), cell(q.p90), cell(q.p99), cell(q.p999)])
    };
    let rows = [
        row("all".into(), Quantiles::of(&a.latency_all())),
        row("hit".into(), Quantiles::of(&a.latency_hit)),
        row("miss".into(), Quantiles::of(&a.latency_miss)),
        row(
            format!("last {RECENT}s"),
            Quantiles::of(&a.latency_recent(RECENT)),
        ),
    ];
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(["latency", "p50", "p90", "p99", "p99.9"]).style(Style::new().bold()))
    .block(Block::bordered().title(" latency "));
    f.render_widget(table, area);
}
