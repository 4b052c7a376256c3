//! The VCL for one architecture's CDN or edge cache: a pure function of the
//! architecture's topology (its key strategy, its layer's name) and cache
//! options, and the origins to forward to.
//!
//! Each rule of ttlab's caching layer that Varnish does not do by itself,
//! or does otherwise, is written out here, with a comment in the VCL that
//! says which rule it is (the table in `docs/cdn.md` lists them):
//!
//! | ttlab's rule | in the VCL |
//! |---|---|
//! | key: URL, URL + visitor uid, URL + variants | `vcl_hash` (never the host); a per-visitor key with no visitor, or an edge request without variants, passes |
//! | only the visitor cookie goes upstream; a cookie never turns caching off | `vcl_recv` keeps that one cookie and returns `hash` itself (Varnish's built-in VCL passes any request with a cookie) |
//! | `Vary: Cookie` is read as the key strategy reads the cookie; any other `Vary` field is not stored | `vcl_backend_response` takes `Vary` off the stored copy and puts it back on delivery |
//! | a 200 that is not `private`/`no-store` (and sets no cookie) is stored | `vcl_backend_response` (Varnish's built-in would make the others hit-for-miss for 2 minutes) |
//! | TTL and stale-while-revalidate from the scenario, or from the origin's headers (`policy = "http"`) | `beresp.ttl`, `beresp.grace` |
//! | stale-if-error | emulated: past the SWR window a request restarts to fetch now; if the fetch fails it restarts again and takes the stale copy |
//! | coalescing on or off | Varnish's waiting list, or `req.hash_ignore_busy` |
//! | purge on publish, by entry | `xkey` indexes each page by `Surrogate-Key` (or the entries in `x-ttlab-content`); `PURGE` from loopback with the keys in a header |
//! | `x-cache: LAYER=HIT/STALE/MISS/BYPASS` as ttlab's layers write it | `vcl_hit`/`vcl_miss`/`vcl_pass` note the outcome; `vcl_deliver` writes it |

use std::fmt::Write as _;

use thiserror::Error;
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::{ArchitectureConfig, CachePolicy};
use ttlab_scenarios::topology::{KeyScope, KeyStrategy};

use crate::origin::UID_COOKIE;

/// The request header a ttlab edge in front of Varnish names the variants
/// it keys on in (short aliases in the key's scope, `-` for none); the
/// VCL of a `page`-scoped edge hashes it.
pub const VARIANT_KEY_HEADER: &str = "X-Ttlab-Variant-Key";
/// The request header of a `PURGE`: the surrogate keys (entry uids) to purge.
pub const PURGE_KEY_HEADER: &str = "X-Ttlab-Purge-Key";
/// The response header of a `PURGE`: how many objects `xkey` purged.
pub const PURGED_HEADER: &str = "X-Ttlab-Purged";

/// An origin Varnish forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Backend {
    /// From `http://HOST:PORT` (any path is ignored), or `HOST:PORT`.
    pub fn parse(url: &str) -> Option<Backend> {
        let rest = url
            .strip_prefix("http://")
            .unwrap_or(url)
            .split('/')
            .next()?;
        let (host, port) = rest.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(char::is_whitespace) || host.contains('"') {
            return None;
        }
        Some(Backend {
            host: host.to_owned(),
            port: port.parse().ok()?,
        })
    }
}

/// What the VCL is generated from.
#[derive(Clone, Copy, Debug)]
pub struct VclSpec<'a> {
    /// The scenario's name, for the header comment.
    pub scenario: &'a str,
    /// The architecture: its topology and cache options.
    pub arch: &'a ArchitectureConfig,
    /// The origins, taken in turn (round robin), as ttlab's layers do.
    pub origins: &'a [Backend],
    /// The query parameter an edge passes the variants in.
    pub variant_param: &'a str,
}

/// Why no VCL can be made.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VclError {
    /// The architecture has no CDN or edge cache for Varnish to be.
    #[error(
        "{0} has no CDN or edge cache for Varnish to be (Varnish runs ssr-cdn-shared, ssr-cdn-user and ssr-edge)"
    )]
    NoFrontCache(&'static str),
    /// No origin to forward to.
    #[error("no origin to forward to")]
    NoOrigin,
}

/// The VCL, with comments, for `spec`'s architecture.
///
/// # Errors
///
/// When the architecture has no front caching layer (no CDN or edge), or
/// `spec` names no origin.
pub fn generate(spec: &VclSpec<'_>) -> Result<String, VclError> {
    let topology = spec.arch.topology();
    let (layer, key) = match topology.front {
        Some(f) => match f.key {
            Some(k) => (f.role.name(), k),
            None => return Err(VclError::NoFrontCache(spec.arch.arch.as_str())),
        },
        None => return Err(VclError::NoFrontCache(spec.arch.arch.as_str())),
    };
    if spec.origins.is_empty() {
        return Err(VclError::NoOrigin);
    }
    let c = &spec.arch.cache;
    let mut v = String::with_capacity(12 * 1024);
    header(&mut v, spec, layer, key);
    backends(&mut v, spec.origins);
    recv(&mut v, spec, key);
    hash(&mut v, spec, key);
    hit(&mut v);
    let _ = write!(
        v,
        r#"
sub vcl_miss {{
    set req.http.X-Ttlab-Vcl-Outcome = "MISS";
    return (fetch);
}}

sub vcl_pass {{
    set req.http.X-Ttlab-Vcl-Outcome = "BYPASS";
    return (fetch);
}}

sub vcl_backend_fetch {{
    # The stale copy was served because the origin failed
    # (stale-if-error): ttlab's layer starts no refresh then.
    if (bereq.is_bgfetch && bereq.http.X-Ttlab-Vcl-Sie) {{
        return (abandon);
    }}
    unset bereq.http.X-Ttlab-Vcl-T0;
    unset bereq.http.X-Ttlab-Vcl-Outcome;
    unset bereq.http.X-Ttlab-Vcl-Grace;
    unset bereq.http.{VARIANT_KEY_HEADER};
    return (fetch);
}}
"#
    );
    backend_response(
        &mut v,
        spec.arch.cache.policy,
        c.ttl,
        c.stale_while_revalidate,
        c.stale_if_error,
    );
    let _ = write!(
        v,
        r#"
sub vcl_backend_error {{
    # The origin could not be reached: a failed fill. Keep what is stored
    # when it can still be served (a background refresh, or a stale copy
    # held for stale-if-error); otherwise the visitor gets the error.
    if (bereq.is_bgfetch || bereq.http.X-Ttlab-Vcl-Stale-Held) {{
        return (abandon);
    }}
    set beresp.http.Cache-Control = "no-store";
    return (deliver);
}}
"#
    );
    deliver(&mut v, layer);
    synth(&mut v);
    Ok(v)
}

/// A window as a VCL duration: whole seconds as `Ns`, else milliseconds.
pub fn duration(m: Micros) -> String {
    if m.0.is_multiple_of(1_000_000) {
        format!("{}s", m.0 / 1_000_000)
    } else {
        format!("{}ms", m.0 / 1_000)
    }
}

fn header(v: &mut String, spec: &VclSpec<'_>, layer: &str, key: KeyStrategy) {
    let c = &spec.arch.cache;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = write!(
        v,
        r#"vcl 4.1;

# Generated by `ttlab vcl` from scenario "{scenario}", architecture
# {arch}: the cache of ttlab's `{layer}` layer as Varnish configuration
# (Varnish 7.1 with varnish-modules for xkey). docs/cdn.md explains every
# part and maps it to Fastly.
#
#   cache key        {key}{scope}
#   windows from     {policy}
#   ttl              {ttl}
#   stale-while-revalidate  {swr}
#   stale-if-error   {sie} (emulated: see vcl_hit and vcl_synth)
#   coalesce fills   {coalesce}
#   purge on publish {purge} (PURGE with {PURGE_KEY_HEADER}, from loopback)
#   x-cache          {layer}=HIT | STALE | MISS | BYPASS, as ttlab's layers write it
#
# Headers named X-Ttlab-Vcl-* are this configuration's own notes; they are
# removed before anything leaves Varnish.

import std;
import cookie;
import directors;
import xkey;
"#,
        scenario = spec.scenario,
        arch = spec.arch.arch,
        key = key.description(),
        scope = match key {
            KeyStrategy::UrlVariants(KeyScope::Page) => " (the variants of the page's experiences)",
            KeyStrategy::UrlVariants(KeyScope::All) => " (every variant of the visitor)",
            _ => "",
        },
        policy = match c.policy {
            CachePolicy::Scenario => "the scenario (the origin's Cache-Control is not read)",
            CachePolicy::Http =>
                "the origin's headers (s-maxage, stale-while-revalidate, stale-if-error)",
        },
        ttl = window(c.policy, c.ttl),
        swr = window(c.policy, c.stale_while_revalidate),
        sie = window(c.policy, c.stale_if_error),
        coalesce = yes(c.coalesce),
        purge = yes(c.purge_on_publish),
    );
}

fn window(policy: CachePolicy, m: Micros) -> String {
    match policy {
        CachePolicy::Scenario => duration(m),
        CachePolicy::Http => format!("{} (as the origin states it)", duration(m)),
    }
}

fn backends(v: &mut String, origins: &[Backend]) {
    v.push_str(
        "\n# The origin. Several are taken in turn, as ttlab's layers take origin\n# replicas. Timeouts as ttlab's layers fill with.\n",
    );
    for (i, o) in origins.iter().enumerate() {
        let _ = write!(
            v,
            r#"backend origin_{i} {{
    .host = "{host}";
    .port = "{port}";
    .connect_timeout = 10s;
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 30s;
}}
"#,
            host = o.host,
            port = o.port,
        );
    }
    v.push_str(
        r#"
# Who may purge: ttlab's publish receiver, on this machine.
acl ttlab_purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_init {
    new origins = directors.round_robin();
"#,
    );
    for i in 0..origins.len() {
        let _ = writeln!(v, "    origins.add_backend(origin_{i});");
    }
    v.push_str("}\n");
}

fn recv(v: &mut String, spec: &VclSpec<'_>, key: KeyStrategy) {
    let _ = write!(
        v,
        r#"
sub vcl_recv {{
    set req.backend_hint = origins.backend();

    # Purge on publish: the surrogate keys (entry uids) in
    # {PURGE_KEY_HEADER}, every object tagged with one of them dropped.
    if (req.method == "PURGE") {{
        if (client.ip !~ ttlab_purgers) {{
            return (synth(403, "Forbidden"));
        }}
        if (!req.http.{PURGE_KEY_HEADER}) {{
            return (synth(400, "{PURGE_KEY_HEADER} names no key"));
        }}
        set req.http.{PURGED_HEADER} = xkey.purge(req.http.{PURGE_KEY_HEADER});
        return (synth(200, "Purged"));
    }}
    if (req.method != "GET" && req.method != "HEAD") {{
        return (pass);
    }}

    if (req.restarts == 0) {{
        # A client cannot set this configuration's notes.
        unset req.http.X-Ttlab-Vcl-Sie;
        unset req.http.X-Ttlab-Vcl-Stale-Held;
        unset req.http.X-Ttlab-Vcl-Grace;
        unset req.http.X-Ttlab-Vcl-Outcome;
        # When the request came, to tell a request that waited for another
        # one's fill (a coalesced miss, as ttlab counts it) from a hit.
        set req.http.X-Ttlab-Vcl-T0 = std.time2real(now, 0.0);
    }}
"#
    );
    if !spec.arch.cache.coalesce {
        v.push_str(
            r"
    # coalesce = false: every miss fetches for itself, none waits for
    # another's fill (Varnish's waiting list is skipped).
    set req.hash_ignore_busy = true;
",
        );
    }
    let _ = write!(
        v,
        r#"
    # Restarted to fetch past the stale-while-revalidate window (vcl_hit):
    # look up with only that much grace, so the stale copy is not taken.
    # Restarted after that fetch failed (vcl_synth): the object's whole grace
    # again (req.grace outlives a restart and cannot be unset; a cap this
    # long leaves the object's own).
    if (req.http.X-Ttlab-Vcl-Sie) {{
        set req.grace = 3650d;
    }} elsif (req.http.X-Ttlab-Vcl-Grace) {{
        set req.grace = std.duration(req.http.X-Ttlab-Vcl-Grace, 0s);
    }}

    # Cookies: only the visitor's uid cookie ({UID_COOKIE}) goes to the
    # origin, as ttlab's layers pass it. Returning hash below is what keeps
    # Varnish's built-in VCL from passing every request with a cookie, which
    # would silently turn caching off.
    if (req.http.Cookie) {{
        cookie.parse(req.http.Cookie);
        cookie.keep("{UID_COOKIE}");
        set req.http.Cookie = cookie.get_string();
        if (req.http.Cookie == "") {{
            unset req.http.Cookie;
        }}
    }}
    set req.url = std.querysort(req.url);
"#
    );
    pass_unkeyed(v, spec, key);
    v.push_str("    return (hash);\n}\n");
}

/// What a request the key strategy cannot key on does: pass.
fn pass_unkeyed(v: &mut String, spec: &VclSpec<'_>, key: KeyStrategy) {
    let param = spec.variant_param;
    match key {
        KeyStrategy::Url => {}
        KeyStrategy::UrlVisitor => {
            let _ = write!(
                v,
                r#"
    # Keyed by visitor, but no visitor yet: nothing to share it with.
    if (!req.http.Cookie || cookie.get("{UID_COOKIE}") == "") {{
        return (pass);
    }}
"#
            );
        }
        KeyStrategy::UrlVariants(KeyScope::All) => {
            let _ = write!(
                v,
                r#"
    # No variants in the URL: the edge in front could not ask Personalize
    # and wants base content for this request only.
    if (req.url !~ "[?&]{param}=") {{
        return (pass);
    }}
"#
            );
        }
        KeyStrategy::UrlVariants(KeyScope::Page) => {
            let _ = write!(
                v,
                r"
    # No variant key: the edge in front could not ask Personalize and wants
    # base content for this request only.
    if (!req.http.{VARIANT_KEY_HEADER}) {{
        return (pass);
    }}
"
            );
        }
    }
}

fn hash(v: &mut String, spec: &VclSpec<'_>, key: KeyStrategy) {
    let param = spec.variant_param;
    v.push_str("\nsub vcl_hash {\n");
    match key {
        KeyStrategy::Url => v.push_str(
            "    # Key: the URL (its query sorted). Not the host, and not the cookie:\n    # every visitor shares the page (ssr-cdn-shared's mistake, measured).\n    hash_data(req.url);\n",
        ),
        KeyStrategy::UrlVisitor => {
            let _ = write!(
                v,
                "    # Key: the URL (its query sorted) and the visitor's uid cookie.\n    hash_data(req.url);\n    hash_data(cookie.get(\"{UID_COOKIE}\"));\n"
            );
        }
        KeyStrategy::UrlVariants(KeyScope::All) => {
            let _ = write!(
                v,
                "    # Key: the URL, which holds every variant of the visitor in {param}\n    # (the edge in front put them there).\n    hash_data(req.url);\n"
            );
        }
        KeyStrategy::UrlVariants(KeyScope::Page) => {
            let _ = write!(
                v,
                "    # Key: the URL without {param}, and the variants of the page's\n    # experiences, which the edge in front names in {VARIANT_KEY_HEADER}.\n    hash_data(regsub(regsuball(req.url, \"(?<=[?&]){param}=[^&]*(&|$)\", \"\"), \"[?&]$\", \"\"));\n    hash_data(req.http.{VARIANT_KEY_HEADER});\n"
            );
        }
    }
    v.push_str("    return (lookup);\n}\n");
}

fn hit(v: &mut String) {
    v.push_str(
        r#"
sub vcl_hit {
    if (req.http.X-Ttlab-Vcl-Sie) {
        # Restarted because the origin failed (vcl_synth): stale-if-error.
        set req.http.X-Ttlab-Vcl-Outcome = "STALE";
        return (deliver);
    }
    if (obj.ttl >= 0s) {
        if (obj.age < now - std.real2time(std.real(req.http.X-Ttlab-Vcl-T0, 0.0), now)) {
            # Stored after this request came: it waited for another
            # request's fill. ttlab counts that a (coalesced) miss.
            set req.http.X-Ttlab-Vcl-Outcome = "COALESCED";
        } else {
            set req.http.X-Ttlab-Vcl-Outcome = "HIT";
        }
        return (deliver);
    }
    if (obj.ttl + std.duration(obj.http.X-Ttlab-Vcl-Swr, 0s) > 0s) {
        # Within stale-while-revalidate: served stale, refreshed in the
        # background (Varnish's grace).
        set req.http.X-Ttlab-Vcl-Outcome = "STALE";
        return (deliver);
    }
    # Past stale-while-revalidate but within stale-if-error (the object's
    # grace covers both): fetch now, and serve this copy only if that fails.
    set req.http.X-Ttlab-Vcl-Grace = obj.http.X-Ttlab-Vcl-Swr;
    set req.http.X-Ttlab-Vcl-Stale-Held = "1";
    return (restart);
}
"#,
    );
}

fn backend_response(v: &mut String, policy: CachePolicy, ttl: Micros, swr: Micros, sie: Micros) {
    v.push_str(
        r#"
sub vcl_backend_response {
    # An origin failure is a failed fill: keep what is stored when it can
    # still be served (a background refresh, or a copy held for
    # stale-if-error; vcl_synth then serves it).
    if (beresp.status >= 500 && (bereq.is_bgfetch || bereq.http.X-Ttlab-Vcl-Stale-Held)) {
        return (abandon);
    }

    # Tags for purge on publish: the page's entries, from Surrogate-Key
    # (policy = "http") or ttlab's x-ttlab-content (e=UID;v=…;n=…, …).
    if (beresp.http.Surrogate-Key) {
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    } elsif (beresp.http.X-Ttlab-Content) {
        set beresp.http.xkey = regsuball(beresp.http.X-Ttlab-Content, "e=([^;,]+)[^,]*,?\s*", "\1 ");
    }

    # Vary: Cookie is what the key strategy reads of the cookie (vcl_hash),
    # so it is taken off the stored copy (and put back on delivery); an
    # answer that varies on anything else is not stored.
    if (beresp.http.Vary) {
        set beresp.http.X-Ttlab-Vcl-Vary = beresp.http.Vary;
        unset beresp.http.Vary;
        if (regsuball(beresp.http.X-Ttlab-Vcl-Vary, "(?i)\bcookie\b|[\s,]", "") != "") {
            set beresp.http.X-Ttlab-Vcl-Uncacheable = "vary";
        }
    }

    # What a shared cache may store: an answer that is not private (nor
    # Surrogate-Control: no-store), sets no cookie (it would be this
    # visitor's) and is not an error.
    # Varnish's built-in VCL would mark the others hit-for-miss for two
    # minutes; here they are just not stored.
"#,
    );
    match policy {
        CachePolicy::Scenario => v.push_str(
            "    if (beresp.status != 200) {\n        set beresp.http.X-Ttlab-Vcl-Uncacheable = \"status\";\n    }\n",
        ),
        CachePolicy::Http => v.push_str(
            "    if (beresp.status >= 500) {\n        set beresp.http.X-Ttlab-Vcl-Uncacheable = \"status\";\n    }\n",
        ),
    }
    v.push_str(
        r#"    if (beresp.http.Cache-Control ~ "(?i)(^|,)\s*(private|no-store)\b" || beresp.http.Set-Cookie
        || beresp.http.Surrogate-Control ~ "(?i)no-store") {
        set beresp.http.X-Ttlab-Vcl-Uncacheable = "private";
    }
"#,
    );
    windows(v, policy, ttl, swr, sie);
    v.push_str(
        r"
    if (beresp.http.X-Ttlab-Vcl-Uncacheable) {
        set beresp.ttl = 0s;
        set beresp.grace = 0s;
        set beresp.keep = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    if (beresp.ttl < 0s) {
        set beresp.ttl = 0s;
    }
    # Grace covers both stale windows; vcl_hit tells them apart.
    if (std.duration(beresp.http.X-Ttlab-Vcl-Sie, 0s) > std.duration(beresp.http.X-Ttlab-Vcl-Swr, 0s)) {
        set beresp.grace = std.duration(beresp.http.X-Ttlab-Vcl-Sie, 0s);
    } else {
        set beresp.grace = std.duration(beresp.http.X-Ttlab-Vcl-Swr, 0s);
    }
",
    );
    match policy {
        CachePolicy::Scenario => v.push_str(
            "    # ttlab's layer does not revalidate under policy = \"scenario\": it fetches anew.\n    set beresp.keep = 0s;\n",
        ),
        CachePolicy::Http => v.push_str(
            "    # Kept an hour past its windows for a conditional fill (If-None-Match /\n    # If-Modified-Since), as ttlab's layer revalidates a page it still holds;\n    # storage is bounded by -s malloc and evicts least recently used first.\n    set beresp.keep = 1h;\n",
        ),
    }
    v.push_str("    return (deliver);\n}\n");
}

/// Where a stored answer's windows come from: the scenario, or the
/// origin's headers.
fn windows(v: &mut String, policy: CachePolicy, ttl: Micros, swr: Micros, sie: Micros) {
    match policy {
        CachePolicy::Scenario => {
            let _ = write!(
                v,
                r#"
    # Windows from the scenario (policy = "scenario"): the origin's
    # Cache-Control is passed on, not read.
    set beresp.ttl = {ttl};
    set beresp.http.X-Ttlab-Vcl-Swr = "{swr}";
    set beresp.http.X-Ttlab-Vcl-Sie = "{sie}";
"#,
                ttl = duration(ttl),
                swr = duration(swr),
                sie = duration(sie),
            );
        }
        CachePolicy::Http => v.push_str(
            r#"
    # Windows from the origin's headers (policy = "http"): Varnish has set
    # beresp.ttl from s-maxage / max-age / Expires less Age; the stale
    # windows are read here (Varnish reads no stale-if-error).
    if (beresp.http.Cache-Control ~ "(?i)no-cache") {
        set beresp.ttl = 0s;
    }
    # A request with credentials: shared only when the answer says so.
    if (bereq.http.Authorization && beresp.http.Cache-Control !~ "(?i)(public|s-maxage|must-revalidate)") {
        set beresp.http.X-Ttlab-Vcl-Uncacheable = "authorization";
    }
    set beresp.http.X-Ttlab-Vcl-Swr = "0s";
    set beresp.http.X-Ttlab-Vcl-Sie = "0s";
    if (beresp.http.Cache-Control ~ "(?i)stale-while-revalidate\s*=\s*\d+") {
        set beresp.http.X-Ttlab-Vcl-Swr = regsub(beresp.http.Cache-Control, "(?i)^.*stale-while-revalidate\s*=\s*(\d+).*$", "\1s");
    }
    if (beresp.http.Cache-Control ~ "(?i)stale-if-error\s*=\s*\d+") {
        set beresp.http.X-Ttlab-Vcl-Sie = regsub(beresp.http.Cache-Control, "(?i)^.*stale-if-error\s*=\s*(\d+).*$", "\1s");
    }
    if (beresp.ttl <= 0s && std.duration(beresp.http.X-Ttlab-Vcl-Swr, 0s) <= 0s && std.duration(beresp.http.X-Ttlab-Vcl-Sie, 0s) <= 0s) {
        set beresp.http.X-Ttlab-Vcl-Uncacheable = "no lifetime";
    }
"#,
        ),
    }
}

fn deliver(v: &mut String, layer: &str) {
    let _ = write!(
        v,
        r#"
sub vcl_deliver {{
    # x-cache as ttlab's layers write it, this layer's part first; the
    # parts of the layers behind only when this request went through them.
    if (req.http.X-Ttlab-Vcl-Outcome == "MISS" && obj.uncacheable && resp.status < 500) {{
        # Went upstream and the answer was not for storing. (A failed fill
        # stays a miss, as ttlab's layer counts it.)
        set req.http.X-Ttlab-Vcl-Outcome = "BYPASS";
    }}
    if (req.http.X-Ttlab-Vcl-Outcome == "COALESCED") {{
        set resp.http.x-cache = "{layer}=MISS";
    }} elsif (req.http.X-Ttlab-Vcl-Outcome ~ "^(HIT|STALE)$" || !resp.http.x-cache) {{
        set resp.http.x-cache = "{layer}=" + req.http.X-Ttlab-Vcl-Outcome;
    }} else {{
        set resp.http.x-cache = "{layer}=" + req.http.X-Ttlab-Vcl-Outcome + ", " + resp.http.x-cache;
    }}
    if (resp.http.X-Ttlab-Vcl-Vary) {{
        set resp.http.Vary = resp.http.X-Ttlab-Vcl-Vary;
    }}
    unset resp.http.X-Ttlab-Vcl-Vary;
    unset resp.http.X-Ttlab-Vcl-Swr;
    unset resp.http.X-Ttlab-Vcl-Sie;
    unset resp.http.X-Ttlab-Vcl-Uncacheable;
    unset resp.http.xkey;
    return (deliver);
}}
"#
    );
}

fn synth(v: &mut String) {
    let _ = write!(
        v,
        r#"
sub vcl_synth {{
    if (req.method == "PURGE") {{
        set resp.http.{PURGED_HEADER} = req.http.{PURGED_HEADER};
        return (deliver);
    }}
    # The fetch past the stale-while-revalidate window failed and a stale
    # copy is held: look it up again, with its whole grace (stale-if-error).
    if (resp.status == 503 && req.http.X-Ttlab-Vcl-Stale-Held && !req.http.X-Ttlab-Vcl-Sie) {{
        set req.http.X-Ttlab-Vcl-Sie = "1";
        unset req.http.X-Ttlab-Vcl-Grace;
        return (restart);
    }}
    set resp.http.Cache-Control = "no-store";
    return (deliver);
}}
"#
    );
}
