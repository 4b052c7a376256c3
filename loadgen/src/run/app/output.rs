//! What the team's app writes: every line into its log file, as it comes,
//! and the last lines kept in memory to show when it fails.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};

/// Lines kept to show when the app fails.
pub const LAST_LINES: usize = 40;
/// Characters kept of one such line: the ring stays small whatever the
/// app prints (the log file has every byte).
const LINE_CHARS: usize = 2_000;

/// The app's output: its log file (if kept) and its last lines.
pub struct Output {
    last: Mutex<VecDeque<String>>,
    file: Option<Mutex<std::fs::File>>,
}

impl Output {
    /// Output written to `log` (created, or emptied), or kept in memory only.
    pub fn new(log: Option<&Path>) -> std::io::Result<Output> {
        let file = match log {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Some(Mutex::new(std::fs::File::create(path)?))
            }
            None => None,
        };
        Ok(Output {
            last: Mutex::new(VecDeque::with_capacity(LAST_LINES)),
            file,
        })
    }

    /// One line the app wrote (with its newline, if it had one).
    fn line(&self, bytes: &[u8]) {
        if let Some(file) = &self.file {
            let mut f = file.lock().expect("app log");
            // The log is for reading after the run: a full disk loses lines
            // of it, not the run.
            let _ = f.write_all(bytes);
            if !bytes.ends_with(b"\n") {
                let _ = f.write_all(b"\n");
            }
        }
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches(['\n', '\r']);
        let kept: String = text.chars().take(LINE_CHARS).collect();
        let mut last = self.last.lock().expect("app output");
        if last.len() == LAST_LINES {
            last.pop_front();
        }
        last.push_back(kept);
    }

    /// A note of ttlab's own in the log (when the app was started, stopped).
    pub fn note(&self, text: &str) {
        if let Some(file) = &self.file {
            let _ = writeln!(file.lock().expect("app log"), "[ttlab] {text}");
        }
    }

    /// The last lines the app wrote, oldest first.
    pub fn last_lines(&self) -> Vec<String> {
        self.last
            .lock()
            .expect("app output")
            .iter()
            .cloned()
            .collect()
    }
}

/// Reads `from` line by line into `out` until it closes.
pub async fn pump(from: impl AsyncRead + Unpin, out: Arc<Output>) {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => out.line(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_whole_and_every_line_in_the_file() {
        let dir = std::env::temp_dir().join(format!("ttlab-app-output-{}", std::process::id()));
        let log = dir.join("app.log");
        let out = Output::new(Some(&log)).unwrap();
        for i in 0..100 {
            out.line(format!("line {i}\n").as_bytes());
        }
        out.line(&[0xff, b'x']);
        let last = out.last_lines();
        assert_eq!(last.len(), LAST_LINES);
        assert_eq!(last[0], "line 61");
        assert_eq!(last[LAST_LINES - 1], "\u{fffd}x");
        let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
        assert_eq!(text.lines().count(), 101);
        out.line("y".repeat(10_000).as_bytes());
        assert_eq!(out.last_lines()[LAST_LINES - 1].len(), LINE_CHARS);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
