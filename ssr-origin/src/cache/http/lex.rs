//! The lexical layer shared by the field parsers: OWS, `tchar`, and
//! comma-separated lists whose members may hold quoted strings (RFC 9110
//! §5.6). Below every other module here, so none of them import each other
//! for it.

use axum::http::HeaderValue;

pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// `tchar` (RFC 9110 §5.6.2) as a table: the parser tests every byte of
/// every directive on the fill path.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Call `f(name, argument)` for each well-formed member of a
/// comma-separated directive list over every line. A quoted argument is
/// unescaped into a buffer; a member that is not `token [= token /
/// quoted-string]` is skipped whole.
pub(crate) fn for_each_directive<'a>(
    lines: impl IntoIterator<Item = &'a HeaderValue>,
    mut f: impl FnMut(&[u8], Option<&[u8]>),
) {
    let mut unescaped = Vec::new();
    for line in lines {
        for_each_member(line.as_bytes(), |member| {
            if let Some((name, arg)) = split_member(member, &mut unescaped) {
                f(name, arg);
            }
        });
    }
}

/// Split a line into comma-separated members, honouring quoted strings
/// (with `\` escapes), each trimmed of OWS; empty members skipped.
pub(crate) fn for_each_member<'l>(line: &'l [u8], mut f: impl FnMut(&'l [u8])) {
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in line.iter().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quotes = false;
            }
        } else if b == b'"' {
            in_quotes = true;
        } else if b == b',' {
            let m = trim_ows(&line[start..i]);
            if !m.is_empty() {
                f(m);
            }
            start = i + 1;
        }
    }
    let m = trim_ows(&line[start..]);
    if !m.is_empty() {
        f(m);
    }
}

/// `token [ "=" ( token / quoted-string ) ]`, or None when malformed.
pub(crate) fn split_member<'m>(
    member: &'m [u8],
    buf: &'m mut Vec<u8>,
) -> Option<(&'m [u8], Option<&'m [u8]>)> {
    let (name, arg) = match member.iter().position(|&b| b == b'=') {
        Some(eq) => (&member[..eq], Some(&member[eq + 1..])),
        None => (member, None),
    };
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let Some(arg) = arg else {
        return Some((name, None));
    };
    if let Some(inner) = arg.strip_prefix(b"\"") {
        buf.clear();
        let mut escaped = false;
        let mut closed = None;
        for (i, &b) in inner.iter().enumerate() {
            if escaped {
                buf.push(b);
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                closed = Some(i);
                break;
            } else {
                buf.push(b);
            }
        }
        // Closed, and nothing after the closing quote.
        match closed {
            Some(i) if i + 1 == inner.len() => Some((name, Some(&buf[..]))),
            _ => None,
        }
    } else if !arg.is_empty() && arg.iter().all(|&b| is_tchar(b)) {
        Some((name, Some(arg)))
    } else if arg.is_empty() {
        // `max-age=`: a directive with an empty (invalid) value.
        Some((name, Some(arg)))
    } else {
        None
    }
}
