//! `Cache-Control` directives of a response (RFC 9111 §5.2.2) and of a
//! request (§5.2.1), parsed leniently: a malformed member is skipped, never
//! an error, because a cache must keep working whatever an origin or a
//! client sends.
//!
//! The grammar (RFC 9111 §5.2, RFC 9110 §5.6): a comma-separated list over
//! every field line of `token [ "=" ( token / quoted-string ) ]`. Directive
//! names are case-insensitive. A comma inside a quoted string does not end a
//! member, so `extension="max-age=3600"` is one unknown directive (the
//! suite's `freshness-max-age-ignore-quoted*`, required). Whitespace around
//! `=` makes the member invalid (`max-age =3600` and `max-age= 3600` are
//! ignored, as the suite's checks expect and the grammar says).

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::dates::{DELTA_MAX, delta_seconds};
use super::lex::{for_each_directive, trim_ows};

/// The fields named by a qualified `no-cache` or `private`, or the whole
/// response when unqualified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FieldList {
    /// The directive is not present.
    #[default]
    Absent,
    /// Unqualified: applies to the whole response.
    All,
    /// Qualified (`no-cache="a, b"`): applies to these fields only, which a
    /// shared cache strips from what it stores and otherwise reuses the
    /// response (RFC 9111 §5.2.2.4, §5.2.2.7).
    Fields(Vec<HeaderName>),
}

impl FieldList {
    /// Whether the directive applies to the whole response.
    pub fn is_all(&self) -> bool {
        matches!(self, FieldList::All)
    }

    /// Merge another occurrence: unqualified wins (the most restrictive,
    /// RFC 9111 §4.2.1), qualified lists are united.
    fn merge(&mut self, other: FieldList) {
        match (&mut *self, other) {
            (_, FieldList::Absent) | (FieldList::All, _) => {}
            (me, FieldList::All) => *me = FieldList::All,
            (FieldList::Fields(mine), FieldList::Fields(more)) => {
                for f in more {
                    if !mine.contains(&f) {
                        mine.push(f);
                    }
                }
            }
            (me @ FieldList::Absent, more @ FieldList::Fields(_)) => *me = more,
        }
    }

    /// The field names of a directive's argument: a quoted list
    /// (`"a, b"`) or a bare token. Names that are not valid field names are
    /// dropped; an argument with no valid name at all counts as
    /// unqualified (the safe reading of a directive we could not parse).
    fn of_argument(arg: Option<&[u8]>) -> FieldList {
        let Some(arg) = arg else {
            return FieldList::All;
        };
        let names: Vec<HeaderName> = arg
            .split(|&b| b == b',')
            .map(trim_ows)
            .filter(|n| !n.is_empty())
            .filter_map(|n| HeaderName::from_bytes(n).ok())
            .collect();
        if names.is_empty() {
            FieldList::All
        } else {
            FieldList::Fields(names)
        }
    }
}

/// The `Cache-Control` directives of a response, or of a targeted field
/// (`CDN-Cache-Control`, `Surrogate-Control`) that uses the same
/// directives.
///
/// Delta-seconds values saturate at 2^31 (RFC 9111 §1.2.2). A directive
/// that appears more than once takes its **first** occurrence (RFC 9111
/// §4.2.1 allows first-or-stale; the suite only checks this). An invalid
/// value (`max-age=-1`, `max-age=0.5`, `max-age=3600a`, `max-age='1'`)
/// makes the lifetime 0 — "consider responses that have invalid freshness
/// information to be stale" (§4.2.1); the suite's `freshness-max-age-negative`
/// and `-single-quoted` require it. A quoted value of digits
/// (`max-age="3600"`) is accepted, as §5.2 asks recipients to.
// One flag per directive of the RFC: the struct mirrors the header.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseDirectives {
    /// `max-age`, seconds.
    pub max_age: Option<u64>,
    /// `s-maxage`, seconds (shared caches only).
    pub s_maxage: Option<u64>,
    /// `no-store`.
    pub no_store: bool,
    /// `no-cache`, qualified or not.
    pub no_cache: FieldList,
    /// `private`, qualified or not.
    pub private: FieldList,
    /// `public`.
    pub public: bool,
    /// `must-revalidate`.
    pub must_revalidate: bool,
    /// `proxy-revalidate`.
    pub proxy_revalidate: bool,
    /// `must-understand`.
    pub must_understand: bool,
    /// `no-transform`.
    pub no_transform: bool,
    /// `immutable` (RFC 8246).
    pub immutable: bool,
    /// `stale-while-revalidate`, seconds (RFC 5861 §3).
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error`, seconds (RFC 5861 §4).
    pub stale_if_error: Option<u64>,
}

impl ResponseDirectives {
    /// Parse every line of a `Cache-Control`-style field.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a HeaderValue>) -> Self {
        let mut d = ResponseDirectives::default();
        for_each_directive(lines, |name, arg| d.apply(name, arg));
        d
    }

    /// Apply one directive (name as sent, argument unquoted).
    pub(crate) fn apply(&mut self, name: &[u8], arg: Option<&[u8]>) {
        let mut buf = [0u8; 24];
        match lower(name, &mut buf) {
            "max-age" => first(&mut self.max_age, lifetime(arg)),
            "s-maxage" => first(&mut self.s_maxage, lifetime(arg)),
            "stale-while-revalidate" => first(&mut self.stale_while_revalidate, lifetime(arg)),
            "stale-if-error" => first(&mut self.stale_if_error, lifetime(arg)),
            "no-store" => self.no_store = true,
            "no-cache" => self.no_cache.merge(FieldList::of_argument(arg)),
            "private" => self.private.merge(FieldList::of_argument(arg)),
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "must-understand" => self.must_understand = true,
            "no-transform" => self.no_transform = true,
            "immutable" => self.immutable = true,
            _ => {}
        }
    }
}

/// `max-stale`'s value: any staleness, or at most this many seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxStale {
    /// `max-stale` without a value.
    Any,
    /// `max-stale=N`.
    Secs(u64),
}

/// The `Cache-Control` directives of a request (RFC 9111 §5.2.1).
///
/// Invalid values are ignored here (unlike a response's lifetime, where
/// invalid means stale): a request directive only narrows what the cache may
/// serve, and the RFC gives no rule for a malformed one; ignoring it serves
/// what an absent directive would.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestDirectives {
    /// `max-age`: the client accepts a response no older than this.
    pub max_age: Option<u64>,
    /// `max-stale`: the client accepts a stale response.
    pub max_stale: Option<MaxStale>,
    /// `min-fresh`: the client wants a response fresh for at least this long.
    pub min_fresh: Option<u64>,
    /// `no-cache` (or `Pragma: no-cache` without `Cache-Control`).
    pub no_cache: bool,
    /// `no-store`: do not store the response to this request.
    pub no_store: bool,
    /// `only-if-cached`: answer from the cache or 504.
    pub only_if_cached: bool,
}

impl RequestDirectives {
    /// Parse every line of a request's `Cache-Control`.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a HeaderValue>) -> Self {
        let mut d = RequestDirectives::default();
        let mut buf = [0u8; 24];
        for_each_directive(lines, |name, arg| match lower(name, &mut buf) {
            "max-age" => first(&mut d.max_age, arg.and_then(strict_delta)),
            "min-fresh" => first(&mut d.min_fresh, arg.and_then(strict_delta)),
            "max-stale" => {
                let v = match arg {
                    None => Some(MaxStale::Any),
                    Some(a) => strict_delta(a).map(MaxStale::Secs),
                };
                first(&mut d.max_stale, v);
            }
            "no-cache" => d.no_cache = true,
            "no-store" => d.no_store = true,
            "only-if-cached" => d.only_if_cached = true,
            _ => {}
        });
        d
    }

    /// The directives of a request. `Pragma: no-cache` counts as request
    /// `no-cache` when `Cache-Control` is absent (RFC 9111 §5.4): HTTP/1.0
    /// clients still send it, and a present `Cache-Control` is the newer
    /// word.
    pub fn of_request(headers: &HeaderMap) -> Self {
        let cc = headers.get_all(header::CACHE_CONTROL);
        if cc.iter().next().is_some() {
            return Self::parse(cc);
        }
        let mut d = RequestDirectives::default();
        for_each_directive(headers.get_all(header::PRAGMA), |name, _| {
            if name.eq_ignore_ascii_case(b"no-cache") {
                d.no_cache = true;
            }
        });
        d
    }
}

/// Keep the first occurrence of a directive.
fn first<T>(slot: &mut Option<T>, v: Option<T>) {
    if slot.is_none() {
        *slot = v;
    }
}

/// A response lifetime directive's value: delta-seconds (also quoted),
/// and 0 ("stale") when missing or invalid.
fn lifetime(arg: Option<&[u8]>) -> Option<u64> {
    arg.and_then(strict_delta).or(Some(0))
}

fn strict_delta(v: &[u8]) -> Option<u64> {
    delta_seconds(v).map(|s| s.min(DELTA_MAX))
}

/// A directive name lower-cased into `buf`, or "" when it is longer than
/// any we know (the longest, `stale-while-revalidate`, is 22 bytes). On the
/// stack: the fill path parses one of these per directive.
fn lower<'b>(name: &[u8], buf: &'b mut [u8; 24]) -> &'b str {
    if name.len() > buf.len() {
        return "";
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    std::str::from_utf8(&buf[..name.len()]).unwrap_or("")
}
