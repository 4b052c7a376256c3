//! `ttlab run --app` as a user runs it, with the tiny app of
//! `ttlab-test-support` as the team's site: the app's output lands in the
//! report's folder, Ctrl-C stops its whole process group, and an app that
//! exits at once fails the run (exit 1) showing what it said.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ttlab_test_support::process::{Lines, fresh_dir, interrupt};
use ttlab_test_support::{ScenarioToml, tiny_app};

/// Real runs one at a time: two on two cores would measure each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A site without an `[app]` table: `--app` makes one.
fn site(dir: &Path, duration: &str) -> PathBuf {
    let path = dir.join("site.toml");
    let scenario = ScenarioToml::new("cli-app", 5, duration)
        .traffic(30, 4)
        .traffic_lines("think_time = \"100ms\"")
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .page("/", &["hero"])
        .archs(&["ssr-cdn-shared", "ssr-edge"]);
    std::fs::write(&path, scenario.build()).unwrap();
    path
}

fn ttlab_run(file: &Path, out: &Path, app: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ttlab"));
    c.arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--no-tui")
        .arg("--app")
        .arg(app)
        // The tiny app's pages come from the environment ttlab passes on.
        .env("TINY_APP_PAGES", "/=hero:hero");
    c
}

/// The one run folder under `out`.
fn run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

/// No process of the group ttlab noted in `log` still runs (zombies aside).
fn assert_group_gone(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let group: i32 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("[ttlab] process group ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no process group in {text}"));
    assert_eq!(
        ttlab_loadgen::run::running_members(group),
        Some(0),
        "the app's group {group} outlived ttlab"
    );
}

#[test]
fn the_apps_output_is_kept_in_the_report_folder() {
    let _one = one_at_a_time();
    let dir = fresh_dir("cli-app-run");
    let file = site(&dir, "3s");
    let out = dir.join("reports");
    let app = format!("'{}'", tiny_app().display());
    let output = ttlab_run(&file, &out, &app)
        .arg("--app-url")
        .arg("http://127.0.0.1:{port}/")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(output.status.success(), "{stderr}");
    let run = run_dir(&out);
    let mut files: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "app-ssr-cdn-shared.log",
            "app-ssr-edge.log",
            "junit.xml",
            "report.html",
            "report.json",
            "summary.md"
        ]
    );
    for arch in ["ssr-cdn-shared", "ssr-edge"] {
        let log = run.join(format!("app-{arch}.log"));
        assert!(
            stdout.contains(&format!("app output ({arch}): {}", log.display())),
            "{stdout}"
        );
        assert!(
            std::fs::read_to_string(&log)
                .unwrap()
                .contains("tiny_app pid")
        );
        assert_group_gone(&log);
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let shared = &report["architectures"][0];
    assert_eq!(shared["app"]["log"], "app-ssr-cdn-shared.log");
    assert_eq!(shared["app"]["command"], app.as_str());
    assert!(shared["classes"]["wrong_variant"].as_u64().unwrap() > 0);
    assert_eq!(report["architectures"][1]["classes"]["wrong_variant"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_the_apps_process_group() {
    let _one = one_at_a_time();
    let dir = fresh_dir("cli-app-ctrl-c");
    let file = site(&dir, "30s");
    let out = dir.join("reports");
    let mut child = ttlab_run(&file, &out, &format!("'{}'", tiny_app().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Lines::of(child.stdout.take().unwrap());
    let mut lines = Lines::of(child.stderr.take().unwrap());
    // A progress line a second once the first architecture's users are up.
    lines.wait_for_line(Duration::from_secs(60), "a second of the run", |l| {
        l.trim_start().starts_with("ssr-cdn-shared ") && l.contains("visitor")
    });
    let status = interrupt(&mut child, Duration::from_secs(30));
    let stderr = lines.rest();
    let stdout = stdout.rest();
    assert_eq!(
        status.code(),
        Some(i32::from(ttlab::EXIT_INTERRUPTED)),
        "{stderr:?}"
    );
    let run = run_dir(&out);
    assert!(run.join("report.json").is_file(), "{stdout:?}");
    assert!(
        !run.join("app-ssr-edge.log").exists(),
        "no architecture after Ctrl-C"
    );
    assert_group_gone(&run.join("app-ssr-cdn-shared.log"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_app_that_exits_at_once_fails_the_run_with_exit_1() {
    let dir = fresh_dir("cli-app-exits");
    let file = site(&dir, "3s");
    let out = dir.join("reports");
    let output = ttlab_run(
        &file,
        &out,
        "echo 'missing CONTENTSTACK_API_KEY' >&2; exit 4",
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: the app `echo 'missing CONTENTSTACK_API_KEY' >&2; exit 4` exited (exit status: 4) before it answered http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  | missing CONTENTSTACK_API_KEY"),
        "{stderr}"
    );
    let log = run_dir(&out).join("app-ssr-cdn-shared.log");
    assert!(stderr.contains(&log.display().to_string()), "{stderr}");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("missing CONTENTSTACK_API_KEY")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
