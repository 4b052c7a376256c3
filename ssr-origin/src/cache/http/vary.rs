//! `Vary` (RFC 9110 §12.5.5) and the secondary cache key it makes (RFC 9111
//! §4.1).

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use xxhash_rust::xxh3::Xxh3;

use super::lex::{for_each_member, trim_ows};

/// A caller's normalisation of one selecting field: given the field and its
/// request lines, the bytes to key on, or None for [`normalise_default`].
pub type Normalise<'a> = dyn Fn(&HeaderName, &[&HeaderValue]) -> Option<Vec<u8>> + 'a;

/// The request fields a stored response was selected by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Vary {
    /// No `Vary` (or only empty members): one response for every request.
    #[default]
    None,
    /// `*` anywhere in any line, or a member that is not a field name: the
    /// response never matches a later request (RFC 9111 §4.1).
    Star,
    /// These fields, lower-case, sorted and deduplicated (so `Foo, Bar` and
    /// `bar, foo, Foo` give the same secondary key).
    Fields(Vec<HeaderName>),
}

impl Vary {
    /// Parse every `Vary` line of a response. Empty members (`, *`, a
    /// blank line) are skipped; `*` anywhere wins (the suite's required
    /// `vary-syntax-*`). A member that is not a valid field name also
    /// counts as `*`: we cannot tell which requests it would match, and
    /// never reusing the response is the safe reading.
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut fields: Vec<HeaderName> = Vec::new();
        let mut star = false;
        for line in headers.get_all(header::VARY) {
            for_each_member(line.as_bytes(), |m| {
                if m == b"*" {
                    star = true;
                } else {
                    match HeaderName::from_bytes(m) {
                        Ok(n) => fields.push(n),
                        Err(_) => star = true,
                    }
                }
            });
        }
        if star {
            return Vary::Star;
        }
        if fields.is_empty() {
            return Vary::None;
        }
        fields.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        fields.dedup();
        Vary::Fields(fields)
    }

    /// The secondary key of `request` for a response with this `Vary`: a
    /// 64-bit hash of each listed field's normalised value, or None for
    /// `Vary: *` (never matches). `Vary::None` gives a fixed key.
    ///
    /// `normalise` may replace one field's value (ttlab's CDN keys `Cookie`
    /// on the one cookie its strategy uses); it gets the field's lines and
    /// returns None to use [`normalise_default`]. An absent field is hashed
    /// differently from an empty one: RFC 9111 §4.1 lets an absent field
    /// match only an absent field (the suite's required `vary-omit` and
    /// `vary-omit-stored`).
    pub fn secondary(&self, request: &HeaderMap, normalise: &Normalise<'_>) -> Option<u64> {
        let fields = match self {
            Vary::None => return Some(0),
            Vary::Star => return None,
            Vary::Fields(f) => f,
        };
        let mut h = Xxh3::new();
        let mut lines: Vec<&HeaderValue> = Vec::new();
        let mut value = Vec::new();
        for name in fields {
            h.update(&(name.as_str().len() as u64).to_le_bytes());
            h.update(name.as_str().as_bytes());
            lines.clear();
            lines.extend(request.get_all(name));
            if lines.is_empty() {
                h.update(&[0]);
                continue;
            }
            value.clear();
            match normalise(name, &lines) {
                Some(v) => value = v,
                None => normalise_default(&lines, &mut value),
            }
            h.update(&[1]);
            h.update(&(value.len() as u64).to_le_bytes());
            h.update(&value);
        }
        Some(h.digest())
    }
}

/// The default normalisation of a selecting field (RFC 9110 §12.5.5: a
/// cache may normalise values whose semantics are equal): the lines
/// combined with `", "`, each member trimmed of OWS and empty members
/// dropped, so `1, 2` on one line equals `1` and `2` on two (the suite's
/// optimal `vary-normalise-combine`) and `1,2` equals `1, 2`. Commas inside
/// quoted strings are kept. Nothing else: case of tokens and order of
/// members are kept as sent, because whether they matter is per field
/// (`Accept-Language` order is a preference; a cookie's case is not
/// insignificant), and a wrong merge would serve one variant for another.
pub fn normalise_default(lines: &[&HeaderValue], out: &mut Vec<u8>) {
    for line in lines {
        for_each_member(line.as_bytes(), |m| {
            if !out.is_empty() {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(trim_ows(m));
        });
    }
}
