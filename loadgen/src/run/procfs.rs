//! CPU time of this process and of its threads, read from /proc: how a
//! real run tells the load generator's CPU from the servers'.

use std::time::Duration;

/// This thread's id, from /proc/thread-self.
pub(super) fn thread_id() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// CPU time of thread `tid` of this process.
pub(super) fn thread_cpu(tid: &str) -> Option<Duration> {
    cpu_of(&format!("/proc/self/task/{tid}/stat"))
}

/// CPU time of this process so far (user + system), from /proc.
pub(super) fn process_cpu() -> Option<Duration> {
    cpu_of("/proc/self/stat")
}

/// User + system time from a /proc `stat` file.
fn cpu_of(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;

    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every common configuration.
    Some(Duration::from_millis(ticks * 10))
}
