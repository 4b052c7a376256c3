//! Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection, so a
//! proxy neither forwards nor stores them (RFC 9111 §3.1).

use axum::http::{HeaderMap, HeaderName, header};

use super::lex::for_each_member;

/// The fields that are hop-by-hop whatever `Connection` says: the ones RFC
/// 9110 §7.6.1 names, plus `Proxy-Connection` and `Keep-Alive` (HTTP/1.0
/// practice, RFC 9112 §9.3) and the proxy authentication fields, which are
/// addressed to the next proxy only. The suite checks that a cache stores
/// none of them.
const FIXED: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authentication-info",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` is hop-by-hop in a message whose fields are `message`:
/// one of the fixed list, or named in its `Connection` field (the suite's
/// required `headers-omit-headers-listed-in-Connection`).
pub fn is_hop_by_hop(name: &HeaderName, message: &HeaderMap) -> bool {
    if FIXED.contains(&name.as_str()) {
        return true;
    }
    let mut listed = false;
    for line in message.get_all(header::CONNECTION) {
        for_each_member(line.as_bytes(), |m| {
            listed |= m.eq_ignore_ascii_case(name.as_str().as_bytes());
        });
    }
    listed
}
