//! Whether a shared cache may store a response, for how long it is fresh,
//! how long it may be served stale, and when it must be revalidated
//! (RFC 9111 §3, §4.2, §5.2.2; RFC 5861; RFC 9213).

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, Method, header};
use ttlab_scenarios::Micros;

use super::dates::{DELTA_MAX, age, http_date};
use super::directives::{FieldList, MaxStale, RequestDirectives, ResponseDirectives};
use super::targeted::{Selected, Targets};
use super::vary::Vary;
use crate::cache::freshness::{self, Windows};

const US: u64 = 1_000_000;

/// A heuristic freshness lifetime for responses without an explicit one
/// (RFC 9111 §4.2.2): a fraction of the time since `Last-Modified`, capped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Heuristic {
    /// The share of (`Date` − `Last-Modified`) a response stays fresh; the
    /// RFC's example is 10% (0.1).
    pub fraction_of_last_modified: f64,
    /// The longest heuristic lifetime.
    pub max: Micros,
}

impl Default for Heuristic {
    /// 10% of the age of the last modification (RFC 9111 §4.2.2), at most
    /// a day, as common caches do.
    fn default() -> Self {
        Heuristic {
            fraction_of_last_modified: 0.1,
            max: Micros(86_400 * US),
        }
    }
}

/// The rules a cache follows: which targeted fields it obeys and whether it
/// guesses a lifetime. Always a **shared** cache (`s-maxage`,
/// `proxy-revalidate` and `private` apply).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpPolicy {
    /// Targeted fields (RFC 9213) in order, and the device token.
    pub targets: Targets,
    /// Heuristic freshness; None (the default) stores only responses with an
    /// explicit lifetime or a validator. Off by default because ttlab
    /// measures what an origin's headers ask for, and the suite needs no
    /// default lifetime (its heuristic tests are optimal ones).
    pub heuristic: Option<Heuristic>,
    /// Statuses cacheable by default, i.e. heuristically cacheable (RFC 9110
    /// §15.1): stored without an explicit lifetime only with a heuristic or
    /// a validator. Other final statuses are stored only with an explicit
    /// lifetime (`max-age`, `s-maxage`, `Expires`) or `public`.
    pub heuristic_statuses: Vec<u16>,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            targets: Targets::default(),
            heuristic: None,
            heuristic_statuses: vec![200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501],
        }
    }
}

/// One request and the response to it, as a cache saw them.
#[derive(Clone, Copy, Debug)]
pub struct Exchange<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The response status.
    pub status: u16,
    /// The request's fields.
    pub request: &'a HeaderMap,
    /// The response's fields.
    pub response: &'a HeaderMap,
    /// When the request was sent upstream.
    pub request_time: SystemTime,
    /// When the response arrived.
    pub response_time: SystemTime,
}

/// Why a response is not stored (for logs and counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStored {
    /// The method is not GET or HEAD.
    Method,
    /// Not a final status a cache can reuse whole (1xx, 206, 304), or not
    /// understood under `must-understand`.
    Status,
    /// `no-store` (RFC 9111 §5.2.2.5).
    NoStore,
    /// Unqualified `private`: a shared cache must not store it (§5.2.2.7).
    Private,
    /// The request had `Authorization` and the response does not allow a
    /// shared cache to reuse it (§3.5).
    Authorization,
    /// The request had `Cache-Control: no-store` (§5.2.1.5).
    RequestNoStore,
    /// No lifetime, no stale window and no validator: it could never be
    /// served (no-cache without a validator lands here too).
    NoLifetime,
    /// `Vary: *`: it can never match a request (§4.1).
    VaryStar,
}

/// When a stored response needs validation with the origin before use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revalidate {
    /// While fresh it is served; once stale it may still be served stale
    /// within the windows, and (RFC 9111 §4.2.4) when the origin cannot be
    /// reached if the cache is configured to.
    Never,
    /// `must-revalidate`, `proxy-revalidate` or `s-maxage` (§5.2.2.2,
    /// §5.2.2.8, §5.2.2.10): once stale, it is served only within the
    /// origin's explicit `stale-while-revalidate` / `stale-if-error`
    /// windows (RFC 5861 lets them apply "regardless of other freshness
    /// information"), never on the cache's own initiative.
    WhenStale,
    /// Unqualified `no-cache` (§5.2.2.4): stored, never served without a
    /// successful validation. Its windows have ttl and swr 0.
    Always,
}

/// Where a freshness lifetime came from (§4.2.1 order), for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifetimeFrom {
    /// `s-maxage`.
    SMaxAge,
    /// `max-age`.
    MaxAge,
    /// `Expires` − `Date`.
    Expires,
    /// The heuristic.
    Heuristic,
    /// None: lifetime 0.
    None,
}

/// What a cache does with a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Stored, or why not (RFC 9111 §3 for a shared cache, §3.5 included).
    pub store: Result<(), NotStored>,
    /// ttl: the freshness lifetime (§4.2.1: `s-maxage` > `max-age` >
    /// `Expires` − `Date` > heuristic); swr and sie from RFC 5861's
    /// directives (0 when absent: the origin's word only).
    pub windows: Windows,
    /// The corrected initial age at `response_time` (§4.2.3), from `Age`,
    /// `Date` and the request and response times. The entry is fresh while
    /// initial age + time since `response_time` < ttl.
    pub initial_age: Micros,
    /// When it must be revalidated.
    pub revalidate: Revalidate,
    /// Its `Vary`.
    pub vary: Vary,
    /// Whether it has a validator (`ETag` or `Last-Modified`).
    pub validators: bool,
    /// Fields to leave out of the stored copy: those named by a qualified
    /// `private` or `no-cache` (§5.2.2.4, §5.2.2.7).
    pub strip: Vec<HeaderName>,
    /// Which field the directives came from (None: `Cache-Control`).
    pub field: Option<HeaderName>,
    /// Where the lifetime came from.
    pub lifetime_from: LifetimeFrom,
}

fn secs(s: u64) -> Micros {
    Micros(s.min(DELTA_MAX) * US)
}

fn micros(d: Duration) -> Micros {
    Micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Judge a response for a shared cache.
pub fn evaluate(policy: &HttpPolicy, ex: &Exchange) -> Verdict {
    let Selected {
        field,
        directives: d,
    } = policy.targets.select(ex.response);
    let targeted = field.is_some();
    let vary = Vary::parse(ex.response);
    let validators =
        ex.response.contains_key(header::ETAG) || ex.response.contains_key(header::LAST_MODIFIED);

    let date = ex
        .response
        .get(header::DATE)
        .and_then(|v| http_date(v.as_bytes()));
    let initial_age = initial_age(ex, date);

    // §4.2.1, for a shared cache; `Expires` is ignored when a targeted field
    // applies (RFC 9213 §2.2).
    let (mut ttl, lifetime_from) = if let Some(s) = d.s_maxage {
        (secs(s), LifetimeFrom::SMaxAge)
    } else if let Some(s) = d.max_age {
        (secs(s), LifetimeFrom::MaxAge)
    } else if let Some(expires) = ex.response.get(header::EXPIRES).filter(|_| !targeted) {
        // Invalid `Expires` (`0`) means already expired (RFC 9111 §5.3);
        // no `Date` means the time the response arrived (§4.2.1).
        let lifetime = http_date(expires.as_bytes()).map_or(Micros::ZERO, |e| {
            micros(
                e.duration_since(date.unwrap_or(ex.response_time))
                    .unwrap_or_default(),
            )
        });
        (lifetime.min(secs(DELTA_MAX)), LifetimeFrom::Expires)
    } else {
        let heuristic_ok = d.public || policy.heuristic_statuses.contains(&ex.status);
        match (policy.heuristic, heuristic_ok) {
            (Some(h), true) => match heuristic(&h, ex.response, date, ex.response_time) {
                Some(l) => (l, LifetimeFrom::Heuristic),
                None => (Micros::ZERO, LifetimeFrom::None),
            },
            _ => (Micros::ZERO, LifetimeFrom::None),
        }
    };
    let mut swr = d.stale_while_revalidate.map_or(Micros::ZERO, secs);
    let sie = d.stale_if_error.map_or(Micros::ZERO, secs);

    let revalidate = if d.no_cache.is_all() {
        ttl = Micros::ZERO;
        swr = Micros::ZERO;
        Revalidate::Always
    } else if d.must_revalidate || d.proxy_revalidate || d.s_maxage.is_some() {
        Revalidate::WhenStale
    } else {
        Revalidate::Never
    };

    let mut strip = Vec::new();
    for list in [&d.private, &d.no_cache] {
        if let FieldList::Fields(f) = list {
            for n in f {
                if !strip.contains(n) {
                    strip.push(n.clone());
                }
            }
        }
    }

    let windows = Windows { ttl, swr, sie };
    let explicit = d.s_maxage.is_some()
        || d.max_age.is_some()
        || (!targeted && ex.response.contains_key(header::EXPIRES));
    let store = storable(policy, ex, &d, &vary, explicit, validators, windows);
    Verdict {
        store,
        windows,
        initial_age,
        revalidate,
        vary,
        validators,
        strip,
        field,
        lifetime_from,
    }
}

/// RFC 9111 §3 for a shared cache.
fn storable(
    policy: &HttpPolicy,
    ex: &Exchange,
    d: &ResponseDirectives,
    vary: &Vary,
    explicit: bool,
    validators: bool,
    w: Windows,
) -> Result<(), NotStored> {
    if !matches!(*ex.method, Method::GET | Method::HEAD) {
        return Err(NotStored::Method);
    }
    // Final, and reusable whole: no partial content (we do not combine
    // ranges) and no 304 (it validates a stored response instead).
    if ex.status < 200 || ex.status > 599 || ex.status == 206 || ex.status == 304 {
        return Err(NotStored::Status);
    }
    // must-understand (§5.2.2.3): store only a status whose caching rules we
    // know, and then ignore no-store. We know the heuristically cacheable
    // ones and the common rest of 2xx–5xx the RFCs define.
    if d.must_understand {
        if !understood(ex.status) {
            return Err(NotStored::Status);
        }
    } else if d.no_store {
        return Err(NotStored::NoStore);
    }
    if d.private.is_all() {
        return Err(NotStored::Private);
    }
    if RequestDirectives::of_request(ex.request).no_store {
        return Err(NotStored::RequestNoStore);
    }
    if ex.request.contains_key(header::AUTHORIZATION)
        && !(d.public || d.must_revalidate || d.s_maxage.is_some())
    {
        return Err(NotStored::Authorization);
    }
    if *vary == Vary::Star {
        return Err(NotStored::VaryStar);
    }
    let cacheable_kind = explicit
        || d.public
        || !matches!(d.private, FieldList::Absent)
        || policy.heuristic_statuses.contains(&ex.status);
    let servable = freshness::lifetime(w) > Micros::ZERO || validators;
    if !cacheable_kind || !servable {
        return Err(NotStored::NoLifetime);
    }
    Ok(())
}

/// Statuses whose semantics (and so caching) RFC 9110 defines.
fn understood(status: u16) -> bool {
    matches!(
        status,
        200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418 | 421..=426 | 428 | 429 | 431 | 451
            | 500..=508 | 510 | 511
    )
}

/// §4.2.2: (Date − Last-Modified) × fraction, capped; None without a valid
/// `Last-Modified` before `Date`.
fn heuristic(
    h: &Heuristic,
    response: &HeaderMap,
    date: Option<SystemTime>,
    response_time: SystemTime,
) -> Option<Micros> {
    let lm = http_date(response.get(header::LAST_MODIFIED)?.as_bytes())?;
    let since = date.unwrap_or(response_time).duration_since(lm).ok()?;
    let fraction = h.fraction_of_last_modified.clamp(0.0, 1.0);
    let l = (since.as_micros() as f64 * fraction) as u64;
    Some(Micros(l).min(h.max))
}

/// §4.2.3: `corrected_initial_age = max(apparent_age, age_value +
/// response_delay)`, `apparent_age = max(0, response_time − date_value)`.
///
/// `Date` has a resolution of one second, so the apparent age compares it
/// with the response time cut to the second: a response dated this second
/// has apparent age 0, not the fraction of a second that has passed since
/// the second began (which would age every fresh answer by up to a second).
fn initial_age(ex: &Exchange, date: Option<SystemTime>) -> Micros {
    let apparent = date.map_or(Micros::ZERO, |d| {
        let received = ex
            .response_time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |t| t.as_secs());
        let dated = d
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |t| t.as_secs());
        secs(received.saturating_sub(dated))
    });
    let delay = micros(
        ex.response_time
            .duration_since(ex.request_time)
            .unwrap_or_default(),
    );
    let corrected = age(ex.response).map_or(delay, |a| secs(a).saturating_add(delay));
    apparent.max(corrected)
}

/// The windows a request allows for an entry with windows `w` (RFC 9111
/// §5.2.1); the caller compares the entry's current age with them as with
/// any windows.
///
/// - `no-cache` (or `Pragma: no-cache`): ttl and swr 0 — never served
///   without validation; stale-if-error stays (a failed validation may
///   still be answered stale, §4.2.4).
/// - `max-age=N`: fresh only while age ≤ N; without `max-stale` the client
///   wants nothing stale, so no stale-while-revalidate.
/// - `min-fresh=M`: fresh only while age ≤ ttl − M.
/// - `max-stale`: lifts the `max-age` ban on stale-while-revalidate; it
///   never widens the origin's windows (a shared cache serving beyond what
///   the origin allowed would serve it to every later client too).
///
/// Windows are only ever narrowed, and their ends (ttl + swr, ttl + sie)
/// never move later.
pub fn constrained(w: Windows, r: &RequestDirectives) -> Windows {
    let swr_end = w.ttl.saturating_add(w.swr);
    let sie_end = w.ttl.saturating_add(w.sie);
    let mut ttl = w.ttl;
    let mut swr_allowed = true;
    if r.no_cache {
        ttl = Micros::ZERO;
        swr_allowed = false;
    }
    if let Some(n) = r.max_age {
        // age ≤ N ⇔ age < N s + 1 µs.
        ttl = ttl.min(secs(n).saturating_add(Micros(1)));
        if r.max_stale.is_none() {
            swr_allowed = false;
        }
    }
    if let Some(m) = r.min_fresh
        && m > 0
    {
        let m = secs(m);
        ttl = if w.ttl >= m {
            ttl.min(Micros(w.ttl.0 - m.0 + 1))
        } else {
            Micros::ZERO
        };
    }
    if matches!(r.max_stale, Some(MaxStale::Secs(_) | MaxStale::Any)) && !r.no_cache {
        swr_allowed = true;
    }
    Windows {
        ttl,
        swr: if swr_allowed {
            swr_end.saturating_sub(ttl)
        } else {
            Micros::ZERO
        },
        sie: sie_end.saturating_sub(ttl),
    }
}
