//! `ttlab compare` says what a user needs when two reports are not two runs
//! of one experiment: a simulated against a real report, two scenarios, a
//! report a newer ttlab wrote, an architecture with no requests.

mod common;

use common::ttlab;

use std::path::{Path, PathBuf};
use std::process::Output;

use ttlab_test_support::process::fresh_dir;

/// A saved `ttlab sim quickstart` report with four architectures.
fn fixture() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../reports/tests/fixtures/quickstart-sweep.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn save(dir: &Path, name: &str, report: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(report).unwrap()).unwrap();
    p
}

fn compare(base: &Path, new: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["compare", base.to_str().unwrap(), new.to_str().unwrap()];
    args.extend_from_slice(extra);
    ttlab(&args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_simulated_against_a_real_report_compares_shares_only() {
    let dir = fresh_dir("compare-modes");
    let base = save(&dir, "sim.json", &fixture());
    let mut real = fixture();
    real["mode"] = "real".into();
    let new = save(&dir, "real.json", &real);
    let o = compare(&base, &new, &[]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(
        out.contains("note: base is a simulated run and new a real one: latency is not compared"),
        "{out}"
    );
    assert!(out.contains("stale_variant_rate"), "{out}");
    assert!(!out.contains(" p99 "), "no latency rows: {out}");
}

#[test]
fn two_scenarios_are_refused_unless_asked_for() {
    let dir = fresh_dir("compare-scenarios");
    let base = save(&dir, "a.json", &fixture());
    let mut other = fixture();
    other["scenario"] = "geo-segments".into();
    let new = save(&dir, "b.json", &other);
    let o = compare(&base, &new, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("is scenario \"quickstart\"")
            && err.contains("is scenario \"geo-segments\"")
            && err.contains("--any-scenario"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    let o = compare(&base, &new, &["--any-scenario"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("no regressions beyond noise"));
}

#[test]
fn a_report_of_an_unknown_schema_version_is_named_as_such() {
    let dir = fresh_dir("compare-schema");
    let base = save(&dir, "base.json", &fixture());
    let mut newer = fixture();
    newer["schema_version"] = 99.into();
    newer["a_field_from_the_future"] = true.into();
    let new = save(&dir, "newer.json", &newer);
    let o = compare(&base, &new, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("newer.json: report schema_version 99 is not one this ttlab reads (1 to 3): a newer ttlab wrote it"),
        "{err}"
    );
}

#[test]
fn an_architecture_without_requests_is_named_not_compared() {
    let dir = fresh_dir("compare-empty");
    let base = save(&dir, "base.json", &fixture());
    let mut stopped = fixture();
    let first = &mut stopped["architectures"][0];
    let name = first["name"].as_str().unwrap().to_owned();
    first["requests"] = 0.into();
    for (_, n) in first["classes"].as_object_mut().unwrap() {
        *n = 0.into();
    }
    let new = save(&dir, "stopped.json", &stopped);
    let o = compare(&base, &new, &[]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(
        out.contains(&format!(
            "{name}: no requests in the new report (stopped before it ran?), not compared"
        )),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with(&format!("{name} "))),
        "no rows for it: {out}"
    );

    // Nothing comparable at all: said, with exit 2.
    let mut empty = fixture();
    for a in empty["architectures"].as_array_mut().unwrap() {
        a["requests"] = 0.into();
    }
    let new = save(&dir, "empty.json", &empty);
    let o = compare(&base, &new, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no architecture had requests in both reports"),
        "{}",
        text(&o.stderr)
    );
}
