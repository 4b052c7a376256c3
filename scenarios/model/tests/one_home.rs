//! The topology has one home: no library or binary source outside
//! `scenarios/model/src/topology.rs` names an architecture's variant to
//! decide what runs. Adding an architecture then means editing that one
//! module (and its docs); a match on `Architecture::Edge` in the origin or
//! the simulator would make it two, and this test names the file and line.

use std::path::{Path, PathBuf};

const VARIANTS: [&str; 6] = [
    "Architecture::NoCache",
    "Architecture::CdnShared",
    "Architecture::CdnUser",
    "Architecture::OriginVariant",
    "Architecture::Edge",
    "Architecture::AsIs",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under a `src/` folder of the workspace's crates.
fn sources(dir: &Path, under_src: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if matches!(name.as_ref(), "target" | "node_modules" | ".git") {
                continue;
            }
            sources(&path, under_src || name == "src", out);
        } else if under_src && name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_topology_module_names_architectures() {
    let root = workspace();
    let mut files = Vec::new();
    sources(&root, false, &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("ssr-origin/src/origin.rs")),
        "the walk reaches the other crates' sources"
    );
    let home = root.join("scenarios/model/src/topology.rs");
    let mut found = Vec::new();
    for file in files.iter().filter(|f| **f != home) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if VARIANTS.iter().any(|v| line.contains(v)) {
                found.push(format!(
                    "{}:{}: {}",
                    file.strip_prefix(&root).unwrap_or(file).display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "architectures named outside scenarios/model/src/topology.rs (ask the topology instead):\n{}",
        found.join("\n")
    );
}
