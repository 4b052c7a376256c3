//! What a ttlab origin states in its response headers under
//! `policy = "http"`: the scenario's windows as `Cache-Control` for shared
//! caches, the content entries a page was built from as `Surrogate-Key`, and
//! a strong `ETag` over the body. The CDN and edge layers then follow the
//! headers as any CDN would, and the simulator reads its windows back from
//! this same header with the same parser, so a window that does not survive
//! the round trip shows in both.

use std::fmt::Write as _;

use ttlab_scenarios::Micros;
use xxhash_rust::xxh3::xxh3_64;

use super::freshness::Windows;

/// The `Cache-Control` of a shareable page for windows `w`: `public`, the
/// lifetime for shared caches (`s-maxage`, which browsers ignore: only the
/// caches in front keep the page), and the stale windows that are not zero.
/// Windows are whole seconds (scenario validation refuses others under
/// `policy = "http"`); a fraction would be cut.
pub fn cache_control(w: Windows) -> String {
    let mut out = format!("public, s-maxage={}", secs(w.ttl));
    if w.swr > Micros::ZERO {
        let _ = write!(out, ", stale-while-revalidate={}", secs(w.swr));
    }
    if w.sie > Micros::ZERO {
        let _ = write!(out, ", stale-if-error={}", secs(w.sie));
    }
    out
}

/// The `Surrogate-Key` of a page built from entries `uids`: their uids,
/// space-separated, as Fastly's purge by key reads them.
pub fn surrogate_key<'a>(uids: impl IntoIterator<Item = &'a str>) -> String {
    uids.into_iter().collect::<Vec<_>>().join(" ")
}

/// A strong `ETag` of a body: the same bytes always give the same tag, so
/// a cache revalidating a page whose content did not change gets a 304.
pub fn etag(body: &[u8]) -> String {
    format!("\"{:016x}\"", xxh3_64(body))
}

/// The windows a cache that follows HTTP reads back from what the origin
/// states for `w` ([`cache_control`], parsed by the same
/// [`evaluate`](super::http::evaluate) the CDN and edge run), or `None`
/// when that statement does not let it store the page at all. The
/// simulator's CDN and edge take their windows from here under
/// `policy = "http"`, so a window the headers cannot carry shows in
/// simulated runs as it does in real ones.
pub fn followed(w: Windows) -> Option<Windows> {
    use axum::http::{HeaderMap, HeaderValue, Method, header};
    use std::time::SystemTime;

    let mut response = HeaderMap::new();
    response.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&cache_control(w)).ok()?,
    );
    let now = SystemTime::now();
    let verdict = super::http::evaluate(
        &super::http::HttpPolicy::default(),
        &super::http::Exchange {
            method: &Method::GET,
            status: 200,
            request: &HeaderMap::new(),
            response: &response,
            request_time: now,
            response_time: now,
        },
    );
    verdict.store.ok().map(|()| verdict.windows)
}

fn secs(d: Micros) -> u64 {
    d.0 / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(ttl: u64, swr: u64, sie: u64) -> Windows {
        Windows {
            ttl: Micros::from_secs(ttl),
            swr: Micros::from_secs(swr),
            sie: Micros::from_secs(sie),
        }
    }

    #[test]
    fn states_only_the_windows_that_are_set() {
        assert_eq!(cache_control(w(30, 0, 0)), "public, s-maxage=30");
        assert_eq!(
            cache_control(w(0, 5, 60)),
            "public, s-maxage=0, stale-while-revalidate=5, stale-if-error=60"
        );
        assert_eq!(surrogate_key(["a", "b_c"]), "a b_c");
        assert_eq!(etag(b"x"), etag(b"x"));
        assert_ne!(etag(b"x"), etag(b"y"));
        assert!(etag(b"").starts_with('"') && etag(b"").ends_with('"'));
    }

    #[test]
    fn whole_second_windows_survive_the_round_trip() {
        for (ttl, swr, sie) in [
            (30, 0, 0),
            (1, 2, 3),
            (0, 5, 0),
            (0, 0, 60),
            (86_400, 600, 0),
        ] {
            assert_eq!(followed(w(ttl, swr, sie)), Some(w(ttl, swr, sie)));
        }
        // Nothing to serve, ever: a cache that follows HTTP stores nothing.
        assert_eq!(followed(w(0, 0, 0)), None);
        // HTTP's unit is the second: a fraction is cut, as validation warns.
        let fraction = Windows {
            ttl: Micros(1_500_000),
            ..w(0, 0, 0)
        };
        assert_eq!(followed(fraction), Some(w(1, 0, 0)));
    }
}
