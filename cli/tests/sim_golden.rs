//! Behaviour pinned: every shipped scenario's `ttlab sim` output, byte for
//! byte.
//!
//! A simulation is deterministic for its scenario and seed, so a change that
//! means to keep behaviour (a refactor, a dependency update) must leave every
//! file `ttlab sim` writes exactly as it was. `tests/golden/sim.xxh3` holds an
//! XXH3-128 digest of each file (`report.json`, `report.html`, `summary.md`,
//! `junit.xml`) of each shipped scenario, and `tests/golden/<name>.summary.md`
//! the whole summary, so a failure shows which numbers moved.
//!
//! A change that means to alter what a simulation reports regenerates both
//! with `TTLAB_BLESS=1 cargo test -p ttlab --test sim_golden` and says why in
//! its commit. On a mismatch the new files are kept under
//! `target/sim-golden/<scenario>/` to compare.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files `ttlab sim` writes into its report folder, all pinned.
const FILES: [&str; 4] = ["report.json", "report.html", "summary.md", "junit.xml"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn shipped() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ is readable")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

/// Runs `ttlab sim` on a shipped scenario into a fresh folder and returns the
/// report folder it wrote.
fn simulate(name: &str, out: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(out);
    let scenario = root().join("scenarios").join(format!("{name}.toml"));
    let output = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .arg("sim")
        .arg(&scenario)
        .args(["-q", "--no-tui", "-o"])
        .arg(out)
        .output()
        .expect("ttlab runs");
    assert!(
        output.status.success(),
        "ttlab sim {name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("ttlab sim {name} printed no report path: {stdout}"));
    Path::new(report.trim())
        .parent()
        .expect("the report is in a folder")
        .to_path_buf()
}

fn digest(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

#[test]
fn every_shipped_scenario_simulates_byte_for_byte_as_pinned() {
    let bless = std::env::var_os("TTLAB_BLESS").is_some();
    let keep = root().join("target/sim-golden");
    let mut digests = String::new();
    for name in shipped() {
        let dir = simulate(&name, &keep.join(&name));
        for file in FILES {
            writeln!(digests, "{}  {name}/{file}", digest(&dir.join(file))).unwrap();
        }
        let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        let pinned = golden().join(format!("{name}.summary.md"));
        if bless {
            std::fs::create_dir_all(golden()).unwrap();
            std::fs::write(&pinned, &summary).unwrap();
        } else {
            let expected = std::fs::read_to_string(&pinned).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; a new shipped scenario is pinned with TTLAB_BLESS=1",
                    pinned.display()
                )
            });
            assert_eq!(
                summary,
                expected,
                "the simulated summary of {name} changed (new report in {})",
                dir.display()
            );
        }
    }
    let pinned = golden().join("sim.xxh3");
    if bless {
        std::fs::write(&pinned, &digests).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&pinned).expect("tests/golden/sim.xxh3 exists");
    let changed: Vec<&str> = digests
        .lines()
        .filter(|line| !expected.lines().any(|e| e == *line))
        .collect();
    assert!(
        changed.is_empty() && digests.lines().count() == expected.lines().count(),
        "simulated output differs from the pinned digests (new files under {}):\n{}",
        keep.display(),
        changed.join("\n")
    );
}
