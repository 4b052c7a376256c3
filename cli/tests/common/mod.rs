//! What the `ttlab` command's integration tests share.

use std::process::{Command, Output};

/// Runs the `ttlab` binary under test with `args` to the end.
pub fn ttlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args(args)
        .output()
        .expect("ttlab runs")
}
