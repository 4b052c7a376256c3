//! Invalidation by unsafe methods (RFC 9111 §4.4).

use axum::http::{HeaderMap, Method, header};
use url::Url;

/// Whether a response to `method` invalidates stored responses: the method
/// is not safe (RFC 9110 §9.2.1: anything but GET, HEAD, OPTIONS, TRACE, so
/// also extension methods such as `M-SEARCH`, which the suite requires) and
/// the status is a non-error one (2xx or 3xx; the suite's optimal
/// `invalidate-*-failed` expects a 500 to leave the cache alone).
pub fn invalidates(method: &Method, status: u16) -> bool {
    let safe = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    !safe && (200..400).contains(&status)
}

/// The URIs whose stored responses an invalidating response removes: the
/// request URI, and the `Location` and `Content-Location` targets when they
/// have the same origin (scheme, host, port) as the request — another
/// origin could otherwise be purged by anyone who can POST here
/// (RFC 9111 §4.4).
///
/// `request_uri` must be absolute (`http://host/path?q`; a proxy builds it
/// from `Host`). References are resolved against it (RFC 3986 §5), and
/// each result is absolute without a fragment, the request URI first, no
/// duplicates. An unparseable request URI gives just itself.
pub fn invalidated_targets(request_uri: &str, response: &HeaderMap) -> Vec<String> {
    let Ok(base) = Url::parse(request_uri) else {
        return vec![request_uri.to_owned()];
    };
    let mut out = vec![without_fragment(&base)];
    for name in [header::LOCATION, header::CONTENT_LOCATION] {
        for v in response.get_all(name) {
            let Ok(s) = v.to_str() else { continue };
            let Ok(target) = base.join(s.trim()) else {
                continue;
            };
            if target.origin() == base.origin() {
                let t = without_fragment(&target);
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out
}

fn without_fragment(u: &Url) -> String {
    let mut u = u.clone();
    u.set_fragment(None);
    u.into()
}
