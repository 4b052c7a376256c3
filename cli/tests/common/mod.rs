//! What the `ttlab` command's integration tests share.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// The `ttlab` binary under test with `args`, started through
/// `sh -c 'ulimit -v KB; exec ttlab …'`: the process has at most `kb`
/// kilobytes of address space, as on a small machine or a CI runner with a
/// memory limit. Its stdout and stderr are piped.
pub fn spawn_limited(kb: u64, args: &[&str]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kb}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_ttlab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs")
}

/// [`ttlab`] under `ulimit -v kb` (see [`spawn_limited`]), to the end or
/// at most `timeout`: past it the process is killed and the test fails.
pub fn ttlab_limited(kb: u64, args: &[&str], timeout: Duration) -> Output {
    let mut child = spawn_limited(kb, args);
    // Read both pipes as the process writes, so a full pipe never stalls it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("ttlab can be waited for") {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ttlab {args:?} ran longer than {timeout:?}; stderr: {}",
                String::from_utf8_lossy(&stderr.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout read"),
        stderr: stderr.join().expect("stderr read"),
    }
}
