//! `ttlab check`, `compare`, `advise` and `report` as CI runs them: exit
//! codes 0 / 1 / 2, the breach list, `JUnit` and Markdown outputs.

mod common;

use common::ttlab;

use std::path::{Path, PathBuf};
use std::process::Output;

use ttlab_test_support::ScenarioToml;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn temp(name: &str) -> PathBuf {
    ttlab_test_support::process::fresh_dir(&format!("gate-{name}"))
}

/// A small scenario whose shared CDN serves wrong variants; `thresholds`
/// decides whether that is a breach.
fn scenario(dir: &Path, thresholds: &str) -> PathBuf {
    let path = dir.join("gate.toml");
    let scenario = ScenarioToml::new("gate", 1, "20s")
        .traffic_lines("visitors = 50\narrival_rate = 50.0")
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .page("/", &["hero"])
        .archs(&["ssr-cdn-shared", "ssr-origin-variant"])
        .table("thresholds", thresholds);
    std::fs::write(&path, scenario.build()).unwrap();
    path
}

fn report_json(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a report folder")
        .join("report.json")
}

#[test]
fn check_exits_0_when_thresholds_hold_and_writes_junit_and_markdown() {
    let dir = temp("ok");
    let file = scenario(&dir, "leak = 0\nerror = 0");
    let junit = dir.join("junit.xml");
    let md = dir.join("summary.md");
    let o = ttlab(&[
        "check",
        file.to_str().unwrap(),
        "--out",
        dir.join("r").to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("ok    gate: 4 thresholds hold"),
        "{}",
        text(&o)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"4\"") && xml.contains("failures=\"0\""),
        "{xml}"
    );
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("✅ all 4 thresholds hold")
    );
    // The run's folder holds every rendering.
    let json = report_json(&dir.join("r"));
    for f in ["report.html", "summary.md", "junit.xml"] {
        assert!(json.with_file_name(f).exists(), "{f}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_exits_1_with_the_list_of_breaches() {
    let dir = temp("breach");
    let file = scenario(&dir, "wrong_variant = 0");
    let junit = dir.join("junit.xml");
    let o = ttlab(&[
        "check",
        file.to_str().unwrap(),
        "--out",
        dir.join("r").to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  gate: 1 of 2 thresholds breached"),
        "{out}"
    );
    assert!(out.contains("ssr-cdn-shared: wrong_variant is "), "{out}");
    assert!(out.contains("breaking wrong_variant <= 0"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("<failure"),
        "{xml}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_exits_2_on_bad_input_before_running_anything() {
    let dir = temp("bad");
    let good = scenario(&dir, "leak = 0");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[scenario]\nname = 3\n").unwrap();
    let o = ttlab(&[
        "check",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad.toml:2:"), "{}", text(&o));
    assert!(!dir.join("r").exists(), "nothing ran");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_advise_and_report_on_saved_reports() {
    let dir = temp("saved");
    let file = scenario(&dir, "leak = 0");
    let sim = |out: &str, extra: &[&str]| {
        let mut args = vec!["sim", file.to_str().unwrap(), "-q", "--out"];
        let o = dir.join(out);
        let o = o.to_str().unwrap().to_owned();
        args.push(&o);
        args.extend_from_slice(extra);
        let r = ttlab(&args);
        assert!(r.status.success(), "{}", text(&r));
        report_json(&dir.join(out))
    };
    let base = sim("a", &[]);
    let same = sim("b", &[]);
    let o = ttlab(&["compare", base.to_str().unwrap(), same.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no regressions beyond noise"));
    // Only the shared CDN: comparing it with origin-variant's numbers
    // under the same name is a regression of wrong variants.
    let mut worse: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let archs = worse["architectures"].as_array_mut().unwrap();
    let shared = archs[0].clone();
    archs[1] = shared;
    archs[1]["name"] = "ssr-origin-variant".into();
    let worse_path = dir.join("worse.json");
    std::fs::write(&worse_path, worse.to_string()).unwrap();
    let o = ttlab(&[
        "compare",
        base.to_str().unwrap(),
        worse_path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("REGRESSION"), "{}", text(&o));
    // Bad input: not a report.
    let o = ttlab(&["compare", file.to_str().unwrap(), base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        // The scenario file starts with `[scenario]`: line 1, column 2.
        text(&o).contains("gate.toml:1:2: not a ttlab report: expected value\n"),
        "{}",
        text(&o)
    );
    // Advice needs a sweep.
    let o = ttlab(&["advise", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("has no sweep"), "{}", text(&o));
    let swept = sim("c", &["--sweep", "ttl=0s,2s,10s"]);
    let o = ttlab(&["advise", swept.to_str().unwrap(), "--max-stale-rate", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("ssr-origin-variant: ttl = 10s"),
        "{}",
        text(&o)
    );
    // Rendering a saved report.
    let html = dir.join("r.html");
    let o = ttlab(&[
        "report",
        swept.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("data-chart=\"tradeoff\"")
    );
    let o = ttlab(&["report", swept.to_str().unwrap()]);
    assert!(text(&o).contains("### Sweep of `ttl`"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
