//! Processes a real run starts beside its own servers — the team's app
//! (`app`), `varnishd` (`varnish`) — each in a process group of its own:
//! signals to every process of a group, whether any still runs, and a free
//! loopback port to start one on.
//!
//! A group of its own means that what the command starts (`npm` starting
//! `node`, varnishd's manager starting its child) is stopped with it, and
//! the terminal's Ctrl-C reaches ttlab only, which then stops it in order.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Sends `signal` to every process of group `pgid`; false when none is left.
pub fn signal(pgid: i32, signal: Signal) -> bool {
    killpg(Pid::from_raw(pgid), signal).is_ok()
}

/// Whether a process of group `pgid` still runs. On Linux the zombies
/// (exited, waiting for their parent to collect them) do not count: they
/// run nothing and hold no port, and one whose parent is gone waits for the
/// system's first process, which a container may not have reap it.
pub fn alive(pgid: i32) -> bool {
    match killpg(Pid::from_raw(pgid), None) {
        Err(Errno::ESRCH) => false,
        _ => running_members(pgid).is_none_or(|n| n > 0),
    }
}

/// How many processes of group `pgid` are not zombies, read from `/proc`
/// (`None` where there is none to read).
pub fn running_members(pgid: i32) -> Option<usize> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut n = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        if pgrp == Some(pgid) && state != Some("Z") {
            n += 1;
        }
    }
    Some(n)
}

/// A port nothing listens on now: bound on 127.0.0.1 with port 0, read,
/// and let go for a process ttlab starts to take. Another process could
/// take it between, which on loopback in a test or a developer's machine
/// does not happen in practice; the process then fails to start and the
/// run says so.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}
