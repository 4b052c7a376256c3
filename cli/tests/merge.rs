//! Several load machines: `ttlab run --worker-id K --workers N` and
//! `ttlab merge`, as a user runs them, against a single run of the same
//! visitor script.

mod common;

use common::ttlab;

use std::path::{Path, PathBuf};

use serde_json::Value;
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::process::fresh_dir;

/// No experiences and no timeline: every answer is fresh on every
/// architecture, so the classes depend on the script alone. Pages render
/// one, two or three entries, so the Delivery calls of `ssr-nocache` count
/// which pages the script visited.
fn scenario() -> String {
    ScenarioToml::new("cli-workers", 9, "2s")
        .traffic(12, 5)
        .traffic_lines("think_time = \"5ms\"\npages_per_session = 3")
        .table("thresholds", "error = 0\np99 = \"<= 30s\"")
        .entry("hero", "hero", &[])
        .entry("promo", "promo", &[])
        .entry("footer", "footer", &[])
        .page("/", &["hero"])
        .page("/deals", &["hero", "promo"])
        .page("/about", &["hero", "promo", "footer"])
        .archs(&["ssr-nocache"])
        .arch_with(
            "ssr-origin-variant",
            r#"thresholds = { hit_rate = ">= 0.2" }"#,
        )
        .build()
}

const USERS: u64 = 5;
const PAGE_VIEWS: u64 = 7;

/// Runs `ttlab` expecting success; returns the report path it printed.
fn ttlab_ok(args: &[&str]) -> PathBuf {
    let out = ttlab(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ttlab {args:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With -q, stdout is the report's path and nothing else (goose's own
    // "All N users launched." included), so a script can read it.
    let line = match stdout.lines().collect::<Vec<_>>()[..] {
        [only] => only.strip_prefix("report: "),
        _ => None,
    }
    .unwrap_or_else(|| panic!("stdout is not one line `report: PATH`: {stdout:?}"));
    PathBuf::from(line.trim())
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The architecture `name` of `report`.
fn arch<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["architectures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// The counters that are sums, as (label, value), of one architecture.
fn counters(a: &Value) -> Vec<(String, u64)> {
    let mut c = vec![
        ("requests".to_owned(), u(&a["requests"])),
        ("attribute_updates".to_owned(), u(&a["attribute_updates"])),
        (
            "latency.all.count".to_owned(),
            u(&a["latency"]["all"]["count"]),
        ),
        (
            "latency.hit.count".to_owned(),
            u(&a["latency"]["hit"]["count"]),
        ),
        (
            "latency.miss.count".to_owned(),
            u(&a["latency"]["miss"]["count"]),
        ),
        ("staleness.count".to_owned(), u(&a["staleness"]["count"])),
    ];
    for (k, v) in a["classes"].as_object().unwrap() {
        c.push((format!("classes.{k}"), u(v)));
    }
    for (k, v) in a["origin"].as_object().unwrap() {
        c.push((format!("origin.{k}"), u(v)));
    }
    if let Some(layer) = a["layer"].as_object() {
        for k in [
            "hit",
            "stale",
            "miss",
            "bypass",
            "coalesced",
            "purged",
            "evicted",
        ] {
            c.push((format!("layer.{k}"), u(&layer[k])));
        }
    }
    let series = a["series"].as_array().unwrap();
    for k in ["requests", "from_cache"] {
        c.push((format!("series.{k}"), series.iter().map(|p| u(&p[k])).sum()));
    }
    c
}

/// One architecture of the merged report against its workers' and the single run's.
fn check_arch(name: &str, s: &Value, a: &Value, b: &Value, m: &Value) {
    // Users 0, 2, 4 on worker 0 and 1, 3 on worker 1, each making its page views.
    assert_eq!(u(&a["requests"]), 3 * PAGE_VIEWS, "{name}");
    assert_eq!(u(&b["requests"]), 2 * PAGE_VIEWS, "{name}");

    // The merge is exact: every counter of the merged report is the sum of the workers'.
    let (ca, cb, cm) = (counters(a), counters(b), counters(m));
    assert_eq!(ca.len(), cm.len());
    for ((label, x), ((_, y), (_, z))) in cm.iter().zip(ca.iter().zip(&cb)) {
        assert_eq!(*x, y + z, "{name} {label}: merged = worker 0 + worker 1");
    }
    // Percentiles come from the added histograms: the merged maximum is the
    // workers' largest, the median lies between theirs.
    let ms = |r: &Value, p: &str| r["latency"]["all"][p].as_f64().unwrap();
    assert!((ms(m, "max_ms") - ms(a, "max_ms").max(ms(b, "max_ms"))).abs() < 1e-9);
    let (lo, hi) = (
        ms(a, "p50_ms").min(ms(b, "p50_ms")),
        ms(a, "p50_ms").max(ms(b, "p50_ms")),
    );
    assert!(lo <= ms(m, "p50_ms") && ms(m, "p50_ms") <= hi, "{name}");

    // And equals the single run wherever the script alone decides: how many
    // requests, their classes (nothing ever changes, so all fresh), what the
    // origin must do for each.
    assert_eq!(u(&m["requests"]), USERS * PAGE_VIEWS, "{name}");
    assert_eq!(m["requests"], s["requests"], "{name}");
    assert_eq!(m["classes"], s["classes"], "{name}");
    assert_eq!(u(&m["classes"]["fresh"]), USERS * PAGE_VIEWS, "{name}");
    assert_eq!(
        m["latency"]["all"]["count"], s["latency"]["all"]["count"],
        "{name}"
    );
    // Both architectures take every request at the origin and ask Personalize each time.
    for k in ["requests", "personalize_calls"] {
        assert_eq!(m["origin"][k], s["origin"][k], "{name} origin.{k}");
    }
    // Thresholds are evaluated again on the merged numbers.
    let checks = m["thresholds"].as_array().unwrap();
    let p99 = checks.iter().find(|c| c["measure"] == "p99").unwrap();
    assert_eq!(p99["value"], m["latency"]["all"]["p99_ms"], "{name}");
    if let Some(layer) = m["layer"].as_object() {
        let hr = checks.iter().find(|c| c["measure"] == "hit_rate").unwrap();
        assert_eq!(hr["value"], layer["hit_rate"], "{name}");
        assert_eq!(
            hr["holds"],
            layer["hit_rate"].as_f64().unwrap() >= 0.2,
            "{name}"
        );
        let all: u64 = ["hit", "stale", "miss", "bypass"]
            .iter()
            .map(|k| u(&layer[*k]))
            .sum();
        assert_eq!(
            all,
            USERS * PAGE_VIEWS,
            "{name}: every request met the layer"
        );
    }
}

/// What does not fit is refused, naming the file and what was expected.
fn check_refusals(dir: &Path, out: &str, w0_path: &Path, w1: &Value, single_path: &Path) {
    let (w0s, singles) = (w0_path.to_str().unwrap(), single_path.to_str().unwrap());
    let refused = |args: &[&str], want: &[&str]| {
        let out = ttlab(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for w in want {
            assert!(stderr.contains(w), "{args:?}: {w:?} in {stderr}");
        }
    };
    refused(
        &["merge", w0s, "-o", out],
        &["missing the report of worker 1 of 2", w0s],
    );
    refused(
        &["merge", w0s, w0s, "-o", out],
        &[w0s, "worker 0 of 2 again"],
    );
    refused(
        &["merge", w0s, singles, "-o", out],
        &[singles, "not a worker's report"],
    );
    let mut other = w1.clone();
    other["seed"] = 10.into();
    let other_path = dir.join("other-seed.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let others = other_path.to_str().unwrap();
    refused(
        &["merge", w0s, others, "-o", out],
        &[others, "seed 10, expected 9"],
    );
    let mut other = w1.clone();
    other["architectures"][0]["histograms"]["latency_hit"] = "not base64!".into();
    std::fs::write(&other_path, other.to_string()).unwrap();
    refused(
        &["merge", w0s, others, "-o", out],
        &[others, "ssr-nocache histogram latency_hit"],
    );
    refused(
        &["merge", w0s, "/nonexistent/report.json"],
        &["/nonexistent/report.json: cannot read"],
    );
    assert_eq!(
        std::fs::read_dir(out).unwrap().count(),
        4,
        "three runs and one merge: a refused merge writes nothing"
    );
}

#[test]
fn merged_worker_reports_equal_a_single_run_of_the_same_script() {
    let dir = fresh_dir("cli-merge");
    let file = dir.join("cli-workers.toml");
    std::fs::write(&file, scenario()).unwrap();
    let (file, out) = (file.to_str().unwrap(), dir.join("reports"));
    let out = out.to_str().unwrap();
    let views = PAGE_VIEWS.to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", file, "--out", out, "--page-views", &views, "-q"];
        args.extend_from_slice(extra);
        ttlab_ok(&args)
    };
    let single_path = run(&[]);
    let w0_path = run(&["--worker-id", "0", "--workers", "2"]);
    let w1_path = run(&["--worker-id", "1", "--workers", "2"]);
    // Arguments in any order: the workers are taken by id.
    let merged_path = ttlab_ok(&[
        "merge",
        w1_path.to_str().unwrap(),
        w0_path.parent().unwrap().to_str().unwrap(),
        "-o",
        out,
        "-q",
    ]);
    let merged_dir = merged_path.parent().unwrap();
    assert!(
        merged_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cli-workers-merged-")
    );
    for f in ["report.html", "summary.md", "junit.xml"] {
        assert!(merged_dir.join(f).is_file(), "merge writes {f} as run does");
    }
    let (single, w0, w1, merged) = (
        read(&single_path),
        read(&w0_path),
        read(&w1_path),
        read(&merged_path),
    );
    assert_eq!(single["schema_version"], 3);
    assert_eq!(single.get("worker"), None);
    assert_eq!(w0["worker"], serde_json::json!({ "id": 0, "of": 2 }));
    assert_eq!(w1["worker"], serde_json::json!({ "id": 1, "of": 2 }));
    assert_eq!(merged["merged_workers"], 2);
    assert_eq!(merged.get("worker"), None);
    assert_eq!(merged["page_views"], PAGE_VIEWS);

    for name in ["ssr-nocache", "ssr-origin-variant"] {
        check_arch(
            name,
            arch(&single, name),
            arch(&w0, name),
            arch(&w1, name),
            arch(&merged, name),
        );
    }
    // Without a cache the origin's work is the script's: a render per request and a
    // Delivery call per entry of every page visited, so these equal the single run's
    // only if the workers together visited exactly the single run's pages.
    let (s, m) = (arch(&single, "ssr-nocache"), arch(&merged, "ssr-nocache"));
    assert_eq!(m["origin"], s["origin"]);
    assert!(u(&m["origin"]["delivery_calls"]) > USERS * PAGE_VIEWS);

    check_refusals(&dir, out, &w0_path, &w1, &single_path);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn worker_flags_that_make_no_share_are_refused_before_running() {
    let dir = fresh_dir("cli-workers");
    let file = dir.join("cli-workers.toml");
    std::fs::write(&file, scenario()).unwrap();
    let file = file.to_str().unwrap();
    let out = dir.join("reports");
    let out = out.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--worker-id", "2", "--workers", "2"],
            "--worker-id 2 is not one of 0..2",
        ),
        (
            vec!["--worker-id", "0", "--workers", "0"],
            "--workers must be at least 1",
        ),
        (
            vec!["--worker-id", "5", "--workers", "6"],
            "--workers 6 is more than the scenario's 5 users",
        ),
        (vec!["--page-views", "0"], "--page-views must be at least 1"),
        (vec!["--worker-id", "0"], "--workers <N>"),
    ] {
        let mut all = vec!["run", file, "--out", out];
        all.extend(&args);
        let o = ttlab(&all);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {want:?} in {stderr}");
    }
    assert!(!Path::new(out).exists(), "nothing ran");
    let _ = std::fs::remove_dir_all(&dir);
}
