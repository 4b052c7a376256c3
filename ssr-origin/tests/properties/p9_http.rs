//! Property 9, caching that follows HTTP: the standalone cache
//! (`http_proxy`, what `ttlab serve cdn` and `policy = "http"` run) in front
//! of a real upstream on loopback whose answers carry generated caching
//! headers, on a virtual clock. Operations: GETs with or without a varying
//! request field, what the upstream answers next for a path (lifetimes,
//! stale windows, `no-store`, `private`, `no-cache`, `must-revalidate`,
//! `Vary`, an `ETag`, a 500), clock advances and POSTs. Every answer the
//! cache gives from its store is judged by the rules, written here as simply
//! as possible from the directives themselves:
//!
//! - **freshness**: a `HIT` is younger than its lifetime, a `STALE` younger
//!   than its lifetime plus the longer stale window the answer allowed;
//! - **`Vary` never crosses**: an answer that varies on `X-V` is served only
//!   to a request with the `X-V` it was fetched for (absent ≠ any value);
//! - **never stored**: no answer with `no-store`, `private` or `Vary: *` is
//!   ever served from the store;
//! - **invalidation holds**: after a POST to a path succeeds, nothing fetched
//!   before it is served for that path.
//!
//! The upstream stamps each answer with its fetch number (`x-fetch`); a 304
//! stamps the freshened entry anew, so the judge always knows which exchange
//! an answer's headers came from, and when.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ttlab_scenarios::{Clock, ManualClock, Micros};
use ttlab_ssr_origin::cache::Bounds;
use ttlab_ssr_origin::http_proxy::{HttpProxy, HttpProxyOptions};

/// What the upstream answers for one path: the directives as flags, as
/// the headers carry them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Copy, Debug, Default)]
struct Spec {
    max_age: Option<u8>,
    s_maxage: Option<u8>,
    swr: Option<u8>,
    sie: Option<u8>,
    no_store: bool,
    private: bool,
    no_cache: bool,
    must_revalidate: bool,
    vary: VarySpec,
    etag: bool,
    fail: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum VarySpec {
    #[default]
    None,
    Field,
    Star,
}

impl Spec {
    fn cache_control(&self) -> String {
        let mut d = Vec::new();
        if let Some(s) = self.max_age {
            d.push(format!("max-age={s}"));
        }
        if let Some(s) = self.s_maxage {
            d.push(format!("s-maxage={s}"));
        }
        if let Some(s) = self.swr {
            d.push(format!("stale-while-revalidate={s}"));
        }
        if let Some(s) = self.sie {
            d.push(format!("stale-if-error={s}"));
        }
        for (on, name) in [
            (self.no_store, "no-store"),
            (self.private, "private"),
            (self.no_cache, "no-cache"),
            (self.must_revalidate, "must-revalidate"),
        ] {
            if on {
                d.push(name.to_owned());
            }
        }
        d.join(", ")
    }

    /// The lifetime the directives give a shared cache, in seconds.
    fn ttl(&self) -> u64 {
        if self.no_cache {
            return 0;
        }
        u64::from(self.s_maxage.or(self.max_age).unwrap_or(0))
    }

    /// How long past its lifetime the answer may be served at all.
    fn stale_allowed(&self) -> u64 {
        u64::from(self.swr.unwrap_or(0).max(self.sie.unwrap_or(0)))
    }

    fn never_stored(&self) -> bool {
        self.no_store || self.private || self.vary == VarySpec::Star
    }
}

#[derive(Clone, Debug)]
enum Op {
    Get { path: u8, xv: Option<u8> },
    Answer { path: u8, spec: Spec },
    Advance(u8),
    Post { path: u8 },
}

/// One exchange the upstream had.
#[derive(Clone, Debug)]
struct Fetch {
    path: u8,
    at: Micros,
    spec: Spec,
    xv: Option<String>,
    op: usize,
}

#[derive(Default)]
struct Upstream {
    specs: [Spec; 3],
    versions: [u32; 3],
    fetches: Vec<Fetch>,
    op: usize,
}

type Shared = Arc<(Mutex<Upstream>, Arc<ManualClock>)>;

async fn upstream(State(s): State<Shared>, req: Request) -> Response {
    let (state, clock) = &*s;
    let path: u8 = req
        .uri()
        .path()
        .trim_start_matches("/p")
        .parse()
        .unwrap_or(0)
        .min(2);
    if req.method() == Method::POST {
        return (StatusCode::OK, "posted").into_response();
    }
    let mut u = state.lock().unwrap();
    let spec = u.specs[path as usize];
    let version = u.versions[path as usize];
    let xv = req
        .headers()
        .get("x-v")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let etag = format!("\"v{version}\"");
    let matches = req
        .headers()
        .get("if-none-match")
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let n = u.fetches.len();
    let op = u.op;
    u.fetches.push(Fetch {
        path,
        at: clock.now(),
        spec,
        xv: xv.clone(),
        op,
    });
    drop(u);
    let status = if spec.fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if spec.etag && matches {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut resp = if status == StatusCode::NOT_MODIFIED {
        status.into_response()
    } else {
        (status, format!("page {path} fetch {n}")).into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        "cache-control",
        HeaderValue::from_str(&spec.cache_control()).unwrap(),
    );
    h.insert("x-fetch", HeaderValue::from(n));
    h.insert(
        "x-xv",
        HeaderValue::from_str(xv.as_deref().unwrap_or("-")).unwrap(),
    );
    match spec.vary {
        VarySpec::None => {}
        VarySpec::Field => {
            h.insert("vary", HeaderValue::from_static("x-v"));
        }
        VarySpec::Star => {
            h.insert("vary", HeaderValue::from_static("*"));
        }
    }
    if spec.etag {
        h.insert("etag", HeaderValue::from_str(&etag).unwrap());
    }
    resp
}

fn spec() -> impl Strategy<Value = Spec> {
    let secs = || prop::option::of(0u8..6);
    (
        (secs(), secs(), secs(), secs()),
        (
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.2),
        ),
        prop_oneof![
            6 => Just(VarySpec::None),
            3 => Just(VarySpec::Field),
            1 => Just(VarySpec::Star)
        ],
        any::<bool>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(
                (max_age, s_maxage, swr, sie),
                (no_store, private, no_cache, mr),
                vary,
                etag,
                fail,
            )| {
                Spec {
                    max_age,
                    s_maxage,
                    swr,
                    sie,
                    no_store,
                    private,
                    no_cache,
                    must_revalidate: mr,
                    vary,
                    etag,
                    fail,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..3, prop::option::of(0u8..2)).prop_map(|(path, xv)| Op::Get { path, xv }),
        3 => (0u8..3, spec()).prop_map(|(path, spec)| Op::Answer { path, spec }),
        3 => (1u8..4).prop_map(Op::Advance),
        1 => (0u8..3).prop_map(|path| Op::Post { path }),
    ]
}

/// One served answer, for the judge.
struct Served {
    op: usize,
    path: u8,
    xv: Option<String>,
    cache: String,
    fetch: usize,
    at: Micros,
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = Arc::new(ManualClock::at(Micros::from_secs(10_000)));
        let shared: Shared = Arc::new((Mutex::new(Upstream::default()), clock.clone()));
        shared.0.lock().unwrap().specs = [Spec {
            max_age: Some(5),
            ..Spec::default()
        }; 3];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(upstream).with_state(shared.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut options = HttpProxyOptions::new(&origin);
        options.bounds = Bounds::or_defaults(Some(64), None);
        options.upstream_timeout = Duration::from_secs(5);
        let proxy = Arc::new(HttpProxy::new(options, clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = ttlab_ssr_origin::http_proxy::serve(&proxy, listener, async move {
            let _ = stop_rx.await;
        });
        let client = reqwest::Client::new();
        let mut served = Vec::new();
        let mut posts: Vec<(usize, u8)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            shared.0.lock().unwrap().op = i;
            match op {
                Op::Get { path, xv } => {
                    let mut r = client.get(format!("{front}/p{path}"));
                    let xv = xv.map(|v| format!("v{v}"));
                    if let Some(v) = &xv {
                        r = r.header("x-v", v);
                    }
                    let resp = r.send().await.expect("the cache answers");
                    let h = resp.headers();
                    let header = |n: &str| {
                        h.get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    if let Ok(fetch) = header("x-fetch").parse() {
                        served.push(Served {
                            op: i,
                            path: *path,
                            xv,
                            cache: header("x-cache"),
                            fetch,
                            at: clock.now(),
                        });
                    }
                }
                Op::Answer { path, spec } => {
                    let mut u = shared.0.lock().unwrap();
                    u.specs[*path as usize] = *spec;
                    u.versions[*path as usize] += 1;
                }
                Op::Advance(s) => clock.advance(Micros::from_secs(u64::from(*s))),
                Op::Post { path } => {
                    let resp = client
                        .post(format!("{front}/p{path}"))
                        .body("x")
                        .send()
                        .await
                        .expect("the cache passes POST on");
                    prop_assert_eq!(resp.status().as_u16(), 200);
                    posts.push((i, *path));
                }
            }
            // Background refreshes finish before time moves on.
            ttlab_test_support::wait::wait_until_async(
                Duration::from_secs(10),
                "the cache's fills end",
                async || proxy.layer.fills_in_flight() == 0,
            )
            .await;
        }
        let fetches = shared.0.lock().unwrap().fetches.clone();
        let _ = stop_tx.send(());
        let _ = serving.task.await;
        server.abort();
        judge(&served, &fetches, &posts)
    })
}

fn judge(served: &[Served], fetches: &[Fetch], posts: &[(usize, u8)]) -> Result<(), TestCaseError> {
    for s in served {
        let hit = s.cache == "cdn=HIT";
        let stale = s.cache == "cdn=STALE";
        if !hit && !stale {
            continue;
        }
        let f = &fetches[s.fetch];
        prop_assert_eq!(f.path, s.path, "answer for another path");
        prop_assert!(
            !f.spec.never_stored(),
            "op {}: {} served an answer that says {:?} (fetch {})",
            s.op,
            s.cache,
            f.spec.cache_control(),
            s.fetch
        );
        let age = s.at.saturating_sub(f.at);
        let ttl = Micros::from_secs(f.spec.ttl());
        if hit {
            prop_assert!(
                age < ttl,
                "op {}: HIT at age {} of an answer with lifetime {} ({:?})",
                s.op,
                age,
                ttl,
                f.spec.cache_control()
            );
        } else {
            let allowed = ttl.saturating_add(Micros::from_secs(f.spec.stale_allowed()));
            prop_assert!(
                age < allowed,
                "op {}: STALE at age {} of an answer allowed {} ({:?})",
                s.op,
                age,
                allowed,
                f.spec.cache_control()
            );
        }
        if f.spec.vary == VarySpec::Field {
            prop_assert_eq!(
                &f.xv,
                &s.xv,
                "op {}: an answer for X-V {:?} served to X-V {:?}",
                s.op,
                &f.xv,
                &s.xv
            );
        }
        for &(p, path) in posts {
            prop_assert!(
                !(path == s.path && f.op < p && p < s.op),
                "op {}: served fetch {} of op {} for /p{} after the POST of op {}",
                s.op,
                s.fetch,
                f.op,
                path,
                p
            );
        }
    }
    Ok(())
}

#[test]
fn http_answers_stay_within_their_headers() {
    crate::check_scaled(file!(), 4, 32, prop::collection::vec(op(), 1..40), |ops| {
        run(&ops)
    });
}

/// The judge is not vacuous: an answer served past its lifetime, across
/// its `Vary`, after `no-store`, or after an invalidating POST is caught.
#[test]
fn the_judge_catches_each_broken_rule() {
    let fetch = |spec: Spec, xv: Option<&str>, op: usize| Fetch {
        path: 0,
        at: Micros::from_secs(100),
        spec,
        xv: xv.map(str::to_owned),
        op,
    };
    let served = |cache: &str, xv: Option<&str>, at: u64, op: usize| Served {
        op,
        path: 0,
        xv: xv.map(str::to_owned),
        cache: cache.to_owned(),
        fetch: 0,
        at: Micros::from_secs(at),
    };
    let five = Spec {
        max_age: Some(5),
        ..Spec::default()
    };
    // Within the rules: passes.
    assert!(
        judge(
            &[served("cdn=HIT", None, 104, 1)],
            &[fetch(five, None, 0)],
            &[]
        )
        .is_ok()
    );
    // Past its lifetime.
    assert!(
        judge(
            &[served("cdn=HIT", None, 105, 1)],
            &[fetch(five, None, 0)],
            &[]
        )
        .is_err()
    );
    // Across Vary.
    let varies = Spec {
        vary: VarySpec::Field,
        ..five
    };
    assert!(
        judge(
            &[served("cdn=HIT", Some("v1"), 101, 1)],
            &[fetch(varies, Some("v0"), 0)],
            &[]
        )
        .is_err()
    );
    // no-store served.
    let no_store = Spec {
        no_store: true,
        ..five
    };
    assert!(
        judge(
            &[served("cdn=HIT", None, 101, 1)],
            &[fetch(no_store, None, 0)],
            &[]
        )
        .is_err()
    );
    // After an invalidating POST.
    assert!(
        judge(
            &[served("cdn=HIT", None, 101, 3)],
            &[fetch(five, None, 0)],
            &[(2, 0)]
        )
        .is_err()
    );
}
