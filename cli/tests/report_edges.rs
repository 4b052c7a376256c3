//! The report's charts at the run's end, as a user's `ttlab sim` writes
//! them: a run whose length is not a whole number of seconds ends in a
//! partial second, which the charts leave out (its responses stay in every
//! total) instead of drawing it as a drop to zero.

mod common;

use common::ttlab;

use ttlab_test_support::process::fresh_dir;

#[test]
fn a_run_of_five_and_a_half_seconds_charts_five_whole_seconds() {
    let dir = fresh_dir("report-edges");
    let quickstart = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quickstart.toml"),
    )
    .expect("the shipped quickstart");
    let scenario = dir.join("half.toml");
    let lines: Vec<String> = quickstart
        .lines()
        .map(|l| {
            if l.starts_with("duration = ") {
                "duration = \"5500ms\"".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(
        lines.iter().any(|l| l == "duration = \"5500ms\""),
        "quickstart has a duration line"
    );
    std::fs::write(&scenario, lines.join("\n")).expect("write the scenario");
    let out = dir.join("out");
    let o = ttlab(&[
        "sim",
        scenario.to_str().expect("UTF-8"),
        "-q",
        "--no-tui",
        "-o",
        out.to_str().expect("UTF-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let folder = std::fs::read_dir(&out)
        .expect("the output folder")
        .next()
        .expect("one report")
        .expect("an entry")
        .path();
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    let html = std::fs::read_to_string(folder.join("report.html")).expect("report.html");
    let archs = report["architectures"].as_array().expect("architectures");
    assert!(!archs.is_empty());
    for a in archs {
        let name = a["name"].as_str().expect("a name");
        let series = a["series"].as_array().expect("a series");
        // The report keeps the half second (its responses count)...
        assert_eq!(series.len(), 6, "{name}: seconds 0..=5 in report.json");
        let last = series.last().expect("a last point");
        let full = &series[series.len() - 2];
        assert!(
            last["requests"].as_u64() < full["requests"].as_u64(),
            "{name}: the last point holds half a second"
        );
        // ...and every chart of the architecture draws the five whole ones.
        let charts: Vec<&str> = html
            .split("<figure class=\"chart\"")
            .skip(1)
            .filter(|f| f.contains(&format!("data-arch=\"{name}\"")))
            .collect();
        assert!(!charts.is_empty(), "{name} has charts");
        for c in charts {
            assert!(
                c.contains("data-points=\"5\""),
                "{name}: {}",
                &c[..c.len().min(120)]
            );
        }
    }
}
