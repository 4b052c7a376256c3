//! The tiny app (`src/bin/tiny_app.rs`), a stand-in for a team's own site,
//! for tests in other crates: cargo builds a package's binaries only for
//! that package's own tests, so the first call builds it (a no-op when it
//! is up to date) beside the test that asks, in the same target folder and
//! profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The tiny app's binary, built if needed.
///
/// # Panics
///
/// When cargo cannot build it (the test then has nothing to run).
pub fn tiny_app() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // A test runs from <target>/<profile>/deps/.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a target folder");
        let mut build = Command::new(env!("CARGO"));
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "ttlab-test-support",
                "--bin",
                "tiny_app",
            ])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(other) => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo could not build the tiny app");
        let path = profile_dir.join("tiny_app");
        assert!(path.is_file(), "no tiny app at {}", path.display());
        path
    })
}
