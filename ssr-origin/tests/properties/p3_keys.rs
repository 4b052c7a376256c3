//! Property 3, key canonicalization: the order of variants, of cookies and
//! of query parameters, and inputs a layer does not key on, never change a
//! key; distinct inputs never share one (the encoding is injective — a
//! decoder recovers every input from it — and absent differs from empty).

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use ttlab_scenarios::model::KeyScope;
use ttlab_scenarios::{VariantSet, World, parse_str};
use ttlab_ssr_origin::cache::key::encode;
use ttlab_ssr_origin::cache::{self, CacheKey, KeyStrategy, Variance, canonical_query};
use ttlab_ssr_origin::origin::UID_COOKIE;
use ttlab_ssr_origin::response::cookie;
use ttlab_ssr_origin::upstream::parse_variant_param;
use xxhash_rust::xxh3::xxh3_128;

use crate::broken::expect_failure;
use crate::harness::set_of;

/// A key's input, owned, in a form a test can compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    primary: String,
    variance: V,
}

/// An owned [`Variance`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V {
    None,
    Visitor(String),
    /// One optional variant per experience (variant indices up to 254).
    Variants(Vec<Option<u8>>),
}

impl Input {
    fn set(slots: &[Option<u8>]) -> VariantSet {
        set_of(slots)
    }

    /// The library's key of this input.
    fn key(&self) -> CacheKey {
        match &self.variance {
            V::None => cache::key(&self.primary, Variance::None),
            V::Visitor(u) => cache::key(&self.primary, Variance::Visitor(u)),
            V::Variants(s) => cache::key(&self.primary, Variance::Variants(Self::set(s))),
        }
    }

    fn encoding(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.variance {
            V::None => encode(&self.primary, Variance::None, &mut out),
            V::Visitor(u) => encode(&self.primary, Variance::Visitor(u), &mut out),
            V::Variants(s) => encode(&self.primary, Variance::Variants(Self::set(s)), &mut out),
        }
        out
    }
}

/// Reads an encoding back: the proof that it is injective (a function with
/// a left inverse is). `None` if the bytes are not one whole encoding.
fn decode(bytes: &[u8]) -> Option<Input> {
    fn field(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let len = usize::try_from(u64::from_le_bytes(b.get(..8)?.try_into().ok()?)).ok()?;
        let rest = b.get(8..)?;
        Some((rest.get(..len)?, rest.get(len..)?))
    }
    let (&1, b) = bytes.split_first()? else {
        return None;
    };
    let (primary, b) = field(b)?;
    let primary = String::from_utf8(primary.to_vec()).ok()?;
    let (tag, b) = b.split_first()?;
    let (variance, rest) = match tag {
        2 => (V::None, b),
        3 => {
            let (u, rest) = field(b)?;
            (V::Visitor(String::from_utf8(u.to_vec()).ok()?), rest)
        }
        4 => {
            let (slots, rest) = field(b)?;
            let slots = slots.iter().map(|s| s.checked_sub(1)).collect();
            (V::Variants(slots), rest)
        }
        _ => return None,
    };
    rest.is_empty().then_some(Input { primary, variance })
}

fn slots() -> impl Strategy<Value = Vec<Option<u8>>> {
    prop::collection::vec(
        prop_oneof![
            Just(None),
            (0u8..3).prop_map(Some),
            (0u8..=254).prop_map(Some)
        ],
        0..8,
    )
}

fn input() -> impl Strategy<Value = Input> {
    let variance = prop_oneof![
        Just(V::None),
        "[a-z0-9/-]{0,6}".prop_map(V::Visitor),
        slots().prop_map(V::Variants),
    ];
    ("/[a-z/]{0,6}", variance).prop_map(|(primary, variance)| Input { primary, variance })
}

/// `x` changed a little: the near misses an encoding could confuse.
fn mutate(mut x: Input, how: u8, at: Index, byte: u8) -> Input {
    match (how % 6, &mut x.variance) {
        // Another variant in one experience (or none).
        (0, V::Variants(s)) if !s.is_empty() => {
            let i = at.index(s.len());
            s[i] = if s[i].is_none() { Some(byte % 3) } else { None };
        }
        // Two experiences swap variants.
        (1, V::Variants(s)) if s.len() >= 2 => {
            let i = at.index(s.len() - 1);
            s.swap(i, i + 1);
        }
        // A character moves from the path into the visitor uid.
        (2, V::Visitor(u)) => {
            if let Some(c) = x.primary.pop() {
                u.insert(0, c);
            }
        }
        // Absent, empty and all-none variance for each other.
        (3, _) => {
            x.variance = match &x.variance {
                V::None => V::Visitor(String::new()),
                V::Visitor(_) => V::Variants(Vec::new()),
                V::Variants(s) if s.iter().all(Option::is_none) => V::None,
                V::Variants(s) => V::Variants(vec![None; s.len()]),
            }
        }
        // One more experience without a variant.
        (4, V::Variants(s)) => s.push(None),
        _ => x.primary.push(char::from(b'a' + byte % 26)),
    }
    x
}

/// Distinct inputs, distinct keys; and the encoding decodes to its input.
fn injective(key: fn(&Input) -> CacheKey, x: &Input, y: &Input) -> Result<(), TestCaseError> {
    if x != y {
        prop_assert_ne!(key(x), key(y), "{:?} and {:?} share a key", x, y);
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn distinct_inputs_never_share_a_key(
        x in input(),
        how in any::<u8>(),
        at in any::<Index>(),
        byte in any::<u8>(),
        z in input(),
    ) {
        let y = mutate(x.clone(), how, at, byte);
        prop_assert_eq!(decode(&x.encoding()), Some(x.clone()), "the encoding decodes");
        injective(Input::key, &x, &y)?;
        injective(Input::key, &x, &z)?;
        // Absent is not empty, in every combination.
        let with = |variance| Input { primary: x.primary.clone(), variance };
        let none = with(V::None);
        for other in [
            with(V::Visitor(String::new())),
            with(V::Variants(vec![])),
            with(V::Variants(vec![None])),
        ] {
            prop_assert_ne!(none.key(), other.key(), "{:?}", other);
        }
        let variants = |s: Vec<Option<u8>>| with(V::Variants(s));
        prop_assert_ne!(variants(vec![None]).key(), variants(vec![Some(0)]).key());
    }

    #[test]
    fn the_order_variants_arrive_in_never_changes_the_key(
        s in slots(),
        order in any::<u64>(),
    ) {
        order_free(variant_key, &s, order)?;
    }

    #[test]
    fn the_sdk_param_in_any_order_with_junk_gives_one_key(
        s in prop::collection::vec(prop_oneof![Just(None), (0u8..3).prop_map(Some)], 3),
        junk in prop::collection::vec(prop_oneof![
            Just("zz_1".to_owned()), Just("0".to_owned()), Just(String::new()),
            Just(" ".to_owned()), Just("a_9".to_owned()), Just("0_x".to_owned()),
        ], 0..4),
        seed in any::<u64>(),
    ) {
        let world = world();
        let want = set_of(&s);
        let mut items: Vec<String> = want.iter().map(|r| world.short_alias(r)).collect();
        items.extend(junk);
        shuffle(&mut items, seed);
        let param = items.join(",");
        let got = parse_variant_param(&world, &param);
        prop_assert_eq!(got, want, "param {:?}", param);
        let all = KeyStrategy::UrlVariants(KeyScope::All);
        let k = |v| cache::key("/", cache::variance(all, None, v, 0));
        prop_assert_eq!(k(got), k(want));
    }

    #[test]
    fn cookies_query_order_and_unkeyed_inputs_never_change_the_key(
        uid in "[0-9a-f-]{1,36}",
        other_uid in "[0-9a-f-]{1,36}",
        cookies in prop::collection::vec(("[a-z_]{1,8}", "[A-Za-z0-9%]{0,8}"), 0..5),
        headers in 1usize..=3,
        keyed in prop::collection::vec(("(page|personalize_variants|q)", "[a-z0-9_,]{0,6}"), 0..4),
        unkeyed in prop::collection::vec(("(utm_source|fbclid|gclid|ref)", "[a-z0-9]{0,6}"), 0..4),
        s in prop::collection::vec(prop_oneof![Just(None), (0u8..3).prop_map(Some)], 3),
        outside in prop::collection::vec(prop_oneof![Just(None), (0u8..3).prop_map(Some)], 3),
        seed in any::<u64>(),
    ) {
        // The visitor cookie, among others, in any order, over several headers.
        let mut pairs: Vec<String> = cookies
            .iter()
            .filter(|(n, _)| n != UID_COOKIE)
            .map(|(n, v)| format!("{n}={v}"))
            .chain([format!("{UID_COOKIE}={uid}")])
            .collect();
        shuffle(&mut pairs, seed);
        let mut h = HeaderMap::new();
        for chunk in pairs.chunks(pairs.len().div_ceil(headers)) {
            h.append("cookie", HeaderValue::from_str(&chunk.join("; ")).unwrap());
        }
        let found = cookie(&h, UID_COOKIE);
        prop_assert_eq!(found, Some(uid.as_str()));
        let user = |u| cache::key("/", cache::variance(KeyStrategy::UrlVisitor, u, set_of(&s), 0));
        prop_assert_eq!(user(found), user(Some(&uid)));

        // Query parameters: order never matters, unkeyed ones never count.
        let names = ["page", "personalize_variants", "q"];
        let mut all: Vec<String> = keyed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let only_keyed = all.join("&");
        all.extend(unkeyed.iter().map(|(k, v)| format!("{k}={v}")));
        shuffle(&mut all, seed);
        prop_assert_eq!(
            canonical_query(Some(&all.join("&")), &names),
            canonical_query(Some(&only_keyed), &names)
        );

        // Variant keys: the visitor's uid, and experiences off the page (in
        // `page` scope), are unkeyed inputs.
        let mask = 0b011;
        let mut other = s.clone();
        other[2] = outside[2];
        for scope in [KeyScope::All, KeyScope::Page] {
            let strategy = KeyStrategy::UrlVariants(scope);
            let k = |u: &str, v: &[Option<u8>]| {
                cache::key("/", cache::variance(strategy, Some(u), set_of(v), mask))
            };
            prop_assert_eq!(k(&uid, &s), k(&other_uid, &s));
            if scope == KeyScope::Page {
                prop_assert_eq!(k(&uid, &s), k(&uid, &other));
            }
        }
    }
}

/// A variant key from (experience, variant) pairs applied in the given
/// order, as a layer receives them (manifest order, param order).
type VariantKey = fn(usize, &[(u16, Option<u8>)]) -> CacheKey;

/// The library's: pairs go into a [`VariantSet`] first.
fn variant_key(experiences: usize, pairs: &[(u16, Option<u8>)]) -> CacheKey {
    let mut set = VariantSet::none(experiences);
    for (e, v) in pairs {
        set.set(*e, v.map(u16::from));
    }
    cache::key("/", Variance::Variants(set))
}

/// Setting `s` in order and in a shuffled order gives one key.
fn order_free(key: VariantKey, s: &[Option<u8>], seed: u64) -> Result<(), TestCaseError> {
    let pairs: Vec<(u16, Option<u8>)> = s.iter().enumerate().map(|(e, v)| (e as u16, *v)).collect();
    let mut shuffled = pairs.clone();
    shuffle(&mut shuffled, seed);
    prop_assert_eq!(
        key(s.len(), &pairs),
        key(s.len(), &shuffled),
        "{:?} and {:?}",
        pairs,
        shuffled
    );
    Ok(())
}

/// A Fisher–Yates shuffle from a seed (a splitmix64 stream).
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    let mut next = || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn world() -> World {
    World::new(
        parse_str(
            "keys.toml",
            r#"
[scenario]
name = "keys"
seed = 1
duration = "10s"

[traffic]
visitors = 10
arrival_rate = 1.0

[[experiences]]
uid = "0"
type = "ab"
splits = { "0" = 50, "1" = 25, "2" = 25 }

[[experiences]]
uid = "a"
type = "ab"
splits = { "0" = 50, "1" = 25, "2" = 25 }

[[experiences]]
uid = "b7"
type = "ab"
splits = { "0" = 50, "1" = 25, "2" = 25 }

[content]

[[content.entries]]
uid = "e"
content_type = "hero"
variants_for = ["0", "a", "b7"]

[[content.pages]]
path = "/"
entries = ["e"]

[[architectures]]
name = "ssr-edge"
"#,
        )
        .unwrap_or_else(|e| panic!("{e}")),
    )
}

#[test]
fn a_key_that_drops_a_variant_is_caught() {
    fn dropping_experience_0(x: &Input) -> CacheKey {
        let mut x = x.clone();
        if let V::Variants(s) = &mut x.variance
            && let Some(first) = s.first_mut()
        {
            *first = None;
        }
        x.key()
    }
    let strategy = (input(), any::<u8>(), any::<Index>(), any::<u8>());
    let (x, how, at, byte) = expect_failure(
        "key without experience 0",
        4_000,
        strategy,
        |(x, how, at, byte)| {
            injective(dropping_experience_0, &x, &mutate(x.clone(), how, at, byte))
        },
    );
    injective(Input::key, &x, &mutate(x.clone(), how, at, byte)).expect("the library's key passes");
}

#[test]
fn a_key_without_length_prefixes_is_caught() {
    /// Fields concatenated: `/a` + `b` is `/ab` + the empty string.
    fn concatenated(x: &Input) -> CacheKey {
        let mut bytes = x.primary.clone().into_bytes();
        match &x.variance {
            V::None => {}
            V::Visitor(u) => bytes.extend_from_slice(u.as_bytes()),
            V::Variants(s) => bytes.extend(s.iter().map(|v| v.map_or(0, |v| v + 1))),
        }
        CacheKey(xxh3_128(&bytes))
    }
    let strategy = (input(), any::<u8>(), any::<Index>(), any::<u8>());
    let (x, how, at, byte) =
        expect_failure("unprefixed key", 4_000, strategy, |(x, how, at, byte)| {
            injective(concatenated, &x, &mutate(x.clone(), how, at, byte))
        });
    injective(Input::key, &x, &mutate(x.clone(), how, at, byte)).expect("the library's key passes");
}

#[test]
fn a_key_that_depends_on_arrival_order_is_caught() {
    /// Pairs hashed as they come.
    fn in_arrival_order(_: usize, pairs: &[(u16, Option<u8>)]) -> CacheKey {
        let bytes: Vec<u8> = pairs
            .iter()
            .flat_map(|(e, v)| [*e as u8, v.map_or(0, |v| v + 1)])
            .collect();
        CacheKey(xxh3_128(&bytes))
    }
    let (s, seed) = expect_failure(
        "order-dependent key",
        1_000,
        (slots(), any::<u64>()),
        |(s, seed)| order_free(in_arrival_order, &s, seed),
    );
    order_free(variant_key, &s, seed).expect("the library's key passes");
}
