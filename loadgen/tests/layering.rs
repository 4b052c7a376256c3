//! The simulator stands beside real runs, not on them: `loadgen/src/sim/`
//! never imports the real-run module (`run/`). What both need — the
//! checker, the recorder, report assembly, the live frames — lives in
//! modules of its own, so a change to how goose drives a real run cannot
//! change a simulation, and the simulator builds without goose's machinery.

use std::path::Path;

#[test]
fn the_simulator_does_not_import_the_real_run_module() {
    let sim = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sim");
    let mut files: Vec<_> = std::fs::read_dir(&sim)
        .expect("src/sim is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "the simulator's files are found: {files:?}"
    );
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("crate::run") || code.contains("super::super::run") {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the simulator imports the real-run module:\n{}",
        found.join("\n")
    );
}
