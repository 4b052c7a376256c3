//! Validation: the conditional request a cache sends for a stored response
//! (RFC 9111 §4.3.1), whether a `304` selects it (§4.3.4), and how the
//! stored fields are freshened (§3.2).

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::hop::is_hop_by_hop;

/// The validator fields to add to a request that revalidates `stored`:
/// `If-None-Match` with every stored `ETag` (RFC 9111 §4.3.1), and
/// `If-Modified-Since` with the stored `Last-Modified` as sent (the origin
/// compares its own string; re-formatting could turn a match into a miss),
/// when it is a valid date.
pub fn conditional(stored: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let etags: Vec<&[u8]> = stored
        .get_all(header::ETAG)
        .iter()
        .map(HeaderValue::as_bytes)
        .filter(|e| !e.is_empty())
        .collect();
    if !etags.is_empty()
        && let Ok(v) = HeaderValue::from_bytes(&etags.join(&b", "[..]))
    {
        out.push((header::IF_NONE_MATCH, v));
    }
    if let Some(lm) = stored.get(header::LAST_MODIFIED)
        && super::dates::http_date(lm.as_bytes()).is_some()
    {
        out.push((header::IF_MODIFIED_SINCE, lm.clone()));
    }
    out
}

/// An entity tag split into (weak, opaque-tag with quotes); None when not
/// one (RFC 9110 §8.8.3).
fn entity_tag(v: &[u8]) -> Option<(bool, &[u8])> {
    let v = super::lex::trim_ows(v);
    let (weak, tag) = match v.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    (tag.len() >= 2
        && tag[0] == b'"'
        && tag[tag.len() - 1] == b'"'
        && !tag[1..tag.len() - 1].contains(&b'"'))
    .then_some((weak, tag))
}

/// Whether a `304 Not Modified` selects `stored` for freshening (RFC 9111
/// §4.3.4): by a strong `ETag` when the 304 has one (strong comparison);
/// else by `Last-Modified` equal to the stored one; else, when the 304 has
/// no validator at all, if the stored response has none either (we keep
/// one response per secondary key, so "only one stored response" holds).
///
/// One choice beyond the RFC: a 304 whose only validator is a weak `ETag`
/// selects a stored response with the same opaque tag (weak comparison,
/// RFC 9110 §8.8.3.2). The 304 answers our own `If-None-Match`, which the
/// origin judged with weak comparison; refusing it would force a full
/// refetch from every origin that sends weak tags (compressing servers do).
pub fn freshens(stored: &HeaderMap, not_modified: &HeaderMap) -> bool {
    let new_tags: Vec<(bool, &[u8])> = tags(not_modified);
    let old_tags: Vec<(bool, &[u8])> = tags(stored);
    if new_tags.iter().any(|(weak, _)| !weak) {
        return new_tags
            .iter()
            .filter(|(weak, _)| !weak)
            .any(|(_, t)| old_tags.iter().any(|(w, o)| !w && o == t));
    }
    if let Some(lm) = not_modified.get(header::LAST_MODIFIED) {
        return stored.get(header::LAST_MODIFIED).is_some_and(|s| {
            match (
                super::dates::http_date(s.as_bytes()),
                super::dates::http_date(lm.as_bytes()),
            ) {
                (Some(a), Some(b)) => a == b,
                _ => s == lm,
            }
        });
    }
    if !new_tags.is_empty() {
        return new_tags
            .iter()
            .any(|(_, t)| old_tags.iter().any(|(_, o)| o == t));
    }
    // A junk ETag is still an ETag field: not "no validator".
    let bare =
        |h: &HeaderMap| !h.contains_key(header::ETAG) && !h.contains_key(header::LAST_MODIFIED);
    bare(not_modified) && bare(stored)
}

fn tags(h: &HeaderMap) -> Vec<(bool, &[u8])> {
    let mut out = Vec::new();
    for v in h.get_all(header::ETAG) {
        super::lex::for_each_member(v.as_bytes(), |m| {
            if let Some(t) = entity_tag(m) {
                out.push(t);
            }
        });
    }
    out
}

/// Fields a `304` never replaces in the stored response: they describe the
/// stored body (its length, coding, range, digest) or the validator the 304
/// was selected by. RFC 9111 §3.2 names `Content-Length`; the suite's
/// required `304-etag-update-response-*` tests add `Content-Encoding`,
/// `Content-MD5`, `Content-Range` and `ETag`.
const KEEP: [&str; 5] = [
    "content-length",
    "content-encoding",
    "content-md5",
    "content-range",
    "etag",
];

/// Freshen `stored` with a `304`'s fields (RFC 9111 §3.2, §4.3.4): every
/// field of the 304 replaces all lines of that field in the stored response,
/// except hop-by-hop fields (and those the 304's `Connection` names) and
/// the [`KEEP`] list. `Cache-Control`, `Expires`, `Date`, `Age`, `Vary` and
/// the rest are replaced, so the new freshness comes from the 304 — the
/// caller re-runs `evaluate` on the result.
pub fn update_headers(stored: &mut HeaderMap, not_modified: &HeaderMap) {
    for name in not_modified.keys() {
        if KEEP.contains(&name.as_str()) || is_hop_by_hop(name, not_modified) {
            continue;
        }
        stored.remove(name);
        for v in not_modified.get_all(name) {
            stored.append(name.clone(), v.clone());
        }
    }
}
