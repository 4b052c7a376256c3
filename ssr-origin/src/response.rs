//! A page answer as layers pass it along and store it, and the headers that
//! say what it was built from.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use std::borrow::Cow;

use crate::cache::freshness::Windows;

/// `x-cache`: `layer=OUTCOME` per caching layer, outermost first.
pub const X_CACHE: &str = "x-cache";
/// [`X_CACHE`] as a header name, made once.
const X_CACHE_NAME: HeaderName = HeaderName::from_static(X_CACHE);
/// The variants the page was built from, projected to the experiences its
/// entries use: `0_1,a_0`, or `-` for none.
pub const X_VARIANTS: &str = "x-ttlab-variants";
/// The entry versions the page was built from:
/// `e=home_hero;v=cs_personalize_0_1;n=3, e=footer;v=base;n=1`.
pub const X_CONTENT: &str = "x-ttlab-content";
/// The visitor a per-visitor page was rendered for.
pub const X_VISITOR: &str = "x-ttlab-visitor";
/// Set when the page is base content served on purpose because
/// Personalize failed or was too slow (`personalize`).
pub const X_FALLBACK: &str = "x-ttlab-fallback";
/// Set on error answers: which upstream failed.
pub const X_ERROR: &str = "x-ttlab-error";

/// Headers that belong to one response, never to a stored copy.
const PER_RESPONSE: [&str; 3] = [X_CACHE, "age", "set-cookie"];

/// A page answer: status, the headers that travel with the content, body.
#[derive(Clone, Debug)]
pub struct PageResponse {
    /// HTTP status.
    pub status: u16,
    /// Content headers (per-response ones are kept apart).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
    /// The `x-cache` chain of the layers behind, as fetched.
    pub upstream_cache: Option<String>,
    /// Cookies the layers behind set for the visitor of the fetching request;
    /// sent only to that request, never from a stored copy.
    pub set_cookies: Vec<String>,
    /// The windows its own headers gave it, when a layer that follows HTTP
    /// stored it (`None`: the layer's own windows apply).
    pub windows: Option<Windows>,
}

impl PageResponse {
    /// From an upstream response's parts, keeping per-response headers out.
    ///
    /// The body and header values are copied into allocations of their own:
    /// as the HTTP client hands them over they are views into its read
    /// buffers, and a stored view keeps the whole buffer alive — about
    /// 10 KiB per cached page of 1 KiB, which no byte bound counted.
    pub fn from_upstream(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let body = Bytes::copy_from_slice(body);
        let kept = headers
            .iter()
            .filter(|(k, _)| !PER_RESPONSE.contains(&k.as_str()) && !is_hop_by_hop(k.as_str()))
            .filter_map(|(k, v)| {
                let name = HeaderName::from_bytes(k.as_str().as_bytes()).ok()?;
                let value = HeaderValue::from_bytes(v.as_bytes()).ok()?;
                Some((name, value))
            })
            .collect();
        let upstream_cache = headers
            .get(X_CACHE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        PageResponse {
            status,
            headers: kept,
            body,
            upstream_cache,
            set_cookies,
            windows: None,
        }
    }

    /// From an upstream response's parts as a cache that follows HTTP
    /// keeps them: every end-to-end field, `Date` and `Last-Modified`
    /// included (its freshness is recomputed from them on revalidation);
    /// hop-by-hop fields (with those named in `Connection`), `Age` (the
    /// cache sends its own) and the per-response ones left out as in
    /// [`PageResponse::from_upstream`].
    pub fn from_http(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut page = PageResponse::from_upstream(status, headers, body);
        // Set-Cookie is part of the answer HTTP stores (the suite's
        // required `headers-store-Set-Cookie`); an origin that means it
        // for one visitor says `private`, and such an answer is not stored.
        page.set_cookies.clear();
        page.headers = headers
            .iter()
            .filter(|(k, _)| {
                (!PER_RESPONSE.contains(&k.as_str()) || *k == axum::http::header::SET_COOKIE)
                    && !crate::cache::http::hop::is_hop_by_hop(k, headers)
                    && *k != axum::http::header::CONTENT_LENGTH
            })
            .map(|(k, v)| {
                let v = HeaderValue::from_bytes(v.as_bytes()).unwrap_or_else(|_| v.clone());
                (k.clone(), v)
            })
            .collect();
        page
    }

    /// Its fields as a header map, for the HTTP rules (on a fill or a
    /// conditional request, never on a plain hit).
    pub fn header_map(&self) -> HeaderMap {
        let mut m = HeaderMap::with_capacity(self.headers.len());
        for (k, v) in &self.headers {
            m.append(k.clone(), v.clone());
        }
        m
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// Whether a shared cache may store it: a 200 that is not private.
    pub fn shareable(&self) -> bool {
        self.status == 200
            && !self.headers.iter().any(|(k, v)| {
                k == "cache-control"
                    && v.to_str().is_ok_and(|c| {
                        let c = c.to_ascii_lowercase();
                        c.contains("private") || c.contains("no-store")
                    })
            })
    }

    /// Bytes it takes in a store, for `max_bytes`: the body, each header's
    /// name and value with the bookkeeping of its own allocations (48 bytes
    /// a header), and the entry's own (256 bytes: the page, its place in the
    /// map, its tags). An estimate, kept close to what the process holds so
    /// that the byte bound bounds memory.
    pub fn size(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 48)
            .sum();
        (self.body.len() + headers + 256) as u64
    }

    /// The HTTP response, with this layer's `x-cache` part first, the chain
    /// of the layers behind and their cookies when this request went through
    /// them (`fetched_here`), the age, and this layer's own cookies.
    pub fn to_response(
        &self,
        cache_part: Option<Cow<'static, str>>,
        fetched_here: bool,
        age_secs: u64,
        cookies: &[String],
    ) -> Response {
        let mut resp = Response::new(Body::from(self.body.clone()));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let h = resp.headers_mut();
        h.reserve(self.headers.len() + 2);
        for (k, v) in &self.headers {
            h.append(k.clone(), v.clone());
        }
        // A hit's part is a static string: no allocation, no copy.
        let chain = match (
            cache_part,
            self.upstream_cache.as_deref().filter(|_| fetched_here),
        ) {
            (Some(Cow::Borrowed(part)), None) => Some(HeaderValue::from_static(part)),
            (Some(part), None) => HeaderValue::from_str(&part).ok(),
            (Some(part), Some(behind)) => HeaderValue::from_str(&format!("{part}, {behind}")).ok(),
            (None, Some(behind)) => HeaderValue::from_str(behind).ok(),
            (None, None) => None,
        };
        if let Some(v) = chain {
            h.insert(X_CACHE_NAME, v);
        }
        h.insert(axum::http::header::AGE, HeaderValue::from(age_secs));
        let upstream_cookies = self.set_cookies.iter().filter(|_| fetched_here);
        let mut sets_cookies = false;
        for c in cookies.iter().chain(upstream_cookies) {
            if let Ok(v) = HeaderValue::from_str(c) {
                h.append("set-cookie", v);
                sets_cookies = true;
            }
        }
        if sets_cookies && !is_private(h) {
            // The cookies are this visitor's: a shared cache that stored
            // the answer would hand them (and the page built with them) to
            // the next visitor. The stored copy keeps its own header.
            h.insert("cache-control", HeaderValue::from_static("private"));
        }
        resp
    }
}

/// Whether `cache-control` keeps shared caches out (`private` or `no-store`).
fn is_private(h: &HeaderMap) -> bool {
    h.get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| {
            let c = c.to_ascii_lowercase();
            c.contains("private") || c.contains("no-store")
        })
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
            | "date"
    )
}

/// The cookie header's value of `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_by_name() {
        let mut h = HeaderMap::new();
        h.append(
            "cookie",
            HeaderValue::from_static("a=1; cs-personalize-user-uid=u-9 ;b=2"),
        );
        h.append("cookie", HeaderValue::from_static("c=3"));
        assert_eq!(cookie(&h, "cs-personalize-user-uid"), Some("u-9"));
        assert_eq!(cookie(&h, "c"), Some("3"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn stored_copies_drop_per_response_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-cache", HeaderValue::from_static("origin=MISS"));
        h.insert("set-cookie", HeaderValue::from_static("a=1"));
        h.insert("age", HeaderValue::from_static("3"));
        h.insert(X_VARIANTS, HeaderValue::from_static("0_1"));
        h.insert("cache-control", HeaderValue::from_static("public"));
        let p = PageResponse::from_upstream(200, &h, b"x");
        assert_eq!(p.upstream_cache.as_deref(), Some("origin=MISS"));
        assert_eq!(p.set_cookies, ["a=1"]);
        assert!(
            p.header("set-cookie").is_none()
                && p.header("age").is_none()
                && p.header("x-cache").is_none()
        );
        assert_eq!(p.header(X_VARIANTS), Some("0_1"));
        assert!(p.shareable());
        let r = p.to_response(Some("cdn=HIT".into()), false, 7, &[]);
        assert_eq!(r.headers()["x-cache"], "cdn=HIT");
        assert_eq!(r.headers()["age"], "7");
        assert!(
            r.headers().get("set-cookie").is_none(),
            "a stored copy never sets another visitor's cookie"
        );
        assert_eq!(r.headers()["cache-control"], "public");
        let r = p.to_response(Some("cdn=MISS".into()), true, 0, &["c=d".into()]);
        assert_eq!(r.headers()["x-cache"], "cdn=MISS, origin=MISS");
        let set: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
        assert_eq!(set, ["c=d", "a=1"]);
        assert_eq!(
            r.headers()["cache-control"],
            "private",
            "an answer that sets cookies is for its visitor only"
        );
        assert!(p.shareable(), "the stored copy is unchanged");
    }
}
