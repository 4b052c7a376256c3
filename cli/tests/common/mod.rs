//! What the `ttlab` command's integration tests share.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::process::{Child, Command, Output, Stdio};

/// Runs the `ttlab` binary under test with `args` to the end.
pub fn ttlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args(args)
        .output()
        .expect("ttlab runs")
}

/// Starts the `ttlab` binary under test with `args` and leaves it running
/// (a server): stdout piped, to read what it prints (its addresses), and
/// stderr dropped. The caller stops it (`ttlab_test_support::process::interrupt`).
pub fn spawn_ttlab(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ttlab starts")
}
