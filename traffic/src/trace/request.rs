//! What a read trace holds: its requests and its bad lines; and what a
//! written one is made from ([`Record`]).

/// One request of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// When, in microseconds: since the Unix epoch for absolute times
    /// (access logs, RFC 3339), or on the trace's own scale for numbers.
    pub at_us: i64,
    /// The path asked for (or the object id of a cache trace).
    pub path: String,
    /// Who asked, when the trace says (a visitor id column; in an access
    /// log the client address, with the user agent when there is one).
    pub visitor: Option<String>,
    /// Bytes of the answer, when the trace says.
    pub size: Option<u64>,
}

/// One request to write: borrowed, so a generator hands out its own
/// strings without copying them per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// When, in microseconds since the Unix epoch.
    pub at_us: i64,
    /// The path asked for.
    pub path: &'a str,
    /// Who asked (written where the format's reader takes the visitor
    /// from: the access log's user field, the `visitor` column or key).
    pub visitor: &'a str,
}

/// A line that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// Its number in the file, from 1.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

/// How many bad lines a [`Trace`] keeps to show (all are counted).
pub const BAD_LINES_KEPT: usize = 20;

/// A trace read: its requests in file order and what could not be read.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The good lines' requests, in file order.
    pub requests: Vec<Request>,
    /// Lines read (blank lines and a header included).
    pub lines: u64,
    /// The first [`BAD_LINES_KEPT`] bad lines.
    pub bad: Vec<BadLine>,
    /// Bad lines in all.
    pub bad_count: u64,
}

impl Trace {
    /// Counts a bad line, keeping the first few to show.
    pub(crate) fn bad_line(&mut self, line: u64, message: impl Into<String>) {
        self.bad_count += 1;
        if self.bad.len() < BAD_LINES_KEPT {
            self.bad.push(BadLine {
                line,
                message: message.into(),
            });
        }
    }
}

/// Reads a line-per-request file: `parse` each non-blank line, counting
/// the ones it refuses with their numbers.
pub(crate) fn read_lines(
    reader: impl std::io::BufRead,
    parse: impl Fn(&str) -> Result<Request, String>,
) -> std::io::Result<Trace> {
    let mut trace = Trace::default();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let n = i as u64 + 1;
        trace.lines = n;
        if line.trim().is_empty() {
            continue;
        }
        match parse(&line) {
            Ok(r) => trace.requests.push(r),
            Err(e) => trace.bad_line(n, e),
        }
    }
    Ok(trace)
}

/// A size field: a whole number of bytes.
pub(crate) fn parse_size(name: &str, text: &str) -> Result<u64, String> {
    let text = text.trim();
    text.parse()
        .map_err(|_| format!("{name} {text:?} is not a number"))
}
