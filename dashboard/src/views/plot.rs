//! The line chart the views draw with: a run's seconds on the x axis, the
//! timeline's markers as dotted vertical lines, the legend in the border.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};

use super::format::count;
use crate::state::{ArchState, DashState, MarkerKind, SecondStats};

/// The colour of a marker kind on the charts.
pub(crate) fn marker_style(kind: MarkerKind) -> Style {
    Style::new().fg(match kind {
        MarkerKind::Publish => Color::Yellow,
        MarkerKind::Experience => Color::Magenta,
        MarkerKind::Storm => Color::Red,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_axes_end_on_round_numbers() {
        assert!((nice_max(730.0) - 1000.0).abs() < 1e-9);
        assert!((nice_max(130.0) - 200.0).abs() < 1e-9);
    }
}
