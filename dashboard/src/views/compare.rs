//! Every architecture side by side: one column each, the same rows as the
//! run's summary; below, when the terminal is tall enough, each one's
//! visitor and origin requests per second.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, Row, Table};

use super::format::{bad_style, count, fit, micros, pct, per_s};
use super::plot::{nice_max, series};
use crate::state::{ArchState, CLASSES, DashState, Quantiles};

/// Rows of the table, label and cell.
type Cellf = fn(&ArchState) -> Cell<'static>;

fn rate(a: &ArchState, x: u64) -> String {
    let n = a.now_s();
    if n == 0 {
        "-".to_owned()
    } else {
        per_s(x as f64 / f64::from(n))
    }
}

fn class_cell(a: &ArchState, c: usize) -> Cell<'static> {
    let n = a.total.classes[c];
    Cell::from(if a.started() {
        pct(a.rate(c))
    } else {
        "-".to_owned()
    })
    .style(bad_style(c, n))
}

const ROWS: [(&str, Cellf); 17] = [
    ("visitor req/s", |a| rate(a, a.total.requests()).into()),
    ("origin req/s", |a| rate(a, a.total.origin.requests).into()),
    ("offload", |a| {
        a.total.offload().map_or("-".into(), pct).into()
    }),
    ("hit rate", |a| {
        a.total.hit_rate().map_or("-".into(), pct).into()
    }),
    ("renders/s", |a| rate(a, a.total.origin.renders).into()),
    ("Personalize/s", |a| {
        rate(a, a.total.origin.personalize_calls).into()
    }),
    ("Delivery/s", |a| {
        rate(a, a.total.origin.delivery_calls).into()
    }),
    (CLASSES[0], |a| class_cell(a, 0)),
    (CLASSES[1], |a| class_cell(a, 1)),
    (CLASSES[2], |a| class_cell(a, 2)),
    (CLASSES[3], |a| class_cell(a, 3)),
    (CLASSES[4], |a| class_cell(a, 4)),
    (CLASSES[5], |a| class_cell(a, 5)),
    (CLASSES[6], |a| class_cell(a, 6)),
    ("staleness p99", |a| {
        let q = Quantiles::of(&a.staleness);
        (if q.count == 0 {
            "-".to_owned()
        } else {
            micros(q.p99)
        })
        .into()
    }),
    ("latency p50", |a| {
        let q = Quantiles::of(&a.latency_all());
        (if q.count == 0 {
            "-".to_owned()
        } else {
            micros(q.p50)
        })
        .into()
    }),
    ("latency p99", |a| {
        let q = Quantiles::of(&a.latency_all());
        (if q.count == 0 {
            "-".to_owned()
        } else {
            micros(q.p99)
        })
        .into()
    }),
];

pub(super) fn draw(f: &mut Frame, area: Rect, s: &DashState) {
    // Header, state row, the rows, borders.
    let table_h = ROWS.len() as u16 + 4;
    let [table, rest] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(area);
    let n = s.archs.len().max(1) as u16;
    let label_w = 14u16;
    let col_w = (table.width.saturating_sub(label_w + 2 + n) / n).max(4);
    let header = Row::new(std::iter::once(Cell::from("")).chain(
        s.facts.archs.iter().enumerate().map(|(i, name)| {
            let style = if i == s.selected {
                Style::new().fg(Color::Cyan).bold()
            } else {
                Style::new().bold()
            };
            Cell::from(fit(name, col_w as usize)).style(style)
        }),
    ));
    let state = Row::new(std::iter::once(Cell::from("state")).chain(
        s.archs.iter().enumerate().map(|(i, a)| {
            let running = s.status.current == Some(i) && !s.status.finished;
            Cell::from(if running {
                s.facts.clock(a.now_s())
            } else if a.started() {
                "done".to_owned()
            } else {
                "waiting".to_owned()
            })
        }),
    ));
    let rows = std::iter::once(state).chain(ROWS.iter().map(|(label, cell)| {
        Row::new(std::iter::once(Cell::from(*label)).chain(s.archs.iter().map(cell)))
    }));
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(label_w))
        .chain((0..n).map(|_| Constraint::Length(col_w)))
        .collect();
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(" compare (rates: averages over the run) ")),
        table,
    );
    if rest.height >= 8 {
        let cols =
            Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, u32::from(n)))).split(rest);
        for ((a, name), area) in s.archs.iter().zip(&s.facts.archs).zip(cols.iter()) {
            mini_chart(f, *area, s, a, name);
        }
    }
}

/// Visitor and origin requests per second of one architecture.
fn mini_chart(f: &mut Frame, area: Rect, s: &DashState, a: &ArchState, name: &str) {
    let visitor = series(a, |x| Some(x.requests() as f64));
    let origin = series(a, |x| Some(x.origin.requests as f64));
    let top = nice_max(
        visitor
            .iter()
            .chain(&origin)
            .map(|p| p.1)
            .fold(0.0, f64::max),
    );
    let x_max = f64::from(s.x_max());
    let datasets = vec![
        Dataset::default()
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&visitor),
        Dataset::default()
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Green))
            .data(&origin),
    ];
    let title = Line::from(vec![
        Span::raw(" "),
        Span::raw(fit(name, area.width.saturating_sub(4) as usize)),
        Span::raw(" "),
    ]);
    let legend = Line::from(vec![
        Span::styled(" visitor", Style::new().fg(Color::Cyan)),
        Span::raw(" vs "),
        Span::styled("origin/s ", Style::new().fg(Color::Green)),
    ]);
    f.render_widget(
        Chart::new(datasets)
            .block(Block::bordered().title(title).title_bottom(legend))
            .x_axis(Axis::default().bounds([0.0, x_max]))
            .y_axis(
                Axis::default()
                    .bounds([0.0, top])
                    .style(Style::new().fg(Color::DarkGray))
                    .labels([Line::raw("0"), Line::raw(count(top as u64))]),
            ),
        area,
    );
}
