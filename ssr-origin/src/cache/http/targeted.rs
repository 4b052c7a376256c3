//! Targeted cache-control fields (RFC 9213): `CDN-Cache-Control` and
//! Fastly's `Surrogate-Control`, which speak to CDNs and reverse proxies
//! only, so an origin can give a CDN a longer life than browsers get.
//!
//! RFC 9213 §2.2: the cache takes the first field of its target list that
//! is present with a valid, non-empty value, and then ignores
//! `Cache-Control` **and** `Expires` entirely (so `Surrogate-Control:
//! max-age=3600` with `Cache-Control: no-store` is stored — the suite's
//! required `surrogate-fresh-cc-nostore` — and `Surrogate-Control: max-age=0`
//! with a future `Expires` is not — `surrogate-max-age-0-expires`).

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::dates::DELTA_MAX;
use super::directives::{FieldList, ResponseDirectives};
use super::lex::{for_each_member, is_tchar, split_member};

/// `CDN-Cache-Control` (RFC 9213).
pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");
/// `Surrogate-Control` (W3C Edge Architecture, Fastly).
pub const SURROGATE_CONTROL: HeaderName = HeaderName::from_static("surrogate-control");
/// `Surrogate-Capability`: the request field a surrogate adds to tell the
/// origin its device token, so the origin can target directives at it.
pub const SURROGATE_CAPABILITY: HeaderName = HeaderName::from_static("surrogate-capability");

/// Which targeted fields this cache obeys, most specific first, and its
/// device token for `Surrogate-Control` directives targeted with
/// `;token`.
///
/// Default: `CDN-Cache-Control` then `Surrogate-Control`, token `ttlab`.
/// `CDN-Cache-Control` first because it is the standard (RFC 9213) and
/// Fastly, the only CDN documented to read both, gives `Surrogate-Control`
/// precedence over `Cache-Control` only; the suite has no test with both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    fields: Vec<HeaderName>,
    device: String,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            fields: vec![CDN_CACHE_CONTROL, SURROGATE_CONTROL],
            device: "ttlab".to_owned(),
        }
    }
}

/// The directives that decide a response's caching, and which field they
/// came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    /// The targeted field used, or None for `Cache-Control` (and `Expires`).
    pub field: Option<HeaderName>,
    /// Its directives.
    pub directives: ResponseDirectives,
}

impl Targets {
    /// A target list (lower-case names, most specific first) and a device
    /// token. An empty list makes the cache follow `Cache-Control` only.
    pub fn new(fields: Vec<HeaderName>, device: impl Into<String>) -> Self {
        Targets {
            fields,
            device: device.into(),
        }
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[HeaderName] {
        &self.fields
    }

    /// The device token `Surrogate-Control` directives may target.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The `Surrogate-Capability` value a surrogate adds to requests it
    /// forwards (`ttlab="Surrogate/1.0"`), when it obeys
    /// `Surrogate-Control`; None otherwise (or when the token is not a
    /// valid header value).
    pub fn capability(&self) -> Option<HeaderValue> {
        if !self.fields.contains(&SURROGATE_CONTROL) {
            return None;
        }
        HeaderValue::from_str(&format!("{}=\"Surrogate/1.0\"", self.device)).ok()
    }

    /// The directives that apply to a response: the first target field
    /// present with at least one valid directive for this cache, else
    /// `Cache-Control`.
    pub fn select(&self, headers: &HeaderMap) -> Selected {
        for field in &self.fields {
            let mut lines = headers.get_all(field).iter().peekable();
            if lines.peek().is_none() {
                continue;
            }
            let parsed = if *field == SURROGATE_CONTROL {
                surrogate(lines, &self.device)
            } else {
                dictionary(lines)
            };
            if let Some(directives) = parsed {
                return Selected {
                    field: Some(field.clone()),
                    directives,
                };
            }
        }
        Selected {
            field: None,
            directives: ResponseDirectives::parse(
                headers.get_all(axum::http::header::CACHE_CONTROL),
            ),
        }
    }
}

/// Whether a response field is meant for this cache only and so is removed
/// before the response goes downstream. `Surrogate-Control` is (Fastly
/// strips it; the Edge Architecture gives it to the surrogate it reaches);
/// `CDN-Cache-Control` is not even when obeyed, because RFC 9213 targets
/// it at every CDN in a chain, so the next one needs it too.
pub fn is_targeted(name: &HeaderName, targets: &Targets) -> bool {
    *name != CDN_CACHE_CONTROL && targets.fields.contains(name)
}

/// `Surrogate-Control`: `Cache-Control` syntax where a directive may end in
/// `;token` to target one device. Directives targeted elsewhere are
/// skipped; None when no directive applies to us.
fn surrogate<'a>(
    lines: impl Iterator<Item = &'a HeaderValue>,
    device: &str,
) -> Option<ResponseDirectives> {
    let mut d = ResponseDirectives::default();
    let mut any = false;
    let mut buf = Vec::new();
    for line in lines {
        for_each_member(line.as_bytes(), |member| {
            let member = match target_of(member) {
                Some((directive, target)) => {
                    if !target.eq_ignore_ascii_case(device.as_bytes()) {
                        return;
                    }
                    directive
                }
                None => member,
            };
            if let Some((name, arg)) = split_member(member, &mut buf) {
                d.apply(name, arg);
                any = true;
            }
        });
    }
    any.then_some(d)
}

/// Split `directive;target` at a `;` outside quotes.
fn target_of(member: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut in_quotes = false;
    let mut split = None;
    for (i, &b) in member.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b';' if !in_quotes => split = Some(i),
            _ => {}
        }
    }
    split.map(|i| (&member[..i], &member[i + 1..]))
}

/// A bare item of a structured field (RFC 8941 §3.3), as far as the
/// directives need it.
enum Item {
    True,
    False,
    Integer(i64),
    Other,
}

/// `CDN-Cache-Control`: a structured-field Dictionary (RFC 9213 §2.1,
/// RFC 8941). A field that does not parse, or parses empty, is ignored
/// (None: the next target or `Cache-Control` applies). Lifetimes must be
/// Integers; any other type, or a negative one, counts as 0 (invalid
/// freshness means stale, as for `Cache-Control`). A key that appears twice
/// takes its last value (RFC 8941 §4.2.2).
fn dictionary<'a>(lines: impl Iterator<Item = &'a HeaderValue>) -> Option<ResponseDirectives> {
    let mut joined = Vec::new();
    for line in lines {
        if !joined.is_empty() {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(line.as_bytes());
    }
    let members = parse_dictionary(&joined)?;
    if members.is_empty() {
        return None;
    }
    let mut d = ResponseDirectives::default();
    for (key, item) in members {
        let secs = || match item {
            Item::Integer(n) => Some((n.max(0) as u64).min(DELTA_MAX)),
            _ => Some(0),
        };
        let flag = !matches!(item, Item::False);
        match key {
            b"max-age" => d.max_age = secs(),
            b"s-maxage" => d.s_maxage = secs(),
            b"stale-while-revalidate" => d.stale_while_revalidate = secs(),
            b"stale-if-error" => d.stale_if_error = secs(),
            _ if !flag => {}
            b"no-store" => d.no_store = true,
            b"no-cache" => d.no_cache = FieldList::All,
            b"private" => d.private = FieldList::All,
            b"public" => d.public = true,
            b"must-revalidate" => d.must_revalidate = true,
            b"proxy-revalidate" => d.proxy_revalidate = true,
            b"must-understand" => d.must_understand = true,
            b"no-transform" => d.no_transform = true,
            b"immutable" => d.immutable = true,
            _ => {}
        }
    }
    Some(d)
}

/// RFC 8941 §4.2.2 Dictionary, strictly: `key[=item](;param)*` members
/// separated by `OWS "," OWS`. None on any error.
fn parse_dictionary(v: &[u8]) -> Option<Vec<(&[u8], Item)>> {
    let mut out: Vec<(&[u8], Item)> = Vec::new();
    let mut i = skip_sp(v, 0);
    if i == v.len() {
        return Some(out);
    }
    loop {
        let (key, next) = key(v, i)?;
        i = next;
        let item = if v.get(i) == Some(&b'=') {
            // An inner list is allowed as a value; we do not need its items.
            if v.get(i + 1) == Some(&b'(') {
                i = inner_list(v, i + 1)?;
                Item::Other
            } else {
                let (item, next) = bare_item(v, i + 1)?;
                i = next;
                item
            }
        } else {
            Item::True
        };
        i = params(v, i)?;
        out.retain(|(k, _)| *k != key);
        out.push((key, item));
        i = skip_ows(v, i);
        if i == v.len() {
            return Some(out);
        }
        if v[i] != b',' {
            return None;
        }
        i = skip_ows(v, i + 1);
        if i == v.len() {
            return None; // trailing comma
        }
    }
}

fn skip_sp(v: &[u8], mut i: usize) -> usize {
    while v.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

fn skip_ows(v: &[u8], mut i: usize) -> usize {
    while matches!(v.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

fn key(v: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let first = *v.get(i)?;
    if !(first.is_ascii_lowercase() || first == b'*') {
        return None;
    }
    let mut j = i + 1;
    while let Some(&b) = v.get(j) {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b) {
            j += 1;
        } else {
            break;
        }
    }
    Some((&v[i..j], j))
}

fn params(v: &[u8], mut i: usize) -> Option<usize> {
    while v.get(i) == Some(&b';') {
        i = skip_sp(v, i + 1);
        let (_, next) = key(v, i)?;
        i = next;
        if v.get(i) == Some(&b'=') {
            i = bare_item(v, i + 1)?.1;
        }
    }
    Some(i)
}

fn inner_list(v: &[u8], mut i: usize) -> Option<usize> {
    i += 1; // '('
    loop {
        i = skip_sp(v, i);
        match v.get(i)? {
            b')' => return params(v, i + 1),
            _ => {
                i = bare_item(v, i)?.1;
                i = params(v, i)?;
                if !matches!(v.get(i), Some(b' ' | b')')) {
                    return None;
                }
            }
        }
    }
}

fn bare_item(v: &[u8], i: usize) -> Option<(Item, usize)> {
    let first = *v.get(i)?;
    match first {
        b'-' | b'0'..=b'9' => number(v, i),
        b'"' => {
            let mut j = i + 1;
            loop {
                match *v.get(j)? {
                    b'\\' => {
                        if !matches!(v.get(j + 1), Some(b'"' | b'\\')) {
                            return None;
                        }
                        j += 2;
                    }
                    b'"' => return Some((Item::Other, j + 1)),
                    0x20..=0x7e => j += 1,
                    _ => return None,
                }
            }
        }
        b'?' => match v.get(i + 1) {
            Some(b'1') => Some((Item::True, i + 2)),
            Some(b'0') => Some((Item::False, i + 2)),
            _ => None,
        },
        b':' => {
            let mut j = i + 1;
            loop {
                match *v.get(j)? {
                    b':' => return Some((Item::Other, j + 1)),
                    b if b.is_ascii_alphanumeric() || b"+/=".contains(&b) => j += 1,
                    _ => return None,
                }
            }
        }
        b if b.is_ascii_alphabetic() || b == b'*' => {
            let mut j = i + 1;
            while let Some(&b) = v.get(j) {
                if is_tchar(b) || b == b':' || b == b'/' {
                    j += 1;
                } else {
                    break;
                }
            }
            Some((Item::Other, j))
        }
        _ => None,
    }
}

/// RFC 8941 §4.2.4: an Integer of at most 15 digits, or a Decimal.
fn number(v: &[u8], i: usize) -> Option<(Item, usize)> {
    let neg = v[i] == b'-';
    let start = if neg { i + 1 } else { i };
    let mut j = start;
    while v.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    let digits = j - start;
    if digits == 0 {
        return None;
    }
    if v.get(j) == Some(&b'.') {
        if digits > 12 {
            return None;
        }
        let frac_start = j + 1;
        let mut k = frac_start;
        while v.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        if k == frac_start || k - frac_start > 3 {
            return None;
        }
        return Some((Item::Other, k));
    }
    if digits > 15 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in &v[start..j] {
        n = n * 10 + i64::from(d - b'0');
    }
    Some((Item::Integer(if neg { -n } else { n }), j))
}
