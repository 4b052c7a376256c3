//! The renderers, the gate, comparison and advice on a fixed report
//! (`fixtures/quickstart-sweep.json`: `ttlab sim quickstart --sweep
//! ttl=0s,1s,5s,30s`, four architectures, thresholds, a publish marker).

use ttlab_reports::advise::{self, Budget};
use ttlab_reports::{Report, compare, gate, html, junit, markdown};

fn fixture() -> Report {
    serde_json::from_str(include_str!("fixtures/quickstart-sweep.json")).expect("a report")
}

/// Lines a chart's SVG draws: polylines of two points or more.
fn drawn_lines(chart: &scraper::ElementRef<'_>) -> usize {
    let polyline = scraper::Selector::parse("polyline").expect("selector");
    chart
        .select(&polyline)
        .filter(|p| {
            p.value()
                .attr("points")
                .is_some_and(|pts| pts.split(' ').count() >= 2)
        })
        .count()
}

/// The fixture with one threshold breached (the CI gate's failing case).
fn breached() -> Report {
    let mut r = fixture();
    let t = &mut r.architectures[2].thresholds[0];
    t.value = 3.0;
    t.holds = false;
    r
}

#[test]
fn markdown_summary() {
    insta::assert_snapshot!("markdown", markdown::render(&fixture()));
    let failing = markdown::render(&breached());
    assert!(
        failing.contains("❌ 1 of 12 thresholds breached"),
        "{failing}"
    );
}

#[test]
fn junit_one_case_per_threshold() {
    insta::assert_snapshot!("junit", junit::render(&[breached()]));
    let xml = junit::render(&[fixture()]);
    assert!(
        xml.contains("tests=\"12\"") && xml.contains("failures=\"0\""),
        "{xml}"
    );
}

#[test]
fn html_is_self_contained_and_every_chart_has_data() {
    let report = fixture();
    let text = html::render(&report);
    let doc = scraper::Html::parse_document(&text);
    let sel = |s: &str| scraper::Selector::parse(s).expect("selector");
    // Nothing to fetch: no scripts, no external sources or styles.
    assert_eq!(doc.select(&sel("script")).count(), 0);
    assert_eq!(doc.select(&sel("[src], link[href]")).count(), 0);
    let figures: Vec<_> = doc.select(&sel("figure.chart")).collect();
    let kind = |f: &scraper::ElementRef<'_>| f.value().attr("data-chart").unwrap_or("").to_owned();
    // Four time series per architecture, the five compared over time, the
    // bars, the sweep's trade-off.
    let archs = report.architectures.len();
    assert_eq!(figures.len(), 4 * archs + 5 + 2);
    for f in &figures {
        let k = kind(f);
        let points: usize = f.value().attr("data-points").unwrap().parse().unwrap();
        assert!(points > 0, "{k} has no data");
        assert_eq!(f.select(&sel("svg")).count(), 1, "{k}: one inline SVG");
        match k.as_str() {
            "origin-load" | "hit-rate" | "staleness" | "latency" | "compare-renders"
            | "compare-hit-rate" | "compare-stale" | "compare-wrong" | "compare-p99" => {
                assert!(drawn_lines(f) > 0, "{k}: a drawn line");
            }
            "comparison" => assert!(f.select(&sel("rect")).count() > archs, "bars"),
            "tradeoff" => assert!(
                f.select(&sel("circle")).count() >= 4 * 4,
                "a point per value and architecture"
            ),
            other => panic!("unexpected chart {other}"),
        }
    }
    for k in [
        "origin-load",
        "hit-rate",
        "staleness",
        "latency",
        "comparison",
        "tradeoff",
    ] {
        assert!(figures.iter().any(|f| kind(f) == k), "missing {k}");
    }
    // The publish at 2 s shows in the timeline list.
    assert!(text.contains("publish home_hero"));
}

#[test]
fn gate_reads_thresholds_and_breaches() {
    let r = fixture();
    assert!(gate::breaches(&r).is_empty());
    let b = breached();
    let found = gate::breaches(&b);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "ssr-origin-variant");
    // Values are read from the report: cdn-shared serves wrong variants.
    let shared = &r.architectures[0];
    let wrong = shared
        .thresholds
        .iter()
        .find(|t| t.measure == "wrong_variant")
        .unwrap();
    assert!((wrong.value - shared.class("wrong_variant") as f64).abs() < 1e-9);
    assert!(
        wrong.value > 0.0 && wrong.holds,
        "the scenario expects wrong variants there"
    );
}

#[test]
fn compare_flags_regressions_beyond_noise_only() {
    let base = fixture();
    let same = compare::compare(&base, &base);
    assert_eq!(same.regressions().count(), 0);
    assert!(same.changes.len() >= 4 * 10);
    // Wrong variants appearing where there were none: always a regression.
    let mut worse = base.clone();
    let a = &mut worse.architectures[2];
    *a.classes.get_mut("wrong_variant").unwrap() += 1;
    *a.classes.get_mut("fresh").unwrap() -= 1;
    let c = compare::compare(&base, &worse);
    let regs: Vec<_> = c.regressions().map(|r| r.measure.as_str()).collect();
    assert_eq!(regs, ["wrong_variant_rate"]);
    // One more stale response in ~900 is noise; a third of them stale is not.
    let mut noisy = base.clone();
    let a = &mut noisy.architectures[1];
    *a.classes.get_mut("stale_variant").unwrap() += 1;
    *a.classes.get_mut("fresh").unwrap() -= 1;
    assert_eq!(compare::compare(&base, &noisy).regressions().count(), 0);
    let mut stale = base.clone();
    let a = &mut stale.architectures[1];
    let third = a.requests / 3;
    *a.classes.get_mut("stale_variant").unwrap() += third;
    *a.classes.get_mut("fresh").unwrap() -= third;
    assert!(
        compare::compare(&base, &stale)
            .regressions()
            .any(|r| r.measure == "stale_variant_rate" && r.arch == "ssr-cdn-user")
    );
    // Latency: 10% and 1 ms worse.
    let mut slow = base.clone();
    slow.architectures[3].latency.all.p99_ms *= 2.0;
    assert!(
        compare::compare(&base, &slow)
            .regressions()
            .any(|r| r.measure == "p99")
    );
}

#[test]
fn advice_picks_the_cheapest_value_within_budget() {
    let r = fixture();
    let advice = advise::advise(&r, |_| Budget {
        stale_variant_rate: 1.0,
        stale_content_rate: 1.0,
    })
    .expect("a sweep");
    let origin = advice
        .iter()
        .find(|a| a.arch == "ssr-origin-variant")
        .unwrap();
    // With no stale budget limit, the longest TTL is the cheapest.
    assert_eq!(origin.value.as_deref(), Some("30s"));
    let (at, first) = origin.renders.unwrap();
    assert!(at <= first);
    // Wrong variants are never traded for load, whatever the budget.
    let shared = advice.iter().find(|a| a.arch == "ssr-cdn-shared").unwrap();
    let sweep = r.sweep.as_ref().unwrap();
    let admitted = |v: &str| {
        sweep
            .points
            .iter()
            .find(|p| p.value == v)
            .unwrap()
            .architectures[0]
            .class("wrong_variant")
            == 0
    };
    if let Some(v) = &shared.value {
        assert!(admitted(v));
    }
    // A zero budget admits only values with no stale answers at all.
    let strict = advise::advise(&r, |_| Budget {
        stale_variant_rate: 0.0,
        stale_content_rate: 0.0,
    })
    .unwrap();
    for a in &strict {
        if let Some(v) = &a.value {
            let p = sweep.points.iter().find(|p| &p.value == v).unwrap();
            let arch = p.architectures.iter().find(|x| x.name == a.arch).unwrap();
            assert_eq!(arch.class("stale_variant") + arch.class("stale_content"), 0);
        }
    }
    assert_eq!(advise::describe("ttl", &advice).len(), 4);
}

#[test]
fn pareto_front_keeps_only_undominated_points() {
    let pts = [(0.0, 1.0), (0.1, 0.5), (0.2, 0.6), (0.3, 0.1), (0.3, 0.2)];
    assert_eq!(html::pareto_front(&pts), vec![0, 1, 3]);
}

/// The shared-cache fields are additive: a report without them reads with their
/// defaults and writes without them; with an outage, the Markdown summary
/// gets a row saying how many requests bypassed the store, and when.
#[test]
fn store_outage_fields_are_optional_and_shown_when_present() {
    let plain = fixture();
    let json = serde_json::to_string(&plain).unwrap();
    for absent in [
        "store_outages",
        "store_bypass",
        "store_errors",
        "remote_fills",
        "origin_replicas",
        "backend",
    ] {
        assert!(!json.contains(absent), "{absent} written for a memory run");
    }
    assert!(plain.architectures.iter().all(|a| a.origin_replicas == 1));
    assert!(!markdown::render(&plain).contains("store down"));

    let mut r = fixture();
    let a = &mut r.architectures[2];
    a.origin_replicas = 3;
    let l = a.layer.as_mut().unwrap();
    l.backend = Some("redis".to_owned());
    l.counts.store_errors = 7;
    l.counts.store_bypass = 180;
    l.store_outages = vec![ttlab_reports::StoreOutage {
        from_s: 1.0,
        until_s: Some(2.5),
    }];
    let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let md = markdown::render(&r);
    assert!(md.contains("| store down: bypassed |"), "{md}");
    assert!(md.contains("180 (1.0–2.5 s)"), "{md}");
    // The HTML marks the outage on that architecture's charts (two more
    // marker lines in each) and not on the others'.
    let red = "stroke=\"#C82828\"";
    let html = html::render(&r);
    assert!(!html::render(&plain).contains(red));
    assert_eq!(
        html.matches(red).count(),
        2 * 4,
        "from and until, four charts"
    );
}

/// A run against an external origin cannot see its requests or renders:
/// offload and renders show as "-", never as a measured 0.
#[test]
fn what_a_target_run_cannot_know_shows_as_a_dash() {
    let mut r = fixture();
    r.architectures.truncate(1);
    r.sweep = None;
    let a = &mut r.architectures[0];
    a.name = ttlab_reports::target_name("http://127.0.0.1:8080");
    a.origin.requests = 0;
    a.origin.renders = 0;
    a.offload = 0.0;
    assert_eq!(a.known_offload(), None);
    assert_eq!(a.known_renders(), None);
    let md = markdown::render(&r);
    assert!(md.contains("| offload | - |"), "{md}");
    assert!(md.contains("| origin renders | - |"), "{md}");
    let page = html::render(&r);
    assert!(
        page.contains("<tr><td>offload</td><td>-</td></tr>"),
        "offload row shows a dash"
    );
    assert!(
        !page.contains("renders/s"),
        "no renders line for an unseen origin"
    );
}

/// The verdict never picks a candidate that serves wrong variants or
/// another visitor's page, even when every threshold of it holds (or it
/// has none): the fixture's winner, given wrong variants, loses to the
/// next lowest load; given a leak instead, the same.
#[test]
fn the_verdict_never_ships_wrong_variants_or_leaks() {
    use ttlab_reports::verdict::verdict;
    let r = fixture();
    let best = verdict(&r).best.expect("the fixture has a winner");
    for class in ["wrong_variant", "leak"] {
        let mut bad = r.clone();
        let sweep = bad.sweep.as_mut().expect("a sweep");
        let arch = sweep
            .points
            .iter_mut()
            .find(|p| Some(&p.value) == best.value.as_ref())
            .and_then(|p| p.architectures.iter_mut().find(|a| a.name == best.arch))
            .expect("the winner's report");
        arch.classes.insert(class.to_owned(), 3);
        assert!(arch.passes(), "its thresholds still hold");
        let v = verdict(&bad);
        let now = v.best.clone().expect("another candidate holds");
        assert!(
            (now.arch.as_str(), now.value.as_deref())
                != (best.arch.as_str(), best.value.as_deref()),
            "{class}: {now:?}"
        );
        let lines = v.lines().join("\n");
        assert!(lines.contains("of its responses"), "{lines}");
    }
}

/// Each measure compared over time is one chart with one line per
/// architecture, each with data, drawn (a polyline of its own colour) and
/// named in the chart's legend.
#[test]
fn each_comparison_chart_has_one_line_per_architecture_with_data() {
    let report = fixture();
    let text = html::render(&report);
    let doc = scraper::Html::parse_document(&text);
    let sel = |s: &str| scraper::Selector::parse(s).expect("selector");
    let names: Vec<&str> = report
        .architectures
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    let compared: Vec<_> = doc.select(&sel("figure.compare")).collect();
    assert_eq!(compared.len(), 5, "renders, hit rate, stale, wrong, p99");
    for f in compared {
        let kind = f.value().attr("data-chart").expect("a kind");
        let lines: Vec<(&str, usize)> = f
            .value()
            .attr("data-lines")
            .expect("the lines")
            .split(',')
            .map(|l| {
                let (name, n) = l.split_once('=').expect("name=points");
                (name, n.parse().expect("a count"))
            })
            .collect();
        let drawn: Vec<&str> = lines.iter().map(|l| l.0).collect();
        assert_eq!(
            drawn, names,
            "{kind}: one line per architecture, in report order"
        );
        for (name, n) in &lines {
            assert!(*n > 0, "{kind}: {name} has data");
        }
        let text: String = f.text().collect();
        for name in &names {
            assert!(text.contains(name), "{kind}: {name} in the legend");
        }
        let polylines = drawn_lines(&f);
        assert!(polylines >= names.len(), "{kind}: {polylines} lines drawn");
    }
}

/// Time charts keep their legend outside the plot (an HTML list under the
/// SVG, none drawn inside it), shade the warm-up when the run had one, and
/// no chart writes text under 12 px (the SVGs are drawn at 720 px and shown
/// at that size in a 1200 px window).
#[test]
fn legends_sit_outside_the_plot_the_warmup_is_shaded_and_text_is_readable() {
    let mut report = fixture();
    report.warmup_s = 2.0;
    let text = html::render(&report);
    let doc = scraper::Html::parse_document(&text);
    let sel = |s: &str| scraper::Selector::parse(s).expect("selector");
    let mut time_charts = 0;
    for f in doc.select(&sel("figure.chart")) {
        let kind = f.value().attr("data-chart").unwrap_or("");
        for t in f.select(&sel("svg text")) {
            let size: f64 = t
                .value()
                .attr("font-size")
                .and_then(|s| s.trim_end_matches("px").parse().ok())
                .unwrap_or_else(|| panic!("{kind}: text without a size"));
            assert!(
                size >= 12.0,
                "{kind}: {size} px text {:?}",
                t.text().collect::<String>()
            );
        }
        if matches!(kind, "tradeoff" | "comparison") {
            continue;
        }
        time_charts += 1;
        let legend: Vec<String> = f
            .select(&sel("ul.legend li"))
            .map(|li| li.text().collect())
            .collect();
        assert!(legend.iter().any(|l| l == "warm-up"), "{kind}: {legend:?}");
        assert!(legend.len() >= 2, "{kind}: {legend:?}");
        // Nothing of the legend inside the SVG: no SVG text is a line's name.
        for t in f.select(&sel("svg text")) {
            let said: String = t.text().collect();
            assert!(
                !legend.iter().any(|l| l == said.trim()),
                "{kind}: {said:?} drawn in the plot"
            );
        }
        let shaded = f.select(&sel("svg rect")).any(|r| {
            r.value()
                .attr("fill")
                .is_some_and(|c| c.eq_ignore_ascii_case("#EBEBEB"))
        });
        assert!(shaded, "{kind}: the warm-up is shaded");
    }
    assert_eq!(time_charts, 4 * report.architectures.len() + 5);
}

/// Labels of points that sit close together, or on one another, are
/// placed so that no two boxes meet and none covers a point.
#[test]
fn labels_placed_around_clustered_points_never_overlap() {
    let points = [
        (80, 100),
        (82, 101),
        (80, 100),
        (300, 50),
        (81, 99),
        (90, 104),
    ];
    let labels = ["0s", "1s", "5s", "30s", "2m", "10m"];
    let widths: Vec<i32> = labels.iter().map(|l| html::label_width(l)).collect();
    let h = 15;
    let bounds = (70, 20, 700, 260);
    let offsets = html::place_labels(&points, &widths, h, bounds);
    let boxes: Vec<(i32, i32, i32, i32)> = points
        .iter()
        .zip(&offsets)
        .zip(&widths)
        .map(|((p, o), w)| (p.0 + o.0, p.1 + o.1, *w, h))
        .collect();
    let meet = |a: (i32, i32, i32, i32), b: (i32, i32, i32, i32)| {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    };
    for i in 0..boxes.len() {
        for j in 0..i {
            assert!(
                !meet(boxes[i], boxes[j]),
                "{} and {} meet: {boxes:?}",
                labels[i],
                labels[j]
            );
        }
        for p in &points {
            assert!(
                !meet(boxes[i], (p.0 - 4, p.1 - 4, 8, 8)),
                "{} covers {p:?}",
                labels[i]
            );
        }
        let b = boxes[i];
        assert!(
            b.0 >= bounds.0 && b.1 >= bounds.1 && b.0 + b.2 <= bounds.2 && b.1 + b.3 <= bounds.3,
            "{} outside the plot: {b:?}",
            labels[i]
        );
    }
}
