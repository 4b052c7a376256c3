//! One byte range of a stored response (RFC 9110 §14): a cache holding a
//! complete `200` answers a `Range` request with the part asked for, as the
//! origin would have.

use axum::http::{HeaderMap, header};

use super::lex::trim_ows;

/// What a GET's `Range` asks of a representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    /// The whole representation: no `Range`, one this cache does not serve
    /// (several ranges, another unit, unparsable), or an `If-Range` that
    /// does not hold. RFC 9110 §14.2 lets a server ignore `Range`.
    Whole,
    /// Bytes `start..=end` (`206 Partial Content`).
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// A single range that starts past the end (`416 Range Not Satisfiable`).
    Unsatisfiable,
}

/// The range `request` asks of a representation of `len` bytes whose own
/// fields are `response` (for `If-Range`).
pub fn requested(request: &HeaderMap, response: &HeaderMap, len: u64) -> Ranged {
    let mut lines = request.get_all(header::RANGE).iter();
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Ranged::Whole;
    };
    if !if_range_holds(request, response) {
        return Ranged::Whole;
    }
    let v = trim_ows(line.as_bytes());
    let Some(eq) = v.iter().position(|&b| b == b'=') else {
        return Ranged::Whole;
    };
    if !trim_ows(&v[..eq]).eq_ignore_ascii_case(b"bytes") {
        return Ranged::Whole;
    }
    let spec = trim_ows(&v[eq + 1..]);
    if spec.contains(&b',') {
        return Ranged::Whole;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return Ranged::Whole;
    };
    let (first, last) = (trim_ows(&spec[..dash]), trim_ows(&spec[dash + 1..]));
    match (number(first), number(last)) {
        // `-N`: the last N bytes.
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start: len - n.min(len),
                    end: len - 1,
                }
            }
        }
        (Some(start), last) if last.is_some() || last_absent(spec, dash) => {
            if last.is_some_and(|l| l < start) {
                return Ranged::Whole;
            }
            if start >= len {
                return Ranged::Unsatisfiable;
            }
            Ranged::Part {
                start,
                end: last.map_or(len - 1, |l| l.min(len - 1)),
            }
        }
        _ => Ranged::Whole,
    }
}

fn last_absent(spec: &[u8], dash: usize) -> bool {
    trim_ows(&spec[dash + 1..]).is_empty()
}

/// Digits only, and at most 19 of them (no overflow).
fn number(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// `If-Range` (RFC 9110 §13.1.5): absent, or a strong `ETag` equal to the
/// response's, or a date equal to its `Last-Modified`.
fn if_range_holds(request: &HeaderMap, response: &HeaderMap) -> bool {
    let Some(cond) = request
        .get(header::IF_RANGE)
        .map(|v| trim_ows(v.as_bytes()))
    else {
        return true;
    };
    if cond.starts_with(b"\"") {
        return response
            .get(header::ETAG)
            .is_some_and(|e| trim_ows(e.as_bytes()) == cond);
    }
    if cond.starts_with(b"W/") {
        return false;
    }
    response
        .get(header::LAST_MODIFIED)
        .is_some_and(|lm| trim_ows(lm.as_bytes()) == cond)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn range(v: &'static str, len: u64) -> Ranged {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_static(v));
        requested(&h, &HeaderMap::new(), len)
    }

    #[test]
    fn one_range_of_each_form() {
        let part = |start, end| Ranged::Part { start, end };
        assert_eq!(range("bytes=0-1", 11), part(0, 1));
        assert_eq!(range("bytes=1-", 11), part(1, 10));
        assert_eq!(range("bytes=-5", 11), part(6, 10));
        assert_eq!(range("bytes=-50", 11), part(0, 10));
        assert_eq!(range("bytes=5-500", 11), part(5, 10));
        assert_eq!(range("BYTES = 2-3", 11), part(2, 3));
        assert_eq!(range("bytes=11-", 11), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=-0", 11), Ranged::Unsatisfiable);
        // Ignored: several ranges, other units, nonsense, overflow.
        for v in [
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=3-1",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(range(v, 11), Ranged::Whole, "{v}");
        }
    }

    #[test]
    fn if_range_must_hold() {
        let mut req = HeaderMap::new();
        req.insert(header::RANGE, HeaderValue::from_static("bytes=0-1"));
        req.insert(header::IF_RANGE, HeaderValue::from_static("\"a\""));
        let mut resp = HeaderMap::new();
        resp.insert(header::ETAG, HeaderValue::from_static("\"a\""));
        assert_eq!(requested(&req, &resp, 5), Ranged::Part { start: 0, end: 1 });
        resp.insert(header::ETAG, HeaderValue::from_static("\"b\""));
        assert_eq!(requested(&req, &resp, 5), Ranged::Whole);
        req.insert(header::IF_RANGE, HeaderValue::from_static("W/\"b\""));
        assert_eq!(
            requested(&req, &resp, 5),
            Ranged::Whole,
            "weak tags never hold"
        );
    }
}
