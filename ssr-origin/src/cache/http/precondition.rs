//! A client's own preconditions on a GET or HEAD that a cache answers
//! (RFC 9110 §13.1.2, §13.1.3, §13.2.2): when they say the client already
//! holds the representation, the cache answers `304 Not Modified` itself.

use axum::http::{HeaderMap, header};

use super::dates::http_date;
use super::lex::{for_each_member, trim_ows};

/// Whether a GET or HEAD with fields `request`, answered by a response with
/// fields `response`, gets `304 Not Modified`: `If-None-Match` decides when
/// present (`*`, or any listed tag equal to the response's `ETag` by weak
/// comparison); otherwise `If-Modified-Since`, when it is a valid date and
/// the response's `Last-Modified` is not later than it.
pub fn not_modified(request: &HeaderMap, response: &HeaderMap) -> bool {
    let mut inm = request.get_all(header::IF_NONE_MATCH).iter().peekable();
    if inm.peek().is_some() {
        let Some(etag) = response.get(header::ETAG).map(|v| opaque(v.as_bytes())) else {
            // Only `*` matches a representation without a tag.
            return inm.any(|l| trim_ows(l.as_bytes()) == b"*");
        };
        let mut hit = false;
        for line in inm {
            for_each_member(line.as_bytes(), |m| {
                if m == b"*" || opaque(m) == etag {
                    hit = true;
                }
            });
        }
        return hit;
    }
    let Some(since) = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| http_date(v.as_bytes()))
    else {
        return false;
    };
    response
        .get(header::LAST_MODIFIED)
        .and_then(|v| http_date(v.as_bytes()))
        .is_some_and(|lm| lm <= since)
}

/// An entity tag without its weakness indicator (weak comparison).
fn opaque(tag: &[u8]) -> &[u8] {
    let t = trim_ows(tag);
    t.strip_prefix(b"W/").unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn if_none_match_decides_with_weak_comparison() {
        let resp = h(&[
            ("etag", "\"abc\""),
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert!(not_modified(&h(&[("if-none-match", "\"abc\"")]), &resp));
        assert!(not_modified(&h(&[("if-none-match", "W/\"abc\"")]), &resp));
        assert!(not_modified(
            &h(&[("if-none-match", "\"x\", \"abc\"")]),
            &resp
        ));
        assert!(not_modified(&h(&[("if-none-match", "*")]), &resp));
        assert!(!not_modified(&h(&[("if-none-match", "\"x\"")]), &resp));
        // If-None-Match present: If-Modified-Since is not looked at.
        assert!(!not_modified(
            &h(&[
                ("if-none-match", "\"x\""),
                ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")
            ]),
            &resp
        ));
    }

    #[test]
    fn if_modified_since_compares_dates() {
        let resp = h(&[("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert!(not_modified(
            &h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            &resp
        ));
        assert!(not_modified(
            &h(&[("if-modified-since", "Mon, 07 Nov 1994 08:49:37 GMT")]),
            &resp
        ));
        assert!(!not_modified(
            &h(&[("if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT")]),
            &resp
        ));
        assert!(!not_modified(
            &h(&[("if-modified-since", "yesterday")]),
            &resp
        ));
        assert!(!not_modified(
            &h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            &h(&[])
        ));
        assert!(!not_modified(&h(&[]), &resp));
    }
}
