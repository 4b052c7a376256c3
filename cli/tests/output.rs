//! Where reports go, as a user meets it: the output folder is checked before
//! anything runs, a report folder appears under its final name only when
//! complete, and no command writes over the report it reads.

mod common;

use common::ttlab;

use std::path::Path;
use std::process::Output;

use ttlab_test_support::process::fresh_dir;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

#[test]
fn an_output_that_is_a_file_is_refused_before_the_run() {
    let dir = fresh_dir("output-file");
    let file = dir.join("not-a-folder");
    std::fs::write(&file, "mine").unwrap();
    for command in ["sim", "run"] {
        let o = ttlab(&[command, "quickstart", "-q", "--no-tui", "-o", arg(&file)]);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("not-a-folder: not a folder"),
            "{command}: {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "{command} ran nothing");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
}

#[test]
fn a_report_folder_appears_complete_under_its_final_name() {
    let dir = fresh_dir("output-complete");
    let o = ttlab(&["sim", "quickstart", "-q", "--no-tui", "-o", arg(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let entries: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "one folder, nothing partial left: {entries:?}"
    );
    assert!(entries[0].starts_with("quickstart-sim-"), "{entries:?}");
    let folder = dir.join(&entries[0]);
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["junit.xml", "report.html", "report.json", "summary.md"]
    );
    let json = std::fs::read_to_string(folder.join("report.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&json).expect("the report is whole JSON");
}

#[test]
fn report_refuses_to_write_over_its_input() {
    let dir = fresh_dir("output-input");
    let o = ttlab(&["sim", "quickstart", "-q", "--no-tui", "-o", arg(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("report: ").map(str::to_owned))
        .expect("sim -q prints the report's path");
    let before = std::fs::read(&report).unwrap();
    for flag in ["--html", "--markdown", "--junit"] {
        let o = ttlab(&["report", &report, flag, &report]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("is the report being read"),
            "{flag}: {}",
            stderr(&o)
        );
    }
    assert_eq!(
        std::fs::read(&report).unwrap(),
        before,
        "the input is untouched"
    );
    let html = dir.join("again.html");
    let o = ttlab(&["report", &report, "--html", arg(&html)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&html).unwrap().contains("<html"));
}
