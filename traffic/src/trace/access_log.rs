//! The common and combined log formats, one request a line:
//! `host ident user [time] "METHOD path PROTO" status size` and, combined,
//! `"referer" "user agent"` after.
//!
//! The visitor is the user field (`%u`, `$remote_user`) when it is set: a
//! site that logs who signed in, or `ttlab traffic log`, which writes the
//! scenario's visitor uid there, names each visitor exactly. Otherwise it is
//! the client address, with the user agent when the line has one (many
//! visitors share an address).

use std::fmt::Write as _;
use std::io::BufRead;

use super::request::{Record, Request, Trace, read_lines};
use super::time;

/// Reads every line; bad ones are counted with their numbers.
pub(crate) fn read(reader: impl BufRead) -> std::io::Result<Trace> {
    read_lines(reader, parse)
}

/// One line: the request, or what is wrong with it.
pub(crate) fn parse(line: &str) -> Result<Request, String> {
    let (host, rest) = word(line).ok_or("no client address")?;
    let (_ident, rest) = word(rest).ok_or("no ident field")?;
    let (user, rest) = word(rest).ok_or("no user field")?;
    let rest = rest
        .trim_start()
        .strip_prefix('[')
        .ok_or("no [time] after the user field")?;
    let (stamp, rest) = rest.split_once(']').ok_or("the [time] is not closed")?;
    let at_us = time::parse_access_log(stamp)?;
    let (request, rest) = quoted(rest).ok_or("no quoted request (\"GET /path HTTP/1.1\")")?;
    let mut parts = request.split_whitespace();
    let (Some(_method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(format!("request {request:?} has no path"));
    };
    let (status, rest) = word(rest).ok_or("no status")?;
    if status.parse::<u16>().is_err() {
        return Err(format!("status {status:?} is not a number"));
    }
    let (size, rest) = word(rest).ok_or("no size")?;
    let size = match size {
        "-" => None,
        s => Some(
            s.parse::<u64>()
                .map_err(|_| format!("size {s:?} is not a number or -"))?,
        ),
    };
    // Combined: "referer" "user agent".
    let agent = quoted(rest)
        .and_then(|(_, rest)| quoted(rest))
        .map(|(a, _)| a);
    let visitor = match agent {
        _ if user != "-" => user.to_owned(),
        Some(a) if !a.is_empty() && a != "-" => format!("{host} {a}"),
        _ => host.to_owned(),
    };
    Ok(Request {
        at_us,
        path: path.to_owned(),
        visitor: Some(visitor),
        size,
    })
}

/// Writes `r` as one combined-format line: the visitor in the user field
/// (where [`parse`] takes it from), a client address made from the visitor
/// (so tools that tell visitors by address see as many), `GET`, status 200,
/// no size (ttlab models no bodies) and the agent `ttlab`. Times are whole
/// seconds in UTC, as `%t` writes them.
pub(crate) fn write_line(out: &mut String, r: &Record<'_>, stamp: &mut Stamp) {
    let h = fnv1a(r.visitor);
    let _ = write!(
        out,
        "10.{}.{}.{} - {} [{}] \"GET ",
        (h >> 16) & 0xff,
        (h >> 8) & 0xff,
        h & 0xff,
        if r.visitor.is_empty() { "-" } else { r.visitor },
        stamp.of(r.at_us)
    );
    for c in r.path.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str(" HTTP/1.1\" 200 - \"-\" \"ttlab\"\n");
}

/// The `[10/Oct/2000:13:55:36 +0000]` text of the last second written: a
/// log holds many lines per second, and formatting a date is the dearest
/// part of a line.
#[derive(Default)]
pub(crate) struct Stamp {
    second: Option<i64>,
    text: String,
}

impl Stamp {
    fn of(&mut self, at_us: i64) -> &str {
        let second = at_us.div_euclid(1_000_000);
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = time::format_access_log(second);
        }
        &self.text
    }
}

/// FNV-1a: a stable, dependency-free hash for the made-up client address.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The next space-separated word and the rest.
fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    Some(s.split_once(' ').unwrap_or((s, "")))
}

/// The next double-quoted field (backslash escapes kept as written) and the rest.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some((&s[..i], &s[i + 1..])),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_combined_lines() {
        let r = parse(r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#)
            .unwrap();
        assert_eq!(r.path, "/apache_pb.gif");
        assert_eq!(r.size, Some(2326));
        assert_eq!(r.visitor.as_deref(), Some("frank"), "the user field");
        let r = parse(
            r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        )
        .unwrap();
        assert_eq!(
            r.visitor.as_deref(),
            Some("127.0.0.1"),
            "no user: the client"
        );
        assert_eq!(r.at_us, 971_211_336_000_000);
        let r = parse(r#"10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "GET /a?b=\"c\" HTTP/1.1" 304 - "http://x/" "Mozilla/5.0 (X11)""#)
            .unwrap();
        assert_eq!(r.path, r#"/a?b=\"c\""#);
        assert_eq!(r.size, None);
        assert_eq!(r.visitor.as_deref(), Some("10.0.0.2 Mozilla/5.0 (X11)"));
    }

    #[test]
    fn a_written_line_reads_back() {
        let mut out = String::new();
        let mut stamp = Stamp::default();
        let r = Record {
            at_us: 971_211_336_750_000,
            path: "/a\"b",
            visitor: "3f2c-uid",
        };
        write_line(&mut out, &r, &mut stamp);
        assert!(
            out.ends_with(" - 3f2c-uid [10/Oct/2000:20:55:36 +0000] \"GET /a\\\"b HTTP/1.1\" 200 - \"-\" \"ttlab\"\n"),
            "{out}"
        );
        let back = parse(out.trim_end()).unwrap();
        assert_eq!(back.visitor.as_deref(), Some("3f2c-uid"));
        assert_eq!(back.at_us, 971_211_336_000_000, "whole seconds");
        assert_eq!(back.path, "/a\\\"b", "escapes kept as written");
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (line, says) in [
            ("", "no client address"),
            ("1.2.3.4 - -", "no [time]"),
            (
                "1.2.3.4 - - [today] \"GET / HTTP/1.1\" 200 1",
                "is not like",
            ),
            (
                "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] GET / 200 1",
                "no quoted request",
            ),
            (
                "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET\" 200 1",
                "has no path",
            ),
            (
                "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" ok 1",
                "status",
            ),
            (
                "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 big",
                "size",
            ),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.contains(says), "{line:?}: {e}");
        }
    }
}
