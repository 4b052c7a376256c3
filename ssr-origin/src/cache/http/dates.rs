//! HTTP dates (RFC 9110 §5.6.7), delta-seconds (RFC 9111 §1.2.2) and the
//! `Age` field (RFC 9111 §5.1).

use std::time::SystemTime;

use axum::http::{HeaderMap, header};

use super::lex::trim_ows;

/// The largest delta-seconds a cache must represent: 2^31 (RFC 9111
/// §1.2.2). Larger values, `99999999999` or `10^100`, saturate to it, so
/// they mean "fresh for 68 years", never an overflow.
pub const DELTA_MAX: u64 = 1 << 31;

/// An HTTP date in any of the three formats a recipient must accept
/// (IMF-fixdate, RFC 850 with a two-digit year, asctime), surrounding
/// whitespace allowed; None for anything else (`0`, `-1`, junk, non-UTF-8).
/// The `httpdate` crate does the parsing: it implements exactly these three
/// formats without allocating.
pub fn http_date(v: &[u8]) -> Option<SystemTime> {
    let s = std::str::from_utf8(trim_ows(v)).ok()?;
    httpdate::parse_http_date(s).ok()
}

/// `delta-seconds = 1*DIGIT`, saturating at [`DELTA_MAX`]; a quoted form
/// (`"3600"`) is accepted (RFC 9111 §5.2: recipients should accept it).
/// None for anything else: empty, a sign, a fraction, trailing junk.
pub fn delta_seconds(v: &[u8]) -> Option<u64> {
    let v = match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    };
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in v {
        n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        if n >= DELTA_MAX {
            return Some(DELTA_MAX);
        }
    }
    Some(n)
}

/// The `Age` of a response: None when absent; the value when exactly one
/// line holds one delta-seconds; otherwise [`DELTA_MAX`], which makes the
/// response stale.
///
/// RFC 9111 §5.1 says to take the first member of a list and ignore an
/// invalid value; the suite's required `age-parse-*` tests instead expect a
/// response with a non-numeric, negative, fractional, parameterised,
/// listed (`0, 0`, `7200,0`) or repeated (two lines) `Age` to be treated as
/// stale. We follow the suite: 11 of its 12 `age-parse` tests pass (only
/// `age-parse-prefix`, which expects `0,7200` to be fresh while `0, 0` is
/// stale, cannot pass together with the others). A shared cache that
/// refuses to trust a garbled `Age` errs on the side of revalidating.
pub fn age(headers: &HeaderMap) -> Option<u64> {
    let mut lines = headers.get_all(header::AGE).iter();
    let first = lines.next()?;
    if lines.next().is_some() {
        return Some(DELTA_MAX);
    }
    let v = trim_ows(first.as_bytes());
    if v.first() == Some(&b'"') {
        return Some(DELTA_MAX);
    }
    Some(delta_seconds(v).unwrap_or(DELTA_MAX))
}
