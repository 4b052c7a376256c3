//! The HTTP caching rules of `cache::http`, one test (or more) per rule,
//! named by the RFC section they check; cases taken from the HTTP caching
//! test suite (npm `http-cache-tests`) say its test id. Malformed and
//! hostile values each have a test, and a proptest feeds arbitrary bytes to
//! every parser.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use ttlab_scenarios::Micros;
use ttlab_ssr_origin::cache::freshness::{Freshness, Windows, freshness};
use ttlab_ssr_origin::cache::http::{
    self, DELTA_MAX, Exchange, FieldList, Heuristic, HttpPolicy, LifetimeFrom, MaxStale, NotStored,
    RequestDirectives, ResponseDirectives, Revalidate, Targets, Vary, Verdict,
};

const S: u64 = 1_000_000;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// An HTTP date `offset` seconds from t0.
fn date(offset: i64) -> String {
    let t = if offset >= 0 {
        t0() + Duration::from_secs(offset.unsigned_abs())
    } else {
        t0() - Duration::from_secs(offset.unsigned_abs())
    };
    httpdate::fmt_http_date(t)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn cc(lines: &[&str]) -> ResponseDirectives {
    let values: Vec<HeaderValue> = lines
        .iter()
        .map(|l| HeaderValue::from_str(l).unwrap())
        .collect();
    ResponseDirectives::parse(&values)
}

fn max_age(line: &str) -> Option<u64> {
    cc(&[line]).max_age
}

/// Evaluate a GET's response with the default policy, no upstream delay.
fn judge(status: u16, request: &HeaderMap, response: &HeaderMap) -> Verdict {
    judge_with(&HttpPolicy::default(), status, request, response)
}

fn judge_with(
    policy: &HttpPolicy,
    status: u16,
    request: &HeaderMap,
    response: &HeaderMap,
) -> Verdict {
    http::evaluate(
        policy,
        &Exchange {
            method: &Method::GET,
            status,
            request,
            response,
            request_time: t0(),
            response_time: t0(),
        },
    )
}

fn resp(pairs: &[(&str, &str)]) -> Verdict {
    judge(200, &HeaderMap::new(), &headers(pairs))
}

/// Whether a cache reusing the response right after storing it, `later`
/// seconds later, would find it fresh.
fn fresh_after(v: &Verdict, later: u64) -> bool {
    v.store.is_ok()
        && freshness(
            Micros::ZERO,
            v.initial_age.saturating_add(Micros(later * S)),
            v.windows,
        ) == Freshness::Fresh
}

// ---------------------------------------------------------------- §5.2 parse

#[test]
fn rfc9111_5_2_max_age_basic_case_and_extensions() {
    assert_eq!(max_age("max-age=3600"), Some(3600));
    // freshness-max-age-case-insenstive (optimal)
    assert_eq!(max_age("MaX-aGe=3600"), Some(3600));
    // freshness-max-age-extension (optimal)
    assert_eq!(max_age("foobar, max-age=3600"), Some(3600));
    // freshness-max-age-leading-zero (required)
    assert_eq!(max_age("max-age=003600"), Some(3600));
    assert_eq!(max_age("max-age=0"), Some(0));
}

#[test]
fn rfc9111_5_2_quoted_values() {
    // freshness-max-age-quoted (check): §5.2 asks recipients to accept it.
    assert_eq!(max_age("max-age=\"3600\""), Some(3600));
    // freshness-max-age-single-quoted (required: not reused): invalid → stale.
    assert_eq!(max_age("max-age='3600'"), Some(0));
    // An unterminated quote makes the member malformed: skipped.
    assert_eq!(max_age("max-age=\"3600"), None);
}

#[test]
fn rfc9111_5_2_commas_inside_quotes_do_not_split() {
    // freshness-max-age-ignore-quoted and -rev (required).
    assert_eq!(max_age("extension=\"max-age=3600\", max-age=1"), Some(1));
    assert_eq!(max_age("max-age=1, extension=\"max-age=3600\""), Some(1));
    // -all and -all-rev (required).
    assert_eq!(
        max_age("extension=\"max-age=3600\", max-age=\"1\""),
        Some(1)
    );
    assert_eq!(
        max_age("max-age=\"1\", extension=\"max-age=3600\""),
        Some(1)
    );
    // Escaped quote inside a quoted string.
    assert_eq!(max_age("x=\"a\\\", max-age=3600\", max-age=5"), Some(5));
}

#[test]
fn rfc9111_4_2_1_invalid_max_age_is_stale() {
    // freshness-max-age-negative (required).
    assert_eq!(max_age("max-age=-1"), Some(0));
    assert_eq!(max_age("max-age=-3600"), Some(0));
    // Fractions, trailing or leading junk, empty: invalid → 0 (checks; §4.2.1).
    assert_eq!(max_age("max-age=0.5"), Some(0));
    assert_eq!(max_age("max-age=3600.0"), Some(0));
    assert_eq!(max_age("max-age=3600a"), Some(0));
    assert_eq!(max_age("max-age=a3600"), Some(0));
    assert_eq!(max_age("max-age="), Some(0));
    assert_eq!(max_age("max-age"), Some(0));
}

#[test]
fn rfc9110_5_6_2_whitespace_around_equals_is_not_a_directive() {
    // freshness-max-age-space-before-equals / -after-equals (checks: ignored).
    assert_eq!(max_age("max-age =3600"), None);
    assert_eq!(max_age("max-age= 3600"), None);
    // OWS around members is fine.
    assert_eq!(max_age("  ,, max-age=60 ,  "), Some(60));
}

#[test]
fn rfc9111_5_2_directives_split_across_lines() {
    let d = cc(&["public", "max-age=60", "s-maxage=30, stale-if-error=300"]);
    assert!(d.public);
    assert_eq!(
        (d.max_age, d.s_maxage, d.stale_if_error),
        (Some(60), Some(30), Some(300))
    );
    // freshness-max-age-s-maxage-shared-longer-multiple (required).
    let v = resp(&[
        ("cache-control", "max-age=3600"),
        ("cache-control", "s-maxage=1"),
    ]);
    assert_eq!(v.windows.ttl, Micros(S));
}

#[test]
fn rfc9111_4_2_1_duplicate_directive_takes_the_first() {
    assert_eq!(max_age("max-age=1, max-age=1800"), Some(1));
    assert_eq!(max_age("max-age=1800, max-age=1"), Some(1800));
    assert_eq!(cc(&["max-age=1800", "max-age=1"]).max_age, Some(1800));
    // An invalid first occurrence still wins: the response is stale.
    assert_eq!(max_age("max-age=x, max-age=100"), Some(0));
}

#[test]
fn rfc9111_1_2_2_huge_delta_seconds_saturate_at_2_pow_31() {
    // freshness-max-age-max*, -max-plus (optimal: reused).
    assert_eq!(max_age("max-age=2147483647"), Some(2_147_483_647));
    assert_eq!(max_age("max-age=2147483648"), Some(DELTA_MAX));
    assert_eq!(max_age("max-age=2147483649"), Some(DELTA_MAX));
    assert_eq!(max_age("max-age=99999999999"), Some(DELTA_MAX));
    assert_eq!(max_age("max-age=18446744073709551616"), Some(DELTA_MAX)); // 2^64
    let googol = format!("max-age=1{}", "0".repeat(100));
    assert_eq!(max_age(&googol), Some(DELTA_MAX));
    let v = resp(&[("cache-control", &googol)]);
    assert_eq!(v.windows.ttl, Micros(DELTA_MAX * S));
    assert!(fresh_after(&v, 10 * 365 * 86_400));
}

#[test]
fn rfc9111_5_2_2_no_cache_and_private_qualified_or_not() {
    let d = cc(&["no-cache=\"a, B\", private=x"]);
    let a = HeaderName::from_static("a");
    let b = HeaderName::from_static("b");
    assert_eq!(d.no_cache, FieldList::Fields(vec![a.clone(), b.clone()]));
    assert_eq!(
        d.private,
        FieldList::Fields(vec![HeaderName::from_static("x")])
    );
    // Unqualified anywhere wins over qualified (the most restrictive).
    assert_eq!(cc(&["no-cache=\"a\"", "no-cache"]).no_cache, FieldList::All);
    assert_eq!(cc(&["no-cache", "no-cache=\"a\""]).no_cache, FieldList::All);
    // A qualified list with no valid name counts as unqualified.
    assert_eq!(cc(&["private=\" , \""]).private, FieldList::All);
    // Case-insensitive names (cc-resp-no-store-case-insensitive, required).
    assert!(cc(&["No-StOrE"]).no_store);
    assert_eq!(cc(&["No-CaChE"]).no_cache, FieldList::All);
    let all = cc(&[
        "must-revalidate, proxy-revalidate, must-understand, no-transform, immutable, public",
    ]);
    assert!(all.must_revalidate && all.proxy_revalidate && all.must_understand);
    assert!(all.no_transform && all.immutable && all.public);
}

#[test]
fn hostile_non_utf8_and_64_kib_values_do_not_panic() {
    let raw = HeaderValue::from_bytes(b"max-age=60, \xff\xfe=\x80, s-maxage=\xc3\x28").unwrap();
    let d = ResponseDirectives::parse([&raw]);
    assert_eq!(d.max_age, Some(60));
    assert_eq!(d.s_maxage, None); // `\xc3(` is no token: member skipped
    let big = format!("max-age=5, {}", "x".repeat(64 * 1024));
    assert_eq!(max_age(&big), Some(5));
    let big_quoted = format!("a=\"{}", "\\\"".repeat(32 * 1024));
    assert_eq!(max_age(&big_quoted), None);
    let digits = format!("max-age={}", "9".repeat(64 * 1024));
    assert_eq!(max_age(&digits), Some(DELTA_MAX));
    let mut h = HeaderMap::new();
    h.insert(
        "age",
        HeaderValue::from_str(&"9".repeat(64 * 1024)).unwrap(),
    );
    assert_eq!(http::age(&h), Some(DELTA_MAX));
    h.insert(
        "vary",
        HeaderValue::from_str(&"a,".repeat(32 * 1024)).unwrap(),
    );
    assert_eq!(
        Vary::parse(&h),
        Vary::Fields(vec![HeaderName::from_static("a")])
    );
    assert_eq!(http::http_date(b"\xff\xfe"), None);
}

// ---------------------------------------------------------- §5.2.1 request

#[test]
fn rfc9111_5_2_1_request_directives() {
    let r = RequestDirectives::of_request(&headers(&[(
        "cache-control",
        "max-age=10, min-fresh=5, max-stale, no-store, only-if-cached, no-cache",
    )]));
    assert_eq!(r.max_age, Some(10));
    assert_eq!(r.min_fresh, Some(5));
    assert_eq!(r.max_stale, Some(MaxStale::Any));
    assert!(r.no_store && r.only_if_cached && r.no_cache);
    let r = RequestDirectives::of_request(&headers(&[("cache-control", "max-stale=30")]));
    assert_eq!(r.max_stale, Some(MaxStale::Secs(30)));
    // Invalid request values are ignored, not zero.
    let r =
        RequestDirectives::of_request(&headers(&[("cache-control", "max-age=-1, min-fresh=x")]));
    assert_eq!((r.max_age, r.min_fresh), (None, None));
}

#[test]
fn rfc9111_5_4_pragma_no_cache_only_without_cache_control() {
    assert!(RequestDirectives::of_request(&headers(&[("pragma", "no-cache")])).no_cache);
    assert!(RequestDirectives::of_request(&headers(&[("pragma", "foo, No-Cache")])).no_cache);
    assert!(
        !RequestDirectives::of_request(&headers(&[
            ("pragma", "no-cache"),
            ("cache-control", "max-age=60")
        ]))
        .no_cache
    );
}

// ------------------------------------------------------------------ dates

#[test]
fn rfc9110_5_6_7_three_date_formats() {
    let want = Some(UNIX_EPOCH + Duration::from_secs(784_111_777));
    assert_eq!(http::http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), want);
    assert_eq!(http::http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), want);
    assert_eq!(http::http_date(b"Sun Nov  6 08:49:37 1994"), want);
    assert_eq!(http::http_date(b"  Sun, 06 Nov 1994 08:49:37 GMT "), want);
    for bad in [
        &b"0"[..],
        b"-1",
        b"",
        b"yesterday",
        b"Sun, 06 Nov 1994 08:49:37 PST",
    ] {
        assert_eq!(http::http_date(bad), None, "{bad:?}");
    }
}

#[test]
fn rfc9111_1_2_2_delta_seconds() {
    assert_eq!(http::delta_seconds(b"0"), Some(0));
    assert_eq!(http::delta_seconds(b"\"42\""), Some(42));
    assert_eq!(http::delta_seconds(b"2147483648"), Some(DELTA_MAX));
    for bad in [&b""[..], b"-1", b"+1", b"1.0", b"1a", b" 1", b"\"\""] {
        assert_eq!(http::delta_seconds(bad), None, "{bad:?}");
    }
}

#[test]
fn rfc9111_5_1_age_as_the_suite_requires() {
    let age = |lines: &[&str]| {
        let pairs: Vec<(&str, &str)> = lines.iter().map(|l| ("age", *l)).collect();
        http::age(&headers(&pairs))
    };
    assert_eq!(age(&[]), None);
    assert_eq!(age(&["7200"]), Some(7200));
    assert_eq!(age(&[" 30 "]), Some(30));
    // age-parse-*: each of these makes the response stale.
    for stale in [
        &["abc"][..],      // -nonnumeric
        &["-7200"],        // -negative
        &["7200.0"],       // -float
        &["7200,0"],       // -suffix
        &["7200", "0"],    // -suffix-twoline
        &["0", "7200"],    // -prefix-twoline
        &["0, 0"],         // -dup-0
        &["0", "0"],       // -dup-0-twoline
        &["3600, 3600"],   // -dup-old
        &["7200;foo=bar"], // -parameter
        &["7200;foo=111"], // -numeric-parameter
        &["\"5\""],
    ] {
        assert_eq!(age(stale), Some(DELTA_MAX), "{stale:?}");
    }
    // The one suite case this choice fails: age-parse-prefix wants `0,7200` fresh.
    assert_eq!(age(&["0,7200"]), Some(DELTA_MAX));
}

// ------------------------------------------------------- §4.2.1 lifetime

#[test]
fn rfc9111_4_2_1_s_maxage_over_max_age_over_expires() {
    // freshness-max-age-s-maxage-shared-longer (required)
    let v = resp(&[("cache-control", "max-age=3600, s-maxage=1")]);
    assert_eq!(
        (v.windows.ttl, v.lifetime_from),
        (Micros(S), LifetimeFrom::SMaxAge)
    );
    // freshness-max-age-s-maxage-shared-shorter-expires (optimal)
    let v = resp(&[
        ("expires", &date(-10)),
        ("cache-control", "max-age=0, s-maxage=3600"),
    ]);
    assert_eq!(v.windows.ttl, Micros(3600 * S));
    // freshness-max-age-expires (optimal): max-age beats a past Expires.
    let v = resp(&[
        ("cache-control", "max-age=3600"),
        ("expires", &date(-7200)),
        ("date", &date(0)),
    ]);
    assert_eq!(
        (v.windows.ttl, v.lifetime_from),
        (Micros(3600 * S), LifetimeFrom::MaxAge)
    );
    // freshness-max-age-0-expires (required)
    let v = resp(&[
        ("expires", &date(3600)),
        ("cache-control", "max-age=0"),
        ("date", &date(0)),
    ]);
    assert_eq!(v.windows.ttl, Micros::ZERO);
    assert!(!fresh_after(&v, 0));
    // freshness-expires-future (optimal)
    let v = resp(&[("expires", &date(2_592_000)), ("date", &date(0))]);
    assert_eq!(
        (v.windows.ttl, v.lifetime_from),
        (Micros(2_592_000 * S), LifetimeFrom::Expires)
    );
    assert!(fresh_after(&v, 3));
}

#[test]
fn rfc9111_4_2_1_expires_boundaries() {
    // Expires == Date (freshness-expires-present, required): lifetime 0, and
    // with no validator nothing to store.
    let v = resp(&[("expires", &date(0)), ("date", &date(0))]);
    assert_eq!(v.windows.ttl, Micros::ZERO);
    assert_eq!(v.store, Err(NotStored::NoLifetime));
    // Expires in the past (freshness-expires-past, required).
    let v = resp(&[("expires", &date(-2_592_000)), ("date", &date(0))]);
    assert_eq!(v.windows.ttl, Micros::ZERO);
    // Expires older than Date, both in the future (freshness-expires-old-date).
    let v = resp(&[("expires", &date(300)), ("date", &date(400))]);
    assert_eq!(v.windows.ttl, Micros::ZERO);
    // Invalid Expires means already expired (§5.3; freshness-expires-invalid).
    let v = resp(&[("expires", "0"), ("date", &date(0))]);
    assert_eq!(
        (v.windows.ttl, v.lifetime_from),
        (Micros::ZERO, LifetimeFrom::Expires)
    );
    assert_eq!(v.store, Err(NotStored::NoLifetime));
    // ... but max-age still applies (freshness-max-age-expires-invalid).
    let v = resp(&[
        ("cache-control", "max-age=3600"),
        ("expires", "0"),
        ("date", &date(0)),
    ]);
    assert!(fresh_after(&v, 3));
    // Invalid Date: Expires counts from the response time (freshness-expires-invalid-date).
    let v = resp(&[("date", "foo"), ("expires", &date(10))]);
    assert_eq!(v.windows.ttl, Micros(10 * S));
    assert!(fresh_after(&v, 3));
}

#[test]
fn rfc9111_4_2_3_age_and_date_make_the_initial_age() {
    // Age == max-age: stale at once (fresh only while lifetime > age).
    let v = resp(&[("cache-control", "max-age=3600"), ("age", "3600")]);
    assert_eq!(v.initial_age, Micros(3600 * S));
    assert!(!fresh_after(&v, 0));
    let v = resp(&[("cache-control", "max-age=3600"), ("age", "3599")]);
    assert!(fresh_after(&v, 0));
    assert!(!fresh_after(&v, 1));
    // freshness-max-age-age (required)
    let v = resp(&[
        ("date", &date(0)),
        ("cache-control", "max-age=3600"),
        ("age", "7200"),
    ]);
    assert!(!fresh_after(&v, 0));
    // freshness-max-age-date (check): apparent age from a Date in the past.
    let v = resp(&[("date", &date(-7200)), ("cache-control", "max-age=3600")]);
    assert_eq!(v.initial_age, Micros(7200 * S));
    // freshness-expires-age-slow-date / -fast-date (required).
    let v = resp(&[("date", &date(-10)), ("expires", &date(10)), ("age", "25")]);
    assert!(!fresh_after(&v, 0));
    let v = resp(&[("date", &date(10)), ("expires", &date(20)), ("age", "15")]);
    assert!(!fresh_after(&v, 0));
    // A Date in the future is no negative age.
    let v = resp(&[("date", &date(100)), ("cache-control", "max-age=60")]);
    assert_eq!(v.initial_age, Micros::ZERO);
    // Response delay counts: corrected age = Age + (response − request time).
    let h = headers(&[("cache-control", "max-age=60"), ("age", "10")]);
    let v = http::evaluate(
        &HttpPolicy::default(),
        &Exchange {
            method: &Method::GET,
            status: 200,
            request: &HeaderMap::new(),
            response: &h,
            request_time: t0(),
            response_time: t0() + Duration::from_millis(1500),
        },
    );
    assert_eq!(v.initial_age, Micros(11_500_000));
    // An invalid Age is stale (age-parse-nonnumeric).
    let v = resp(&[
        ("date", &date(0)),
        ("cache-control", "max-age=3600"),
        ("age", "abc"),
    ]);
    assert!(!fresh_after(&v, 0));
}

#[test]
fn rfc9111_4_2_exactly_at_the_lifetime_is_stale() {
    let v = resp(&[("cache-control", "max-age=10")]);
    assert!(fresh_after(&v, 9));
    assert!(
        freshness(Micros::ZERO, Micros(10 * S - 1), v.windows) == Freshness::Fresh,
        "one microsecond before the lifetime"
    );
    assert_eq!(
        freshness(Micros::ZERO, Micros(10 * S), v.windows),
        Freshness::Expired
    );
}

#[test]
fn rfc9111_4_2_2_heuristic_only_when_configured() {
    let lm = [("last-modified", date(-86_400)), ("date", date(0))];
    let pairs: Vec<(&str, &str)> = lm.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Off by default: no lifetime, but the validator makes it storable
    // (reused after validation only).
    let v = resp(&pairs);
    assert_eq!(
        (v.windows.ttl, v.lifetime_from),
        (Micros::ZERO, LifetimeFrom::None)
    );
    assert_eq!(v.store, Ok(()));
    assert!(v.validators);
    let policy = HttpPolicy {
        heuristic: Some(Heuristic::default()),
        ..HttpPolicy::default()
    };
    // heuristic-200-cached (optimal): 10% of a day.
    let v = judge_with(&policy, 200, &HeaderMap::new(), &headers(&pairs));
    assert_eq!(
        (v.windows.ttl, v.lifetime_from),
        (Micros(8640 * S), LifetimeFrom::Heuristic)
    );
    // Capped.
    let capped = HttpPolicy {
        heuristic: Some(Heuristic {
            fraction_of_last_modified: 0.5,
            max: Micros(60 * S),
        }),
        ..HttpPolicy::default()
    };
    assert_eq!(
        judge_with(&capped, 200, &HeaderMap::new(), &headers(&pairs))
            .windows
            .ttl,
        Micros(60 * S)
    );
    // heuristic-201/202/403/502/503/504/599-not_cached (required).
    for status in [201, 202, 403, 502, 503, 504, 599] {
        let v = judge_with(&policy, status, &HeaderMap::new(), &headers(&pairs));
        assert_eq!(v.store, Err(NotStored::NoLifetime), "{status}");
    }
    // heuristic-599-cached (optimal): `public` makes it heuristically cacheable.
    let mut with_public = headers(&pairs);
    with_public.append("cache-control", HeaderValue::from_static("public"));
    let v = judge_with(&policy, 599, &HeaderMap::new(), &with_public);
    assert_eq!(
        (v.store, v.lifetime_from),
        (Ok(()), LifetimeFrom::Heuristic)
    );
    // Last-Modified after Date: no heuristic.
    let v = judge_with(
        &policy,
        200,
        &HeaderMap::new(),
        &headers(&[("last-modified", &date(10)), ("date", &date(0))]),
    );
    assert_eq!(v.windows.ttl, Micros::ZERO);
}

// ---------------------------------------------------------- §3 storing

#[test]
fn rfc9111_3_method_and_status() {
    let h = headers(&[("cache-control", "max-age=60")]);
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let v = http::evaluate(
            &HttpPolicy::default(),
            &Exchange {
                method: &method,
                status: 200,
                request: &HeaderMap::new(),
                response: &h,
                request_time: t0(),
                response_time: t0(),
            },
        );
        assert_eq!(v.store, Err(NotStored::Method));
    }
    for status in [100, 206, 304] {
        assert_eq!(
            judge(status, &HeaderMap::new(), &h).store,
            Err(NotStored::Status),
            "{status}"
        );
    }
    // status-*-fresh (optimal): any final status with an explicit lifetime.
    for status in [
        200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599,
    ] {
        let v = judge(status, &HeaderMap::new(), &h);
        assert_eq!(v.store, Ok(()), "{status}");
        assert!(fresh_after(&v, 3));
    }
}

#[test]
fn rfc9111_5_2_2_5_no_store_and_must_understand() {
    // cc-resp-no-store, -fresh (required)
    assert_eq!(
        resp(&[("cache-control", "no-store")]).store,
        Err(NotStored::NoStore)
    );
    let v = resp(&[
        ("cache-control", "max-age=10000, no-store"),
        ("expires", &date(10_000)),
        ("date", &date(0)),
    ]);
    assert_eq!(v.store, Err(NotStored::NoStore));
    // §5.2.2.3: must-understand with an understood status overrides no-store ...
    let v = resp(&[("cache-control", "max-age=3600, must-understand, no-store")]);
    assert_eq!(v.store, Ok(()));
    // ... and an unknown status is not stored (status-599-must-understand, required).
    let h = headers(&[("cache-control", "max-age=3600, must-understand, no-store")]);
    assert_eq!(
        judge(599, &HeaderMap::new(), &h).store,
        Err(NotStored::Status)
    );
}

#[test]
fn rfc9111_5_2_2_7_private_in_a_shared_cache() {
    // cc-resp-private-shared (required)
    assert_eq!(
        resp(&[("cache-control", "private, max-age=3600")]).store,
        Err(NotStored::Private)
    );
    // Qualified: stored, the named field stripped.
    let v = resp(&[(
        "cache-control",
        "private=\"set-cookie\", no-cache=\"a\", max-age=3600",
    )]);
    assert_eq!(v.store, Ok(()));
    assert_eq!(
        v.strip,
        vec![
            HeaderName::from_static("set-cookie"),
            HeaderName::from_static("a")
        ]
    );
    assert_eq!(v.revalidate, Revalidate::Never);
}

#[test]
fn rfc9111_3_5_authorization() {
    let req = headers(&[("authorization", "FOO")]);
    // other-authorization (required)
    let h = headers(&[("expires", &date(2_592_000)), ("date", &date(0))]);
    assert_eq!(judge(200, &req, &h).store, Err(NotStored::Authorization));
    // -public, -must-revalidate, -smaxage (optimal)
    for cc in [
        "max-age=3600, public",
        "max-age=3600, must-revalidate",
        "s-maxage=3600",
    ] {
        assert_eq!(
            judge(200, &req, &headers(&[("cache-control", cc)])).store,
            Ok(()),
            "{cc}"
        );
    }
}

#[test]
fn rfc9111_5_2_1_5_request_no_store() {
    let req = headers(&[("cache-control", "no-store")]);
    let h = headers(&[("cache-control", "max-age=60")]);
    assert_eq!(judge(200, &req, &h).store, Err(NotStored::RequestNoStore));
}

#[test]
fn rfc9111_3_nothing_servable_is_not_stored() {
    assert_eq!(resp(&[]).store, Err(NotStored::NoLifetime)); // freshness-none
    assert_eq!(
        resp(&[("cache-control", "max-age=0")]).store,
        Err(NotStored::NoLifetime)
    );
    // max-age=0 with a stale window is worth storing.
    let v = resp(&[("cache-control", "max-age=0, stale-while-revalidate=30")]);
    assert_eq!(v.store, Ok(()));
    assert_eq!(v.windows.swr, Micros(30 * S));
    // A 599 with only a validator has no business in the cache.
    let h = headers(&[("etag", "\"x\"")]);
    assert_eq!(
        judge(599, &HeaderMap::new(), &h).store,
        Err(NotStored::NoLifetime)
    );
}

// ------------------------------------------------- revalidation, RFC 5861

#[test]
fn rfc9111_5_2_2_4_no_cache_always_revalidates() {
    // cc-resp-no-cache (required): never reused without validation; with no
    // validator there is nothing to store.
    let v = resp(&[
        ("cache-control", "max-age=10000, no-cache"),
        ("expires", &date(10_000)),
        ("date", &date(0)),
    ]);
    assert_eq!(v.revalidate, Revalidate::Always);
    assert_eq!(v.windows.ttl, Micros::ZERO);
    assert_eq!(v.store, Err(NotStored::NoLifetime));
    // cc-resp-no-cache-revalidate(-fresh) (optimal): stored with a validator.
    let v = resp(&[
        (
            "cache-control",
            "max-age=10000, no-cache, stale-while-revalidate=9, stale-if-error=60",
        ),
        ("etag", "\"abcd\""),
    ]);
    assert_eq!(v.store, Ok(()));
    assert_eq!(
        v.windows,
        Windows {
            ttl: Micros::ZERO,
            swr: Micros::ZERO,
            sie: Micros(60 * S)
        }
    );
}

#[test]
fn rfc9111_5_2_2_2_must_revalidate_proxy_revalidate_s_maxage() {
    for c in [
        "max-age=2, must-revalidate",
        "max-age=2, proxy-revalidate",
        "max-age=2, s-maxage=2",
    ] {
        let v = resp(&[("cache-control", c)]);
        assert_eq!(v.revalidate, Revalidate::WhenStale, "{c}");
        // stale-close-* (required): no stale window of the cache's own.
        assert_eq!((v.windows.swr, v.windows.sie), (Micros::ZERO, Micros::ZERO));
    }
    assert_eq!(
        resp(&[("cache-control", "max-age=2")]).revalidate,
        Revalidate::Never
    );
}

#[test]
fn rfc5861_explicit_stale_windows_survive_s_maxage() {
    // The typical ttlab origin response.
    let v = resp(&[(
        "cache-control",
        "public, s-maxage=60, stale-while-revalidate=30, stale-if-error=300",
    )]);
    assert_eq!(v.store, Ok(()));
    assert_eq!(v.revalidate, Revalidate::WhenStale);
    assert_eq!(
        v.windows,
        Windows {
            ttl: Micros(60 * S),
            swr: Micros(30 * S),
            sie: Micros(300 * S)
        }
    );
    assert_eq!(
        freshness(Micros::ZERO, Micros(60 * S), v.windows),
        Freshness::Stale {
            revalidate: true,
            if_error: true
        }
    );
}

// ------------------------------------------------------------ RFC 9213

#[test]
fn rfc9213_cdn_cache_control_replaces_cache_control_and_expires() {
    let v = resp(&[
        ("cache-control", "no-store, private"),
        ("cdn-cache-control", "max-age=600, stale-if-error=60"),
    ]);
    assert_eq!(v.store, Ok(()));
    assert_eq!(v.field, Some(http::CDN_CACHE_CONTROL));
    assert_eq!(
        (v.windows.ttl, v.windows.sie),
        (Micros(600 * S), Micros(60 * S))
    );
    // Expires is ignored too.
    let v = resp(&[
        ("cdn-cache-control", "public"),
        ("expires", &date(3600)),
        ("date", &date(0)),
    ]);
    assert_eq!(v.windows.ttl, Micros::ZERO);
    // Not a valid Dictionary (upper case key, trailing comma, bad integer):
    // ignored, Cache-Control applies.
    for bad in [
        "Max-Age=600",
        "max-age=600,",
        "max-age=1234567890123456",
        "max-age=600 x",
        "",
    ] {
        let v = resp(&[("cache-control", "max-age=5"), ("cdn-cache-control", bad)]);
        assert_eq!(
            (v.field.clone(), v.windows.ttl),
            (None, Micros(5 * S)),
            "{bad:?}"
        );
    }
    // Wrong type or negative: invalid lifetime, stale.
    for stale in ["max-age=\"600\"", "max-age=-1", "max-age=1.5", "max-age=?1"] {
        let v = resp(&[("cache-control", "max-age=5"), ("cdn-cache-control", stale)]);
        assert_eq!(v.windows.ttl, Micros::ZERO, "{stale}");
    }
    // Parameters, inner lists, booleans parse; last duplicate wins (RFC 8941).
    let v = resp(&[(
        "cdn-cache-control",
        "max-age=10;a=1, no-cache=(\"x\" \"y\"), max-age=20, no-store=?0",
    )]);
    assert_eq!(v.windows.ttl, Micros::ZERO); // no-cache → revalidate always
    assert_eq!(v.revalidate, Revalidate::Always);
    let d = Targets::default()
        .select(&headers(&[(
            "cdn-cache-control",
            "max-age=10, max-age=20, no-store=?0",
        )]))
        .directives;
    assert_eq!((d.max_age, d.no_store), (Some(20), false));
    // Huge integers saturate.
    let d = Targets::default()
        .select(&headers(&[(
            "cdn-cache-control",
            "max-age=999999999999999",
        )]))
        .directives;
    assert_eq!(d.max_age, Some(DELTA_MAX));
}

#[test]
fn fastly_surrogate_control() {
    // surrogate-max-age, -extension, -case-insensitive (optimal)
    for sc in [
        "max-age=3600",
        "foobar, max-age=3600",
        "MaX-aGe=3600",
        "max-age=3600;ttlab",
    ] {
        let v = resp(&[("surrogate-control", sc)]);
        assert_eq!((v.store, v.windows.ttl), (Ok(()), Micros(3600 * S)), "{sc}");
    }
    // surrogate-max-age-other-target (required)
    let v = resp(&[
        ("date", &date(0)),
        ("surrogate-control", "max-age=3600;not-for-you"),
        ("age", "7200"),
    ]);
    assert_eq!(v.field, None);
    assert!(!fresh_after(&v, 0));
    // surrogate-max-age-age, -0, -0-expires (required)
    assert!(!fresh_after(
        &resp(&[
            ("date", &date(0)),
            ("surrogate-control", "max-age=3600"),
            ("age", "7200")
        ]),
        0
    ));
    assert_eq!(
        resp(&[("surrogate-control", "max-age=0")]).store,
        Err(NotStored::NoLifetime)
    );
    let v = resp(&[
        ("surrogate-control", "max-age=0"),
        ("expires", &date(10_000)),
        ("date", &date(0)),
    ]);
    assert_eq!(v.windows.ttl, Micros::ZERO);
    // -expires, -cc-max-age-invalid-expires (optimal)
    assert!(fresh_after(
        &resp(&[
            ("surrogate-control", "max-age=3600"),
            ("expires", &date(-10_000)),
            ("date", &date(0))
        ]),
        3
    ));
    assert!(fresh_after(
        &resp(&[
            ("surrogate-control", "max-age=3600"),
            ("expires", "0"),
            ("date", &date(0))
        ]),
        3
    ));
    // -short-cc-max-age (optimal), -long-cc-max-age (required)
    assert!(fresh_after(
        &resp(&[
            ("cache-control", "max-age=1"),
            ("surrogate-control", "max-age=3600")
        ]),
        3
    ));
    assert!(!fresh_after(
        &resp(&[
            ("cache-control", "max-age=3600"),
            ("surrogate-control", "max-age=1")
        ]),
        3
    ));
    // surrogate-no-store, -no-store-cc-fresh, -fresh-cc-nostore (required)
    assert_eq!(
        resp(&[("surrogate-control", "no-store")]).store,
        Err(NotStored::NoStore)
    );
    let v = resp(&[
        ("cache-control", "max-age=10000"),
        ("surrogate-control", "no-store"),
        ("expires", &date(10_000)),
        ("date", &date(0)),
    ]);
    assert_eq!(v.store, Err(NotStored::NoStore));
    let v = resp(&[
        ("cache-control", "no-store"),
        ("surrogate-control", "max-age=10000;ttlab"),
    ]);
    assert_eq!(v.store, Ok(()));
    // Space around `=` (checks): ignored, Cache-Control applies.
    let v = resp(&[
        ("cache-control", "max-age=1"),
        ("surrogate-control", "max-age =100"),
    ]);
    assert_eq!(v.windows.ttl, Micros(S));
}

#[test]
fn rfc9213_target_order_stripping_and_capability() {
    let both = headers(&[
        ("cdn-cache-control", "max-age=10"),
        ("surrogate-control", "max-age=20"),
    ]);
    assert_eq!(
        Targets::default().select(&both).directives.max_age,
        Some(10)
    );
    let sc_first = Targets::new(
        vec![http::SURROGATE_CONTROL, http::CDN_CACHE_CONTROL],
        "edge1",
    );
    assert_eq!(sc_first.select(&both).directives.max_age, Some(20));
    assert_eq!(
        Targets::new(vec![], "x").select(&both).directives.max_age,
        None
    );
    let t = Targets::default();
    assert!(http::is_targeted(&http::SURROGATE_CONTROL, &t));
    assert!(!http::is_targeted(&http::CDN_CACHE_CONTROL, &t));
    assert!(!http::is_targeted(
        &HeaderName::from_static("cache-control"),
        &t
    ));
    assert_eq!(t.capability().unwrap(), "ttlab=\"Surrogate/1.0\"");
    assert_eq!(
        Targets::new(vec![http::CDN_CACHE_CONTROL], "x").capability(),
        None
    );
    let targeted = sc_first.select(&headers(&[(
        "surrogate-control",
        "max-age=5;EDGE1, no-store;other",
    )]));
    assert_eq!(
        (targeted.directives.max_age, targeted.directives.no_store),
        (Some(5), false)
    );
}

// ------------------------------------------------------------- §4.1 Vary

fn no_normalise(_: &HeaderName, _: &[&HeaderValue]) -> Option<Vec<u8>> {
    None
}

fn key(vary: &Vary, req: &[(&str, &str)]) -> Option<u64> {
    vary.secondary(&headers(req), &no_normalise)
}

#[test]
fn rfc9110_12_5_5_vary_parse() {
    let v = |lines: &[&str]| {
        let pairs: Vec<(&str, &str)> = lines.iter().map(|l| ("vary", *l)).collect();
        Vary::parse(&headers(&pairs))
    };
    assert_eq!(v(&[]), Vary::None);
    assert_eq!(v(&["", " , "]), Vary::None);
    // vary-syntax-* (required)
    for star in [
        &["*"][..],
        &["*, *"],
        &["*", "*"],
        &[", *"],
        &["", "*"],
        &["*, Foo"],
        &["Foo, *"],
    ] {
        assert_eq!(v(star), Vary::Star, "{star:?}");
    }
    let foo = HeaderName::from_static("foo");
    let bar = HeaderName::from_static("bar");
    assert_eq!(
        v(&["Foo, bar", "FOO"]),
        Vary::Fields(vec![bar.clone(), foo.clone()])
    );
    // Not a field name: never matches.
    assert_eq!(v(&["foo bar"]), Vary::Star);
    assert_eq!(
        resp(&[("cache-control", "max-age=60"), ("vary", "*")]).store,
        Err(NotStored::VaryStar)
    );
}

#[test]
fn rfc9111_4_1_secondary_key() {
    let one = Vary::Fields(vec![HeaderName::from_static("foo")]);
    // vary-match / vary-no-match
    assert_eq!(key(&one, &[("foo", "1")]), key(&one, &[("foo", "1")]));
    assert_ne!(key(&one, &[("foo", "1")]), key(&one, &[("foo", "2")]));
    // vary-omit, vary-omit-stored: absent ≠ empty ≠ a value
    assert_ne!(key(&one, &[]), key(&one, &[("foo", "1")]));
    assert_ne!(key(&one, &[]), key(&one, &[("foo", "")]));
    // vary-cache-key: unlisted fields do not count
    assert_eq!(
        key(&one, &[("foo", "1"), ("other", "2")]),
        key(&one, &[("foo", "1"), ("other", "3")])
    );
    // vary-normalise-combine and spaces around commas
    assert_eq!(
        key(&one, &[("foo", "1, 2")]),
        key(&one, &[("foo", "1"), ("foo", "2")])
    );
    assert_eq!(
        key(&one, &[("foo", "1,2")]),
        key(&one, &[("foo", " 1 ,  2 ")])
    );
    // case and order are kept
    assert_ne!(key(&one, &[("foo", "a")]), key(&one, &[("foo", "A")]));
    assert_ne!(key(&one, &[("foo", "1, 2")]), key(&one, &[("foo", "2, 1")]));
    // vary-3-*: fields do not bleed into one another
    let three = Vary::parse(&headers(&[("vary", "Foo, Bar, Baz")]));
    let a = key(&three, &[("foo", "1"), ("bar", "abc4"), ("baz", "789")]);
    let b = key(&three, &[("foo", "1"), ("bar", "abc"), ("baz", "789")]);
    assert_ne!(a, b);
    assert_ne!(
        key(&three, &[("foo", "1"), ("bar", "")]),
        key(&three, &[("foo", ""), ("bar", "1")])
    );
    assert_eq!(
        key(&three, &[("foo", "1"), ("baz", "789")]),
        key(&three, &[("baz", "789"), ("foo", "1")])
    );
    // Star never matches; None is one key for all.
    assert_eq!(key(&Vary::Star, &[]), None);
    assert_eq!(key(&Vary::None, &[("foo", "1")]), key(&Vary::None, &[]));
}

#[test]
fn rfc9111_4_1_caller_normalises_cookie() {
    let vary = Vary::parse(&headers(&[("vary", "Cookie")]));
    let only_variant = |name: &HeaderName, lines: &[&HeaderValue]| -> Option<Vec<u8>> {
        (name == "cookie").then(|| {
            lines
                .iter()
                .flat_map(|l| l.as_bytes().split(|&b| b == b';'))
                .map(<[u8]>::trim_ascii)
                .find(|c| c.starts_with(b"variant="))
                .unwrap_or_default()
                .to_vec()
        })
    };
    let k = |c: &str| vary.secondary(&headers(&[("cookie", c)]), &only_variant);
    assert_eq!(k("a=1; variant=x"), k("variant=x; b=2"));
    assert_ne!(k("variant=x"), k("variant=y"));
}

// ------------------------------------------------------ §4.3 validation

#[test]
fn rfc9111_4_3_1_conditional_request() {
    let stored = headers(&[
        ("etag", "\"a\""),
        ("etag", "W/\"b\""),
        ("last-modified", &date(-100)),
    ]);
    let c = http::conditional(&stored);
    assert_eq!(c[0].0, "if-none-match");
    assert_eq!(c[0].1, "\"a\", W/\"b\"");
    assert_eq!(c[1].0, "if-modified-since");
    assert_eq!(c[1].1, date(-100).as_str());
    // An RFC 850 Last-Modified is sent back as it came (conditional-lm-fresh-rfc850).
    let c = http::conditional(&headers(&[(
        "last-modified",
        "Sunday, 06-Nov-94 08:49:37 GMT",
    )]));
    assert_eq!(c[0].1, "Sunday, 06-Nov-94 08:49:37 GMT");
    assert!(http::conditional(&headers(&[("last-modified", "junk")])).is_empty());
    assert!(http::conditional(&HeaderMap::new()).is_empty());
}

#[test]
fn rfc9111_4_3_4_which_304_freshens() {
    let strong = headers(&[("etag", "\"a\""), ("last-modified", &date(-100))]);
    assert!(http::freshens(&strong, &headers(&[("etag", "\"a\"")])));
    assert!(!http::freshens(&strong, &headers(&[("etag", "\"b\"")])));
    // Strong comparison: a weak stored tag does not match a strong 304 tag.
    assert!(!http::freshens(
        &headers(&[("etag", "W/\"a\"")]),
        &headers(&[("etag", "\"a\"")])
    ));
    // Weak-only 304: weak comparison (our choice).
    assert!(http::freshens(
        &headers(&[("etag", "W/\"a\"")]),
        &headers(&[("etag", "W/\"a\"")])
    ));
    assert!(http::freshens(&strong, &headers(&[("etag", "W/\"a\"")])));
    // Last-Modified when the 304 has no strong tag.
    assert!(http::freshens(
        &strong,
        &headers(&[("last-modified", &date(-100))])
    ));
    assert!(!http::freshens(
        &strong,
        &headers(&[("last-modified", &date(-99))])
    ));
    // No validator on either side: the one stored response.
    assert!(http::freshens(&headers(&[("x", "1")]), &HeaderMap::new()));
    assert!(!http::freshens(&strong, &HeaderMap::new()));
    // Junk tags never match.
    assert!(!http::freshens(
        &headers(&[("etag", "a")]),
        &headers(&[("etag", "a")])
    ));
}

#[test]
fn rfc9111_3_2_update_headers_from_a_304() {
    let mut stored = headers(&[
        ("cache-control", "max-age=1"),
        ("content-length", "5"),
        ("content-encoding", "gzip"),
        ("content-md5", "rL0Y20zC+Fzt72VPzMSk2A=="),
        ("content-range", "bytes 0-4/5"),
        ("etag", "\"abcdef\""),
        ("test-header", "A"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("x-kept", "k"),
    ]);
    let not_modified = headers(&[
        ("cache-control", "max-age=3600"),
        ("content-length", "10"),
        ("content-encoding", "br"),
        ("content-md5", "N7UdGUp1E+RbVvZSTy1R8g=="),
        ("content-range", "bytes 0-9/10"),
        ("etag", "\"ghijkl\""),
        ("test-header", "B"),
        ("set-cookie", "c=3"),
        ("connection", "x-hop"),
        ("x-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("content-type", "text/plain;charset=utf-8"),
    ]);
    http::update_headers(&mut stored, &not_modified);
    let get = |n: &str| -> Vec<&str> {
        stored
            .get_all(n)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    };
    assert_eq!(get("cache-control"), ["max-age=3600"]);
    assert_eq!(get("test-header"), ["B"]);
    assert_eq!(get("set-cookie"), ["c=3"]);
    assert_eq!(get("content-type"), ["text/plain;charset=utf-8"]);
    assert_eq!(get("x-kept"), ["k"]);
    // 304-etag-update-response-{Content-Length, -Encoding, -MD5, -Range, ETag}: kept
    assert_eq!(get("content-length"), ["5"]);
    assert_eq!(get("content-encoding"), ["gzip"]);
    assert_eq!(get("content-md5"), ["rL0Y20zC+Fzt72VPzMSk2A=="]);
    assert_eq!(get("content-range"), ["bytes 0-4/5"]);
    assert_eq!(get("etag"), ["\"abcdef\""]);
    // Hop-by-hop, and what Connection names, never enter the store.
    assert!(
        get("connection").is_empty() && get("x-hop").is_empty() && get("keep-alive").is_empty()
    );
}

// ---------------------------------------------------- §4.4 invalidation

#[test]
fn rfc9111_4_4_unsafe_methods_invalidate_on_success() {
    let m_search = Method::from_bytes(b"M-SEARCH").unwrap();
    for m in [
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        m_search,
    ] {
        assert!(http::invalidates(&m, 200), "{m}");
        assert!(http::invalidates(&m, 303), "{m}");
        assert!(!http::invalidates(&m, 500), "{m}"); // invalidate-*-failed
        assert!(!http::invalidates(&m, 404), "{m}");
    }
    for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
        assert!(!http::invalidates(&m, 200), "{m}");
    }
}

#[test]
fn rfc9111_4_4_location_and_content_location_same_origin_only() {
    let r = headers(&[
        ("location", "http://127.0.0.1:8080/location_target"),
        ("content-location", "content_location_target#frag"),
    ]);
    assert_eq!(
        http::invalidated_targets("http://127.0.0.1:8080/test/page?x=1", &r),
        [
            "http://127.0.0.1:8080/test/page?x=1",
            "http://127.0.0.1:8080/location_target",
            "http://127.0.0.1:8080/test/content_location_target",
        ]
    );
    let other = headers(&[
        ("location", "http://evil.example/x"),
        ("content-location", "https://127.0.0.1:8080/y"),
    ]);
    assert_eq!(
        http::invalidated_targets("http://127.0.0.1:8080/a", &other),
        ["http://127.0.0.1:8080/a"]
    );
    let same = headers(&[("location", "/a")]);
    assert_eq!(
        http::invalidated_targets("http://127.0.0.1:8080/a", &same),
        ["http://127.0.0.1:8080/a"]
    );
    assert_eq!(http::invalidated_targets("/relative", &same), ["/relative"]);
}

// ----------------------------------------------------- hop-by-hop, §5.2.1

#[test]
fn rfc9110_7_6_1_hop_by_hop() {
    let m = headers(&[("connection", "a, B"), ("connection", "close")]);
    for n in [
        "connection",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "a",
        "b",
        "close",
    ] {
        assert!(
            http::is_hop_by_hop(&HeaderName::from_bytes(n.as_bytes()).unwrap(), &m),
            "{n}"
        );
    }
    for n in ["c", "cache-control", "content-length", "set-cookie"] {
        assert!(
            !http::is_hop_by_hop(&HeaderName::from_bytes(n.as_bytes()).unwrap(), &m),
            "{n}"
        );
    }
}

#[test]
fn rfc9111_5_2_1_request_narrows_windows() {
    let w = Windows {
        ttl: Micros(60 * S),
        swr: Micros(30 * S),
        sie: Micros(300 * S),
    };
    let rd = |c: &str| RequestDirectives::of_request(&headers(&[("cache-control", c)]));
    assert_eq!(http::constrained(w, &RequestDirectives::default()), w);
    // max-age=10: fresh while age ≤ 10 s, nothing stale; the sie end stays.
    let n = http::constrained(w, &rd("max-age=10"));
    assert_eq!(
        n,
        Windows {
            ttl: Micros(10 * S + 1),
            swr: Micros::ZERO,
            sie: Micros(350 * S - 1)
        }
    );
    assert_eq!(freshness(Micros::ZERO, Micros(10 * S), n), Freshness::Fresh);
    assert!(matches!(
        freshness(Micros::ZERO, Micros(10 * S + 1), n),
        Freshness::Stale {
            revalidate: false,
            ..
        }
    ));
    // max-age with max-stale keeps SWR up to the origin's end.
    let n = http::constrained(w, &rd("max-age=10, max-stale"));
    assert_eq!(n.ttl.saturating_add(n.swr), Micros(90 * S));
    // A larger max-age never widens.
    assert_eq!(http::constrained(w, &rd("max-age=600")).ttl, w.ttl);
    // min-fresh=20: fresh while age ≤ 40 s.
    let n = http::constrained(w, &rd("min-fresh=20"));
    assert_eq!(n.ttl, Micros(40 * S + 1));
    assert_eq!(http::constrained(w, &rd("min-fresh=90")).ttl, Micros::ZERO);
    // no-cache / Pragma: never from the cache without validation.
    for n in [
        http::constrained(w, &rd("no-cache")),
        http::constrained(
            w,
            &RequestDirectives::of_request(&headers(&[("pragma", "no-cache")])),
        ),
    ] {
        assert_eq!(
            (n.ttl, n.swr, n.sie),
            (Micros::ZERO, Micros::ZERO, Micros(360 * S))
        );
    }
}

// ------------------------------------------------------------- proptest

fn value() -> impl Strategy<Value = Option<HeaderValue>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| HeaderValue::from_bytes(&b).ok()),
        "[a-zA-Z0-9=,;\" *\\-.]{0,40}".prop_map(|s| HeaderValue::from_str(&s).ok()),
        (
            0u64..100_000,
            "(max-age|s-maxage|stale-while-revalidate|stale-if-error)"
        )
            .prop_map(|(n, d)| HeaderValue::from_str(&format!("{d}={n}")).ok()),
    ]
}

const FIELDS: [&str; 9] = [
    "cache-control",
    "age",
    "date",
    "expires",
    "vary",
    "etag",
    "last-modified",
    "cdn-cache-control",
    "surrogate-control",
];

fn header_map() -> impl Strategy<Value = HeaderMap> {
    proptest::collection::vec((0..FIELDS.len(), value()), 0..12).prop_map(|pairs| {
        let mut h = HeaderMap::new();
        for (i, v) in pairs {
            if let Some(v) = v {
                h.append(FIELDS[i], v);
            }
        }
        h
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_windows_stay_within_directives(
        response in header_map(),
        request in header_map(),
        other in header_map(),
        status in prop_oneof![Just(200u16), 100u16..600],
    ) {
        let policy = HttpPolicy { heuristic: Some(Heuristic::default()), ..HttpPolicy::default() };
        let v = judge_with(&policy, status, &request, &response);
        let d = policy.targets.select(&response).directives;
        let cap = |s: Option<u64>| Micros(s.unwrap_or(0).min(DELTA_MAX) * S);
        match v.lifetime_from {
            LifetimeFrom::SMaxAge => prop_assert!(v.windows.ttl <= cap(d.s_maxage)),
            LifetimeFrom::MaxAge => prop_assert!(v.windows.ttl <= cap(d.max_age)),
            LifetimeFrom::Expires => prop_assert!(v.windows.ttl <= Micros(DELTA_MAX * S)),
            LifetimeFrom::Heuristic => prop_assert!(v.windows.ttl <= Micros(86_400 * S)),
            LifetimeFrom::None => prop_assert_eq!(v.windows.ttl, Micros::ZERO),
        }
        prop_assert!(v.windows.swr <= cap(d.stale_while_revalidate));
        prop_assert!(v.windows.sie <= cap(d.stale_if_error));
        if v.store.is_ok() {
            prop_assert!(v.vary != Vary::Star);
        }
        let _ = v.vary.secondary(&request, &no_normalise);
        let _ = http::age(&response);
        let _ = http::conditional(&response);
        let _ = http::freshens(&response, &other);
        let mut stored = response.clone();
        http::update_headers(&mut stored, &other);
        for name in other.keys() {
            if !http::is_hop_by_hop(name, &other) && !["etag"].contains(&name.as_str()) {
                prop_assert_eq!(stored.get_all(name).iter().count(), other.get_all(name).iter().count());
            }
        }
        let r = RequestDirectives::of_request(&request);
        let n = http::constrained(v.windows, &r);
        prop_assert!(n.ttl <= v.windows.ttl);
        prop_assert!(n.ttl.saturating_add(n.swr) <= v.windows.ttl.saturating_add(v.windows.swr));
        prop_assert!(n.ttl.saturating_add(n.sie) <= v.windows.ttl.saturating_add(v.windows.sie));
    }
}
