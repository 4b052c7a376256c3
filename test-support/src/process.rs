//! The lines a child process writes, gathered on a thread so a test can wait
//! for a particular line (a progress report, a banner) instead of sleeping
//! for as long as it usually takes to appear.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// Lines read from a child's pipe, kept in order.
pub struct Lines {
    rx: Receiver<String>,
    /// Every line received so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Reads `pipe` (a child's `stdout` or `stderr`, taken from it) line by
    /// line on a thread of its own until it closes.
    pub fn of(pipe: impl Read + Send + 'static) -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits until a line satisfies `wanted`, at most `timeout`, and returns
    /// it. Panics naming `what` and listing the lines seen when none does in
    /// time or the pipe closes first.
    pub fn wait_for_line(
        &mut self,
        timeout: Duration,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.rx.recv_timeout(left).unwrap_or_else(|e| {
                panic!(
                    "no line showing {what} within {timeout:?} ({e}): {:?}",
                    self.seen
                )
            });
            self.seen.push(line.clone());
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Every line seen, with the rest the pipe writes until it closes.
    pub fn rest(mut self) -> Vec<String> {
        self.seen.extend(self.rx.iter());
        self.seen
    }
}

/// Sends Ctrl-C (SIGINT) to `child` and waits for it to exit, at most
/// `timeout`; returns how it exited.
pub fn interrupt(child: &mut Child, timeout: Duration) -> ExitStatus {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(sent, "kill -INT {}", child.id());
    let what = format!("the process exited after Ctrl-C (within {timeout:?})");
    crate::wait::wait_for(timeout, &what, || child.try_wait().unwrap())
}

/// An empty folder for one test's files, `ttlab-{name}-{pid}` in the
/// system's temporary folder: emptied first, so a failed earlier run's
/// leftovers do not count.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/PID/status`):
/// what memory tests of served processes compare before and after a flood.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}
