//! `ttlab run` as a user runs it: the summary, the report file, and Ctrl-C.

use std::process::{Command, Stdio};
use std::time::Duration;

use ttlab_test_support::ScenarioToml;
use ttlab_test_support::process::{Lines, fresh_dir, interrupt};

fn scenario_file(dir: &std::path::Path, duration: &str) -> std::path::PathBuf {
    let path = dir.join("cli-run.toml");
    let scenario = ScenarioToml::new("cli-run", 4, duration)
        .traffic(20, 4)
        .traffic_lines("think_time = \"20ms\"\npages_per_session = 3")
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .page("/", &["hero"])
        .archs(&["ssr-cdn-shared", "ssr-edge"]);
    std::fs::write(&path, scenario.build()).unwrap();
    path
}

/// Runs `ttlab command file --out out`, waits (at most 60 s) for a line on
/// its stderr containing `progress`, then sends Ctrl-C and waits for it to
/// exit (at most 15 s). Checks what every interrupted run must do — exit
/// 130 (`EXIT_INTERRUPTED`) and say "interrupted" on stdout before the
/// report's path — and returns every line of its stderr.
fn interrupted(
    command: &str,
    file: &std::path::Path,
    out: &std::path::Path,
    progress: &str,
) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .arg(command)
        .arg(file)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Lines::of(child.stdout.take().unwrap());
    let mut lines = Lines::of(child.stderr.take().unwrap());
    lines.wait_for_line(Duration::from_secs(60), progress, |l| l.contains(progress));
    let status = interrupt(&mut child, Duration::from_secs(15));
    let stderr = lines.rest();
    let stdout = stdout.rest();
    assert_eq!(
        status.code(),
        Some(i32::from(ttlab::EXIT_INTERRUPTED)),
        "{status:?}: {stderr:?}"
    );
    let said = stdout
        .iter()
        .position(|l| l.starts_with("interrupted: "))
        .unwrap_or_else(|| panic!("stdout says interrupted: {stdout:?}"));
    let path = stdout
        .iter()
        .position(|l| l.starts_with("report: "))
        .unwrap_or_else(|| panic!("stdout names the report: {stdout:?}"));
    assert!(said < path, "{stdout:?}");
    stderr
}

fn report_in(out: &std::path::Path) -> serde_json::Value {
    let run_dir = std::fs::read_dir(out)
        .unwrap()
        .next()
        .expect("a run folder")
        .unwrap()
        .path();
    assert!(
        run_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cli-run-")
    );
    let text = std::fs::read_to_string(run_dir.join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn run_prints_a_side_by_side_summary_and_writes_the_report() {
    let dir = fresh_dir("cli-run");
    let file = scenario_file(&dir, "1s");
    let out = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            dir.join("reports").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ssr-cdn-shared") && stdout.contains("ssr-edge"),
        "{stdout}"
    );
    assert!(
        stdout.contains("wrong_variant") && stdout.contains("hit rate"),
        "{stdout}"
    );
    assert!(stdout.contains("report: "), "{stdout}");
    let report = report_in(&dir.join("reports"));
    assert_eq!(report["schema_version"], 3);
    assert_eq!(report["mode"], "real");
    assert_eq!(report["interrupted"], false);
    assert_eq!(report["architectures"].as_array().unwrap().len(), 2);
    // Unknown architecture and a scenario without users are bad input.
    let bad = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args(["run", file.to_str().unwrap(), "--arch", "ssr-nocache"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("has no architecture \"ssr-nocache\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_with_cdn_varnish_names_the_engine_and_leaves_no_varnishd() {
    let dir = fresh_dir("cli-run-varnish");
    let file = scenario_file(&dir, "1s");
    let child = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--cdn",
            "varnish",
            "--out",
            dir.join("reports").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The summary's hit rate row names the cache that was not ttlab's.
    assert!(stdout.contains("(cdn, varnish-"), "{stdout}");
    assert!(stdout.contains("(edge, varnish-"), "{stdout}");
    let report = report_in(&dir.join("reports"));
    for a in report["architectures"].as_array().unwrap() {
        assert_eq!(a["cdn"]["engine"], "varnish", "{a}");
        assert!(a["cdn"]["version"].as_str().unwrap().contains("varnish-"));
    }
    let run_dir = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(summary.contains("varnish-"), "{summary}");
    // Each architecture's varnishd was stopped and its working folder
    // (named after the run's process) removed.
    let ours = format!("ttlab-varnish-{pid}-");
    let leftover: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&ours))
        .map(|e| e.path())
        .collect();
    assert!(leftover.is_empty(), "left behind: {leftover:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_a_valid_report() {
    let dir = fresh_dir("cli-sigint");
    let file = scenario_file(&dir, "30s");
    interrupted(
        "run",
        &file,
        &dir.join("reports"),
        // Stderr is not a terminal here: progress comes as a line a second
        // of the architecture running. One such line: the first
        // architecture has served visitors for a second.
        "ssr-cdn-shared 1/30 s",
    );
    let report = report_in(&dir.join("reports"));
    assert_eq!(report["interrupted"], true);
    let archs = report["architectures"].as_array().unwrap();
    assert_eq!(archs.len(), 1, "the second architecture never started");
    assert!(archs[0]["requests"].as_u64().unwrap() > 0);
    assert!(archs[0]["elapsed_s"].as_f64().unwrap() < 20.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_main_command_runs_the_quickstart_and_prints_the_summary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let out_dir = fresh_dir("quickstart");
    // What `cargo run --release -- run scenarios/quickstart.toml` runs, from the repository root.
    let out = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .current_dir(root)
        .args([
            "run",
            "scenarios/quickstart.toml",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for arch in [
        "ssr-cdn-shared",
        "ssr-cdn-user",
        "ssr-origin-variant",
        "ssr-edge",
    ] {
        assert!(stdout.contains(arch), "{arch} in the summary:\n{stdout}");
    }
    let run_dir = std::fs::read_dir(&out_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    let archs = report["architectures"].as_array().unwrap();
    let shared = archs
        .iter()
        .find(|a| a["name"] == "ssr-cdn-shared")
        .unwrap();
    assert!(
        shared["classes"]["wrong_variant"].as_u64().unwrap() > 0,
        "the quickstart shows the shared CDN's wrong variants"
    );
    for a in archs.iter().filter(|a| a["name"] != "ssr-cdn-shared") {
        assert_eq!(a["classes"]["wrong_variant"], 0, "{}", a["name"]);
        assert_eq!(a["classes"]["error"], 0, "{}", a["name"]);
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn sim_writes_a_reproducible_report_with_the_sweep() {
    let dir = fresh_dir("cli-sim");
    let run = |sub: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_ttlab"))
            .args([
                "sim",
                "quickstart",
                "--sweep",
                "ttl=0s,30s",
                "--out",
                dir.join(sub).to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(stdout.contains("sweep of ttl"), "{stdout}");
        let run_dir = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::read_to_string(run_dir.join("report.json")).unwrap()
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(
        a, b,
        "the same scenario and seed give the same report, byte for byte"
    );
    let report: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(report["mode"], "sim");
    assert_eq!(report["sweep"]["option"], "ttl");
    assert_eq!(report["sweep"]["points"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_a_simulation_and_still_writes_its_report() {
    let dir = fresh_dir("cli-sim-sigint");
    // The simulator benchmark's scenario, lengthened to an hour of virtual time.
    let bench = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench/sim.toml"),
    )
    .unwrap();
    let file = dir.join("long.toml");
    std::fs::write(
        &file,
        bench.replace("duration = \"100s\"", "duration = \"1h\""),
    )
    .unwrap();
    // Stderr is not a terminal here: progress comes as a line a second.
    interrupted(
        "sim",
        &file,
        &dir.join("reports"),
        "% of virtual time after",
    );
    let text = std::fs::read_to_string(
        std::fs::read_dir(dir.join("reports"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("report.json"),
    )
    .unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["interrupted"], true);
    let requests = report["architectures"][0]["requests"].as_u64().unwrap();
    assert!(requests > 0 && requests < 72_000_000, "{requests}");
    // The time simulated, not the hour planned.
    let elapsed = report["architectures"][0]["elapsed_s"].as_f64().unwrap();
    assert!(elapsed > 0.0 && elapsed < 3_600.0, "{elapsed}");
    let _ = std::fs::remove_dir_all(&dir);
}
