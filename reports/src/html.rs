//! A self-contained HTML report: no script, no network — every chart is an
//! inline SVG drawn by `plotters`.
//!
//! Charts, each a `<figure class="chart" data-chart=… data-points=…>`:
//! per architecture, origin load (`origin-load`), hit rate and offload
//! (`hit-rate`), stale and wrong shares (`staleness`) and latency
//! (`latency`) per second, with the timeline's markers as vertical lines;
//! the architectures compared (`comparison`); for a sweep, the trade-off of
//! origin load against staleness with the Pareto front marked (`tradeoff`).

use std::fmt::Write as _;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::gate;
use crate::model::{ArchReport, Marker, Report, SecondPoint};
use crate::verdict::Share;

/// A share of an architecture's responses, for bars.
type BarValue = fn(&ArchReport) -> f64;
/// A summary table cell of an architecture.
type Cell<'a> = &'a dyn Fn(&ArchReport) -> String;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const MARKER: RGBColor = RGBColor(150, 150, 150);
/// The warm-up's shading: the caches filling, out of the headline numbers.
const WARMUP: RGBColor = RGBColor(235, 235, 235);
/// Start and end of a cache store outage (kind `store`): red, to stand out
/// from the timeline's grey.
const STORE_MARKER: RGBColor = RGBColor(200, 40, 40);
const SIZE: (u32, u32) = (720, 300);
/// Text in the charts: plotters' SVG backend writes a size of `n / 1.24`
/// px, so 15 is 12.1 px — the smallest a 1200 px wide page should show.
const TEXT: (&str, u32) = ("sans-serif", 15);

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One named line of a time-series chart.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
}

/// A time-series chart as SVG, with marker lines and the warm-up (its first
/// `warmup_s` seconds) shaded, followed by its legend in HTML: outside the
/// plot, so it never sits on the data, and in the page's own text size.
fn time_chart(
    title: &str,
    y_label: &str,
    lines: &[Line],
    markers: &[Marker],
    warmup_s: f64,
) -> String {
    let x_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(1.0_f64, f64::max);
    let y_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.1;
    let svg = svg_chart(title, 0.0..x_max, 0.0..y_max, false, |chart| {
        if warmup_s > 0.0 {
            let _ = chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (warmup_s.min(x_max), y_max)],
                WARMUP.filled(),
            )));
        }
        let _ = chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(y_label)
            .label_style(TEXT)
            .axis_desc_style(TEXT)
            .light_line_style(WHITE.mix(0.0))
            .draw();
        for m in markers.iter().filter(|m| m.t_s <= x_max) {
            let style = if m.kind == "store" {
                STORE_MARKER.stroke_width(2)
            } else {
                MARKER.stroke_width(1)
            };
            let _ = chart.draw_series(std::iter::once(PathElement::new(
                vec![(m.t_s, 0.0), (m.t_s, y_max)],
                style,
            )));
        }
        for (i, l) in lines.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            if let Ok(series) =
                chart.draw_series(LineSeries::new(l.points.clone(), color.stroke_width(2)))
            {
                series.label(l.name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            }
        }
    });
    let mut legend = String::from("<ul class=\"legend\">");
    for (i, l) in lines.iter().enumerate() {
        let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
        let _ = write!(
            legend,
            "<li><span style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{}</li>",
            esc(&l.name)
        );
    }
    if warmup_s > 0.0 {
        legend.push_str("<li><span class=\"warmup\"></span>warm-up</li>");
    }
    legend.push_str("</ul>");
    svg + &legend
}

fn svg_fallback(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><text>{}</text></svg>",
        esc(title)
    )
}

/// The plotting area every chart draws on.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One chart as SVG: a white canvas, `title`, axes over `x` × `y`, what
/// `draw` puts on it, and the legend of its labelled series.
fn svg_chart(
    title: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    legend: bool,
    draw: impl FnOnce(&mut Chart<'_, '_>),
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(8)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)
        else {
            return svg_fallback(title);
        };
        draw(&mut chart);
        if legend {
            let _ = chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .label_font(TEXT)
                .draw();
        }
        let _ = root.present();
    }
    svg
}

/// A line's points: each at the end of its second (or bucket of `width`
/// seconds).
fn per_second(
    series: &[SecondPoint],
    width: u32,
    f: impl Fn(&SecondPoint) -> Option<f64>,
) -> Vec<(f64, f64)> {
    series
        .iter()
        .filter_map(|p| f(p).map(|v| (f64::from(p.t_s) + f64::from(width), v)))
        .collect()
}

fn share(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| n as f64 / of as f64)
}

fn figure(
    out: &mut String,
    kind: &str,
    arch: Option<&str>,
    points: usize,
    caption: &str,
    svg: &str,
) {
    let _ = writeln!(
        out,
        "<figure class=\"chart\" data-chart=\"{kind}\"{} data-points=\"{points}\">{svg}<figcaption>{}</figcaption></figure>",
        arch.map_or(String::new(), |a| format!(" data-arch=\"{}\"", esc(a))),
        esc(caption)
    );
}

/// Lines an external origin's run cannot draw: ttlab does not see its requests.
const UNSEEN_WITH_A_TARGET: [&str; 3] = ["origin requests/s", "renders/s", "offload"];

/// The points of `a`'s series that cover their whole width: the last one
/// of a run whose length is not a whole number of widths covers only part
/// of its second (or bucket), so its counts would draw as a drop at the
/// end and its shares would rest on a handful of responses. It is left out
/// of the charts (its responses are in every total).
pub fn whole_points(a: &ArchReport) -> &[SecondPoint] {
    let width = f64::from(a.series_width_s.max(1));
    let whole = a
        .series
        .iter()
        .rposition(|p| f64::from(p.t_s) + width <= a.elapsed_s + 1e-6)
        .map_or(0, |i| i + 1);
    // A run shorter than one width keeps its one point.
    if whole == 0 {
        &a.series
    } else {
        &a.series[..whole]
    }
}

/// A measure over time, per architecture: its value at a series point
/// of `width` seconds.
type Measure = fn(&SecondPoint, f64) -> Option<f64>;

/// The measures compared across architectures, one chart each: (chart
/// kind, what it shows, y axis, the measure, whether it needs the
/// origin's renders counted).
const COMPARED: [(&str, &str, &str, Measure, bool); 5] = [
    (
        "compare-renders",
        "origin renders",
        "per second",
        |p, width| Some(p.origin.renders as f64 / width),
        true,
    ),
    (
        "compare-hit-rate",
        "hit rate",
        "share",
        |p, _| share(p.from_cache, p.requests),
        false,
    ),
    (
        "compare-stale",
        "stale share (variant and content)",
        "share",
        |p, _| {
            share(
                p.classes.stale_variant + p.classes.stale_content,
                p.requests,
            )
        },
        false,
    ),
    (
        "compare-wrong",
        "wrong-variant share",
        "share",
        |p, _| share(p.classes.wrong_variant, p.requests),
        false,
    ),
    (
        "compare-p99",
        "p99 latency",
        "ms",
        |p, _| (p.requests > 0).then_some(p.p99_ms),
        false,
    ),
];

/// Each compared measure over time with every architecture on one chart,
/// so that comparing does not mean scrolling. An architecture whose
/// renders ttlab could not count (an external origin, the team's app) has
/// no line on the renders chart, and the caption says so.
fn comparison_charts(out: &mut String, report: &Report) {
    if report.architectures.len() < 2 {
        return;
    }
    out.push_str("<h2>Compared over time</h2>\n");
    for (kind, what, y_label, measure, needs_renders) in COMPARED {
        let (drawn, unseen): (Vec<&ArchReport>, Vec<&ArchReport>) = report
            .architectures
            .iter()
            .partition(|a| !needs_renders || a.renders_seen());
        let lines: Vec<Line> = drawn
            .iter()
            .map(|a| {
                let width = a.series_width_s.max(1);
                Line {
                    name: a.name.clone(),
                    points: per_second(whole_points(a), width, |p| measure(p, f64::from(width))),
                }
            })
            .collect();
        let mut caption = format!("{what}, every architecture");
        if !unseen.is_empty() {
            let names: Vec<&str> = unseen.iter().map(|a| a.name.as_str()).collect();
            let _ = write!(caption, " (not counted for {})", names.join(", "));
        }
        let points = lines.iter().map(|l| l.points.len()).max().unwrap_or(0);
        let svg = time_chart(
            &format!("{what} — compared"),
            y_label,
            &lines,
            &report.markers,
            report.warmup_s,
        );
        let data: Vec<String> = lines
            .iter()
            .map(|l| format!("{}={}", l.name, l.points.len()))
            .collect();
        let _ = writeln!(
            out,
            "<figure class=\"chart compare\" data-chart=\"{kind}\" data-points=\"{points}\" data-lines=\"{}\">{svg}<figcaption>{}</figcaption></figure>",
            esc(&data.join(",")),
            esc(&caption)
        );
    }
}

fn arch_charts(out: &mut String, a: &ArchReport, markers: &[Marker], warmup_s: f64) {
    let s = whole_points(a);
    // An external origin's requests and renders are not seen: no line for
    // them; nor for the renders of the team's app behind ttlab's layer.
    let seen = a.origin_seen();
    let renders_seen = a.renders_seen();
    let width = a.series_width_s.max(1);
    let line = |name: &str, f: &dyn Fn(&SecondPoint) -> Option<f64>| Line {
        name: name.to_owned(),
        points: per_second(s, width, f),
    };
    // A point of a long run's series covers `width` seconds: its counts,
    // divided by the width, are still per second.
    let rate = |n: u64| n as f64 / f64::from(width);
    // (chart kind, what it shows, y axis, lines)
    let charts = [
        (
            "origin-load",
            "origin load",
            "per second",
            vec![
                line("visitor requests/s", &|p| Some(rate(p.requests))),
                line("origin requests/s", &|p| Some(rate(p.origin.requests))),
                line("renders/s", &|p| Some(rate(p.origin.renders))),
                line("Personalize calls/s", &|p| {
                    Some(rate(p.origin.personalize_calls))
                }),
                line("Delivery calls/s", &|p| Some(rate(p.origin.delivery_calls))),
            ],
        ),
        (
            "hit-rate",
            "hit rate and offload",
            "share",
            vec![
                line("hit rate", &|p| share(p.from_cache, p.requests)),
                line("offload", &|p| {
                    share(p.requests.saturating_sub(p.origin.requests), p.requests)
                }),
            ],
        ),
        (
            "staleness",
            "stale and wrong shares",
            "share",
            vec![
                line("stale_variant", &|p| {
                    share(p.classes.stale_variant, p.requests)
                }),
                line("stale_content", &|p| {
                    share(p.classes.stale_content, p.requests)
                }),
                line("wrong_variant", &|p| {
                    share(p.classes.wrong_variant, p.requests)
                }),
            ],
        ),
        (
            "latency",
            "latency",
            "ms",
            vec![
                line("p50", &|p| (p.requests > 0).then_some(p.p50_ms)),
                line("p99", &|p| (p.requests > 0).then_some(p.p99_ms)),
            ],
        ),
    ];
    for (kind, what, y_label, mut lines) in charts {
        if !seen {
            lines.retain(|l| !UNSEEN_WITH_A_TARGET.contains(&l.name.as_str()));
        }
        if !renders_seen {
            lines.retain(|l| l.name != "renders/s");
        }
        figure(
            out,
            kind,
            Some(&a.name),
            s.len(),
            &if width == 1 {
                format!("{}: {what} per second", a.name)
            } else {
                format!("{}: {what} per second, each point {width} s", a.name)
            },
            &time_chart(
                &format!("{} — {what}", a.name),
                y_label,
                &lines,
                markers,
                warmup_s,
            ),
        );
    }
}

/// The caching layer's store outages as chart markers (kind `store`): a
/// line where each began and one where it ended.
fn store_markers(a: &ArchReport) -> Vec<Marker> {
    let Some(l) = &a.layer else {
        return Vec::new();
    };
    let store = l.backend.as_deref().unwrap_or("store");
    l.store_outages
        .iter()
        .flat_map(|o| {
            let from = Marker {
                t_s: o.from_s,
                kind: "store".to_owned(),
                label: format!("{store} down"),
            };
            let until = o.until_s.map(|t| Marker {
                t_s: t,
                kind: "store".to_owned(),
                label: format!("{store} back"),
            });
            std::iter::once(from).chain(until)
        })
        .collect()
}

/// Bars of four shares per architecture.
fn comparison_chart(archs: &[ArchReport]) -> String {
    let measures: [(&str, BarValue); 4] = [
        ("offload", |a| a.offload),
        ("hit rate", |a| a.layer.as_ref().map_or(0.0, |l| l.hit_rate)),
        ("stale", |a| {
            a.rate("stale_variant") + a.rate("stale_content")
        }),
        ("wrong", |a| a.rate("wrong_variant")),
    ];
    let groups = archs.len().max(1) as f64;
    let names: Vec<String> = archs.iter().map(|a| a.name.clone()).collect();
    svg_chart(
        "architectures compared",
        0.0..groups,
        0.0..1.05,
        true,
        |chart| {
            let _ = chart
                .configure_mesh()
                .label_style(TEXT)
                .axis_desc_style(TEXT)
                // Ticks every half unit; a name sits at each group's middle.
                .x_labels(archs.len().max(1) * 2 + 1)
                .x_label_formatter(&|x| {
                    if (x.fract() - 0.5).abs() < 1e-6 {
                        names.get(x.floor() as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc("share")
                .disable_x_mesh()
                .draw();
            let width = 0.8 / measures.len() as f64;
            for (m, (name, f)) in measures.iter().enumerate() {
                let color = PALETTE[m % PALETTE.len()];
                let bars = archs.iter().enumerate().map(|(i, a)| {
                    let x0 = i as f64 + 0.1 + m as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.9, f(a))], color.filled())
                });
                if let Ok(series) = chart.draw_series(bars) {
                    series.label(*name).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
                }
            }
        },
    )
}

/// Indices of the points no other point beats on both axes (both lower is better).
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| {
            let (x, y) = points[i];
            !points
                .iter()
                .enumerate()
                .any(|(j, &(qx, qy))| j != i && qx <= x && qy <= y && (qx < x || qy < y))
        })
        .collect();
    front.sort_by(|a, b| points[*a].0.total_cmp(&points[*b].0));
    front
}

/// Origin load (share of requests reaching the origin) against stale share,
/// one series per architecture, labelled by the swept value.
fn tradeoff_chart(report: &Report) -> Option<(String, usize)> {
    let sweep = report.sweep.as_ref()?;
    let names: Vec<String> = sweep
        .points
        .first()?
        .architectures
        .iter()
        .map(|a| a.name.clone())
        .collect();
    let all: Vec<(f64, f64)> = sweep
        .points
        .iter()
        .flat_map(|p| p.architectures.iter().map(point_of))
        .collect();
    let x_max = all.iter().map(|p| p.0).fold(1e-6_f64, f64::max) * 1.15;
    let y_max = all.iter().map(|p| p.1).fold(1e-6_f64, f64::max) * 1.15;
    let mut total = 0;
    let title = format!("trade-off over {}", sweep.option);
    let mut placed: Vec<((i32, i32), String)> = Vec::new();
    let svg = svg_chart(&title, 0.0..x_max, 0.0..y_max, true, |chart| {
        let _ = chart
            .configure_mesh()
            .label_style(TEXT)
            .axis_desc_style(TEXT)
            .x_desc("stale share (variant + content)")
            .y_desc("origin load (share of requests)")
            .draw();
        for (i, name) in names.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64, String)> = sweep
                .points
                .iter()
                .filter_map(|p| {
                    p.architectures.iter().find(|a| &a.name == name).map(|a| {
                        let (x, y) = point_of(a);
                        (x, y, p.value.clone())
                    })
                })
                .collect();
            total += pts.len();
            let xy: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1)).collect();
            placed.extend(
                pts.iter()
                    .map(|(x, y, v)| (chart.backend_coord(&(*x, *y)), v.clone())),
            );
            if let Ok(series) = chart.draw_series(pts.iter().map(|(x, y, _)| {
                EmptyElement::at((*x, *y)) + Circle::new((0, 0), 4, color.filled())
            })) {
                series
                    .label(name.clone())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
            }
            let front = pareto_front(&xy);
            let _ = chart.draw_series(LineSeries::new(
                front.iter().map(|i| xy[*i]),
                color.stroke_width(2),
            ));
            let _ = chart.draw_series(
                front
                    .iter()
                    .map(|i| Circle::new(xy[*i], 7, color.stroke_width(2))),
            );
        }
        // Every value's label, placed clear of the labels before it and of
        // every point.
        let at: Vec<(i32, i32)> = placed.iter().map(|p| p.0).collect();
        let widths: Vec<i32> = placed.iter().map(|p| label_width(&p.1)).collect();
        let root = chart.plotting_area().strip_coord_spec();
        let (left, top) = (root.get_base_pixel().0, root.get_base_pixel().1);
        let (w, h) = root.dim_in_pixel();
        let offsets = place_labels(
            &at,
            &widths,
            LABEL_HEIGHT,
            (left, top, left + w as i32, top + h as i32),
        );
        for ((point, v), (dx, dy)) in placed.iter().zip(offsets) {
            let _ = root.draw(&Text::new(
                v.clone(),
                (point.0 + dx - left, point.1 + dy - top),
                TEXT,
            ));
        }
    });
    Some((svg, total))
}

/// A chart label's height in pixels: [`TEXT`] is drawn 12.1 px high, and a
/// little air keeps two labels apart.
const LABEL_HEIGHT: i32 = 15;

/// A label's width in pixels at [`TEXT`]'s size, on the wide side (0.62
/// of the size a character: sans-serif digits and letters are narrower).
pub fn label_width(text: &str) -> i32 {
    (text.chars().count() as f64 * 12.1 * 0.62).ceil() as i32 + 2
}

/// Where each label goes, as an offset of its top-left corner from its
/// point (`points`, pixels): the first place, ring by ring outwards, whose
/// box (`widths[i]` × `height`) meets no label placed before it and no
/// point's marker and lies inside `bounds` (left, top, right, bottom: the
/// plot, where a label is drawn whole) — right of the point first, then
/// left, above, below and the diagonals. Labels of points that sit on one
/// another end up stacked instead of written over each other.
pub fn place_labels(
    points: &[(i32, i32)],
    widths: &[i32],
    height: i32,
    bounds: (i32, i32, i32, i32),
) -> Vec<(i32, i32)> {
    const MARK: i32 = 8;
    let overlaps = |a: (i32, i32, i32, i32), b: (i32, i32, i32, i32)| {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    };
    let marks: Vec<(i32, i32, i32, i32)> = points
        .iter()
        .map(|(x, y)| (x - MARK, y - MARK, 2 * MARK, 2 * MARK))
        .collect();
    let mut boxes: Vec<(i32, i32, i32, i32)> = Vec::new();
    let mut out = Vec::with_capacity(points.len());
    for (&(x, y), &w) in points.iter().zip(widths) {
        let mut chosen = None;
        'rings: for ring in 0..40 {
            let gap = MARK + ring * height;
            let half = height / 2;
            for (dx, dy) in [
                (gap, -half),
                (-gap - w, -half),
                (-w / 2, -gap - height),
                (-w / 2, gap),
                (gap, -gap - height),
                (gap, gap),
                (-gap - w, -gap - height),
                (-gap - w, gap),
            ] {
                let b = (x + dx, y + dy, w, height);
                let inside = b.0 >= bounds.0
                    && b.1 >= bounds.1
                    && b.0 + b.2 <= bounds.2
                    && b.1 + b.3 <= bounds.3;
                let clear = inside
                    && boxes.iter().all(|o| !overlaps(b, *o))
                    && marks.iter().all(|m| !overlaps(b, *m));
                if clear {
                    chosen = Some((dx, dy));
                    break 'rings;
                }
            }
        }
        let (dx, dy) = chosen.unwrap_or((MARK, -height / 2));
        boxes.push((x + dx, y + dy, w, height));
        out.push((dx, dy));
    }
    out
}

fn point_of(a: &ArchReport) -> (f64, f64) {
    (
        a.rate("stale_variant") + a.rate("stale_content"),
        1.0 - a.offload,
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}.bad{color:#c00;font-weight:bold}.ok{color:#080}\
figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}\
.warning{color:#a40;border-left:3px solid #c84;padding-left:.6em}\
.verdict{border-left:4px solid #2a7;padding:.2em .8em;background:#f4faf6}\
.legend{list-style:none;padding:0;margin:.3em 0;font-size:13px}.legend li{display:inline-block;margin-right:1.2em}\
.legend span{display:inline-block;width:16px;height:4px;margin-right:.4em;vertical-align:middle}\
.legend span.warmup{height:12px;background:#ebebeb}";

/// The verdict ([`crate::verdict`]) at the top: what to ship, then what
/// each other candidate breaks.
fn verdict_section(out: &mut String, report: &Report) {
    let lines = crate::verdict::verdict(report).lines();
    let Some((first, rest)) = lines.split_first() else {
        return;
    };
    let _ = writeln!(
        out,
        "<section class=\"verdict\">\n<h2>Verdict</h2>\n<p><strong>{}</strong></p>",
        esc(first)
    );
    if !rest.is_empty() {
        out.push_str("<ul>\n");
        for line in rest {
            let _ = writeln!(out, "<li>{}</li>", esc(line));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// The HTML report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let title = format!("ttlab · {} · {}", report.scenario, report.mode);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{} run, seed {}, {} s per architecture{}{}</p>\n",
        esc(&title),
        esc(&title),
        esc(&report.mode),
        report.seed,
        report.duration_s,
        if report.interrupted {
            " — <strong>interrupted</strong>"
        } else {
            ""
        },
        if report.warmup_s > 0.0 {
            format!(
                "; the first {} s warmed the caches and count in the charts only",
                report.warmup_s
            )
        } else {
            String::new()
        }
    );
    verdict_section(&mut out, report);
    summary_table(&mut out, report);
    comparison_charts(&mut out, report);
    thresholds_table(&mut out, report);
    if !report.markers.is_empty() {
        out.push_str("<h2>Timeline</h2>\n<ul>\n");
        for m in &report.markers {
            let _ = writeln!(out, "<li>{:.0} s — {}</li>", m.t_s, esc(&m.label));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Architectures</h2>\n");
    figure(
        &mut out,
        "comparison",
        None,
        report.architectures.len(),
        "offload, hit rate, stale and wrong shares per architecture",
        &comparison_chart(&report.architectures),
    );
    for a in &report.architectures {
        let _ = writeln!(out, "<h2>{}</h2>", esc(&a.name));
        for w in &a.warnings {
            let _ = writeln!(out, "<p class=\"warning\">{}</p>", esc(w));
        }
        let mut markers = report.markers.clone();
        markers.extend(store_markers(a));
        arch_charts(&mut out, a, &markers, report.warmup_s);
    }
    if let Some((svg, n)) = tradeoff_chart(report) {
        out.push_str("<h2>Sweep</h2>\n");
        figure(
            &mut out,
            "tradeoff",
            None,
            n,
            "origin load against stale share for each swept value; circled points form the Pareto front",
            &svg,
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn summary_table(out: &mut String, report: &Report) {
    out.push_str("<table class=\"summary\">\n<tr><th></th>");
    for a in &report.architectures {
        let _ = write!(out, "<th>{}</th>", esc(&a.name));
    }
    out.push_str("</tr>\n");
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let rows: [(&str, Cell<'_>); 8] = [
        ("requests", &|a| a.requests.to_string()),
        ("offload", &|a| a.known_offload().map_or("-".into(), pct)),
        ("hit rate", &|a| {
            a.layer.as_ref().map_or("-".into(), |l| match &a.cdn {
                // A cache that was not ttlab's says which it was.
                Some(c) => format!("{} ({})", pct(l.hit_rate), c.short()),
                None => pct(l.hit_rate),
            })
        }),
        ("origin renders", &|a| {
            a.known_renders().map_or("-".into(), |r| r.to_string())
        }),
        ("stale_variant", &|a| {
            Share::of_class(a, "stale_variant").shown()
        }),
        ("stale_content", &|a| {
            Share::of_class(a, "stale_content").shown()
        }),
        ("wrong_variant", &|a| match a.class("wrong_variant") {
            0 => "0".into(),
            n => format!("{n}, {}", Share::of_class(a, "wrong_variant").shown()),
        }),
        ("latency p50 / p99", &|a| {
            format!(
                "{:.1} / {:.1} ms",
                a.latency.all.p50_ms, a.latency.all.p99_ms
            )
        }),
    ];
    for (name, f) in rows {
        let _ = write!(out, "<tr><td>{name}</td>");
        for a in &report.architectures {
            let bad = name == "wrong_variant" && a.class("wrong_variant") > 0;
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if bad { " class=\"bad\"" } else { "" },
                esc(&f(a))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn thresholds_table(out: &mut String, report: &Report) {
    if report.architectures.iter().all(|a| a.thresholds.is_empty()) {
        return;
    }
    let breaches = gate::breaches(report).len();
    let _ = writeln!(
        out,
        "<h2>Thresholds: {}</h2>\n<table class=\"thresholds\">\n<tr><th>architecture</th><th>threshold</th><th>value</th><th></th></tr>",
        if breaches == 0 {
            "all hold".to_owned()
        } else {
            format!("{breaches} breached")
        }
    );
    for a in &report.architectures {
        for t in &a.thresholds {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&a.name),
                esc(&t.describe()),
                esc(&t.shown_value()),
                if t.holds { "ok" } else { "bad" },
                if t.holds { "holds" } else { "breached" }
            );
        }
    }
    out.push_str("</table>\n");
}
