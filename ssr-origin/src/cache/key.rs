//! Cache keys: a primary part (the URL) plus an order-free variance part,
//! as pingora-cache builds them.
//!
//! The canonical encoding is injective: every field is tagged and length
//! prefixed, so no two different inputs encode alike — a visitor uid of ""
//! differs from no visitor, an empty variant set from no variants, and
//! `/a` + `b` from `/ab`. The variance of variant keys is the visitor's
//! [`VariantSet`], whose slots are in experience order whatever order the
//! aliases arrived in, so the key cannot depend on that order. The key that
//! stores use is the 128-bit xxh3 of the encoding: compact and fast.

use std::fmt;

use ttlab_scenarios::VariantSet;
use ttlab_scenarios::model::KeyScope;
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

/// What a key varies on, beside the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variance<'a> {
    /// Nothing: one entry per URL (`ssr-cdn-shared`).
    None,
    /// The visitor's uid, as the cookie carries it (`ssr-cdn-user`).
    Visitor(&'a str),
    /// The visitor's variants, already projected to the key scope
    /// (`ssr-origin-variant`, `ssr-edge`).
    Variants(VariantSet),
}

/// The key of one variant of `primary`: an HTTP answer's `Vary` names the
/// request fields it was selected by, and `secondary` hashes the request's
/// values of them (`cache::http::Vary::secondary`).
pub fn with_secondary(primary: CacheKey, secondary: u64) -> CacheKey {
    let mut buf = [0u8; 24];
    buf[..16].copy_from_slice(&primary.0.to_le_bytes());
    buf[16..].copy_from_slice(&secondary.to_le_bytes());
    CacheKey(xxh3_128(&buf))
}

/// Which variance an architecture's caching layer keys on: defined with
/// the architectures' topology, which says which layer keys on what.
pub use ttlab_scenarios::topology::KeyStrategy;

/// A cache key: the 128-bit hash of the canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CacheKey(pub u128);

impl std::hash::Hash for CacheKey {
    /// The key is a hash already: a map hashes its low 64 bits, not all 16
    /// bytes (equal keys still hash alike).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0 as u64);
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({:032x})", self.0)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

const TAG_PRIMARY: u8 = 1;
const TAG_NO_VARIANCE: u8 = 2;
const TAG_VISITOR: u8 = 3;
const TAG_VARIANTS: u8 = 4;

/// Writes the canonical encoding of (primary, variance) to `out`.
///
/// `primary` is the URL path with any query parameters the layer keys on,
/// already in canonical order (see [`canonical_query`]).
#[inline]
pub fn encode(primary: &str, variance: Variance<'_>, out: &mut impl Sink) {
    field(out, TAG_PRIMARY, primary.as_bytes());
    match variance {
        Variance::None => out.put(&[TAG_NO_VARIANCE]),
        Variance::Visitor(uid) => field(out, TAG_VISITOR, uid.as_bytes()),
        // One byte per experience slot: 0 = none, k = variant k - 1.
        Variance::Variants(set) => field(out, TAG_VARIANTS, set.as_slots()),
    }
}

#[inline]
fn field(out: &mut impl Sink, tag: u8, bytes: &[u8]) {
    out.put(&[tag]);
    out.put(&(bytes.len() as u64).to_le_bytes());
    out.put(bytes);
}

/// Where an encoding goes: a byte vector (to inspect it) or a hasher (to key).
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Xxh3 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// The key of (primary, variance): the xxh3-128 of the canonical encoding.
///
/// The encoding is written straight into a stack buffer and hashed in one
/// shot (a key per request is the simulator's hottest line); encodings
/// that do not fit stream through [`encode`]. Both hash the same bytes.
pub fn key(primary: &str, variance: Variance<'_>) -> CacheKey {
    let (tag, payload): (u8, &[u8]) = match variance {
        Variance::None => (TAG_NO_VARIANCE, &[]),
        Variance::Visitor(uid) => (TAG_VISITOR, uid.as_bytes()),
        Variance::Variants(ref set) => (TAG_VARIANTS, set.as_slots()),
    };
    let primary = primary.as_bytes();
    let mut buf = [0u8; 128];
    let header = 1 + 8;
    let len = header
        + primary.len()
        + if tag == TAG_NO_VARIANCE {
            1
        } else {
            header + payload.len()
        };
    if len > buf.len() {
        let mut h = Xxh3::new();
        encode(
            std::str::from_utf8(primary).expect("was a str"),
            variance,
            &mut h,
        );
        return CacheKey(h.digest128());
    }
    buf[0] = TAG_PRIMARY;
    buf[1..9].copy_from_slice(&(primary.len() as u64).to_le_bytes());
    buf[9..9 + primary.len()].copy_from_slice(primary);
    let at = 9 + primary.len();
    buf[at] = tag;
    if tag != TAG_NO_VARIANCE {
        buf[at + 1..at + 9].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        buf[at + 9..at + 9 + payload.len()].copy_from_slice(payload);
    }
    CacheKey(xxh3_128(&buf[..len]))
}

/// The variance a strategy keys on, given the visitor's uid and variants and
/// the page's experience mask (for the `page` scope).
pub fn variance(
    strategy: KeyStrategy,
    visitor: Option<&str>,
    variants: VariantSet,
    page_mask: u64,
) -> Variance<'_> {
    match strategy {
        KeyStrategy::Url => Variance::None,
        KeyStrategy::UrlVisitor => visitor.map_or(Variance::None, Variance::Visitor),
        KeyStrategy::UrlVariants(KeyScope::All) => Variance::Variants(variants),
        KeyStrategy::UrlVariants(KeyScope::Page) => Variance::Variants(variants.project(page_mask)),
    }
}

/// The query parameters of `query` whose names are in `keyed`, sorted by
/// name then value, as `name=value&…`: the part of a URL a layer keys on.
/// Parameters a layer does not key on are dropped, so they cannot split or
/// poison the cache.
pub fn canonical_query(query: Option<&str>, keyed: &[&str]) -> String {
    let Some(q) = query else { return String::new() };
    let mut pairs: Vec<(&str, &str)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .filter(|(k, _)| keyed.contains(k))
        .collect();
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(slots: &[Option<u16>]) -> VariantSet {
        let mut s = VariantSet::none(slots.len());
        for (e, v) in slots.iter().enumerate() {
            s.set(e as u16, *v);
        }
        s
    }

    fn bytes(primary: &str, v: Variance<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(primary, v, &mut out);
        out
    }

    #[test]
    fn the_one_shot_key_hashes_the_canonical_encoding() {
        // Short encodings are written into a stack buffer, long ones stream;
        // both must be the hash of what `encode` writes.
        let uid = "6f1c0d2e-1b2a-4c3d-8e4f-0a1b2c3d4e5f";
        let variants = set(&[Some(2), None, Some(0)]);
        for len in [
            0, 1, 13, 70, 72, 73, 74, 75, 76, 100, 109, 110, 111, 119, 200, 1000,
        ] {
            let path = "/".repeat(len);
            for v in [
                Variance::None,
                Variance::Visitor(uid),
                Variance::Visitor(""),
                Variance::Variants(variants),
                Variance::Variants(set(&[])),
            ] {
                let mut h = Xxh3::new();
                encode(&path, v, &mut h);
                assert_eq!(
                    key(&path, v),
                    CacheKey(h.digest128()),
                    "path of {len}, {v:?}"
                );
            }
        }
    }

    #[test]
    fn absent_differs_from_empty() {
        assert_ne!(key("/", Variance::None), key("/", Variance::Visitor("")));
        assert_ne!(
            key("/", Variance::None),
            key("/", Variance::Variants(set(&[])))
        );
        assert_ne!(
            key("/", Variance::Visitor("")),
            key("/", Variance::Variants(set(&[])))
        );
        // No variant in any experience is not the same as variant 0 somewhere.
        assert_ne!(
            key("/", Variance::Variants(set(&[None]))),
            key("/", Variance::Variants(set(&[Some(0)])))
        );
    }

    #[test]
    fn fields_are_length_prefixed() {
        assert_ne!(
            bytes("/a", Variance::Visitor("b")),
            bytes("/ab", Variance::Visitor(""))
        );
        assert_ne!(
            bytes("/", Variance::Visitor("x")),
            bytes("/", Variance::Variants(set(&[Some(119)])))
        );
    }

    #[test]
    fn variant_order_does_not_matter() {
        let mut a = VariantSet::none(3);
        a.set(2, Some(1));
        a.set(0, Some(0));
        let mut b = VariantSet::none(3);
        b.set(0, Some(0));
        b.set(2, Some(1));
        assert_eq!(
            key("/", Variance::Variants(a)),
            key("/", Variance::Variants(b))
        );
    }

    #[test]
    fn page_scope_drops_experiences_the_page_does_not_use() {
        let a = set(&[Some(0), Some(1)]);
        let b = set(&[Some(1), Some(1)]);
        let page = |v| variance(KeyStrategy::UrlVariants(KeyScope::Page), None, v, 0b10);
        let all = |v| variance(KeyStrategy::UrlVariants(KeyScope::All), None, v, 0b10);
        assert_eq!(key("/", page(a)), key("/", page(b)));
        assert_ne!(key("/", all(a)), key("/", all(b)));
        assert_eq!(
            variance(KeyStrategy::UrlVisitor, Some("u"), a, 0),
            Variance::Visitor("u")
        );
        assert_eq!(variance(KeyStrategy::Url, Some("u"), a, 0), Variance::None);
    }

    #[test]
    fn canonical_query_keeps_only_keyed_params_in_order() {
        let keyed = ["personalize_variants", "b"];
        assert_eq!(
            canonical_query(Some("utm=1&personalize_variants=0_1,a_0&b=2"), &keyed),
            "b=2&personalize_variants=0_1,a_0"
        );
        assert_eq!(
            canonical_query(Some("b=2&personalize_variants=0_1,a_0"), &keyed),
            canonical_query(Some("personalize_variants=0_1,a_0&b=2&x=9"), &keyed)
        );
        assert_eq!(canonical_query(None, &keyed), "");
        assert_eq!(canonical_query(Some("x=1"), &keyed), "");
    }
}
