//! A scenario that replays a trace, as a user runs it: lines the trace
//! reader could not read are skipped, and every command that loads the
//! scenario says so on stderr (the file, how many, the first one's number).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::ttlab;
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::process::fresh_dir;

/// A scenario in `dir` replaying `trace` (a CSV written beside it).
fn scenario(dir: &Path, trace: &str, duration: &str) -> PathBuf {
    std::fs::write(dir.join("day.csv"), trace).unwrap();
    let path = dir.join("replay.toml");
    let toml = ScenarioToml::new("replay", 3, duration)
        .traffic_lines("visitors = 20\ntrace = \"day.csv\"")
        .entry("hero", "hero", &[])
        .page("/", &["hero"])
        .page("/a", &["hero"])
        .archs(&["ssr-cdn-shared"]);
    std::fs::write(&path, toml.build()).unwrap();
    path
}

/// Ten requests over 2 s, and two lines that are not requests (lines 4
/// and 9 of the file, the header being line 1).
fn trace_with_bad_lines() -> String {
    let mut csv = String::from("time,path,visitor\n");
    for i in 0..12 {
        match i {
            2 => csv.push_str("half past,/a,v2\n"),
            7 => csv.push_str("3.5,,v7\n"),
            _ => writeln!(csv, "{}.{},/a,v{i}", i / 6, i % 6).unwrap(),
        }
    }
    csv
}

fn warnings(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn validate_sim_and_run_warn_of_skipped_trace_lines() {
    let dir = fresh_dir("cli-replay-bad-lines");
    let file = scenario(&dir, &trace_with_bad_lines(), "2s");
    let shown = file.to_str().unwrap();
    let want = format!(
        "warning: {shown}: trace day.csv: 2 lines could not be read and were skipped; the first is line 4: time \"half past\" is not a number"
    );
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    for args in [
        vec!["validate", shown],
        vec!["sim", shown, "--out", out, "--no-tui", "-q"],
        vec!["run", shown, "--out", out, "-q"],
    ] {
        let o = ttlab(&args);
        assert!(
            o.status.success(),
            "{args:?}: {:?}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(warnings(&o.stderr), std::slice::from_ref(&want), "{args:?}");
    }
    // The summary counts the requests that were read.
    let o = ttlab(&["validate", shown]);
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("replay of day.csv (10 requests, speed 1)"),
        "{summary}"
    );
}

#[test]
fn a_clean_trace_warns_of_nothing() {
    let dir = fresh_dir("cli-replay-clean");
    let file = scenario(&dir, "time,path,visitor\n0,/,a\n1,/a,b\n", "2s");
    let o = ttlab(&["validate", file.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(warnings(&o.stderr), Vec::<String>::new());
}
