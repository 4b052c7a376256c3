//! The CDN and edge layers, and the security rule: nothing the key does not
//! include may change the body.

mod common;

use common::{fetch, lab, scenario};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ttlab_scenarios::Micros;
use ttlab_scenarios::token;

const ALL: &str = r#"
[[architectures]]
name = "ssr-cdn-shared"

[[architectures]]
name = "ssr-cdn-user"

[[architectures]]
name = "ssr-origin-variant"

[[architectures]]
name = "ssr-edge"

[[architectures]]
name = "ssr-nocache"
"#;

/// Two visitors of the scenario whose home pages differ (other A/B arm).
fn two_arms(lab: &common::Lab) -> (String, String) {
    let w = &lab.world;
    let arm = |v: usize| w.variants_of(v as u32, Micros::ZERO).get(0);
    let a = (0..50).find(|v| arm(*v) == Some(0)).unwrap();
    let b = (0..50).find(|v| arm(*v) == Some(1)).unwrap();
    (lab.uid(a), lab.uid(b))
}

#[tokio::test]
async fn cdn_shared_serves_one_visitors_variant_to_another() {
    let lab = lab(&scenario("", ALL), 0).await;
    let (a, b) = two_arms(&lab);
    let first = lab.get("/", Some(&a)).await;
    assert_eq!(first.header("x-cache"), "cdn=MISS");
    let second = lab.get("/", Some(&b)).await;
    assert_eq!(second.header("x-cache"), "cdn=HIT");
    assert_eq!(second.body, first.body, "b gets a's page");
    assert_eq!(
        second.header("x-ttlab-variants"),
        "0_0",
        "built from a's variants"
    );
    assert!(
        second.headers.get("set-cookie").is_none(),
        "a stored copy never sets a's cookies for b"
    );
    // Per-visitor pages are private: the CDN does not store them.
    let acc_a = lab.get("/account", Some(&a)).await;
    let acc_b = lab.get("/account", Some(&b)).await;
    assert_eq!(acc_b.header("x-cache"), "cdn=BYPASS");
    assert_ne!(
        token::parse(&acc_a.body).visitors,
        token::parse(&acc_b.body).visitors
    );
    lab.stop().await;
}

#[tokio::test]
async fn cdn_user_keys_by_visitor_and_the_edge_by_variants() {
    let user = lab(&scenario("", ALL), 1).await;
    let (a, b) = two_arms(&user);
    assert_eq!(user.get("/", Some(&a)).await.header("x-cache"), "cdn=MISS");
    assert_eq!(user.get("/", Some(&b)).await.header("x-cache"), "cdn=MISS");
    let again = user.get("/", Some(&a)).await;
    assert_eq!(again.header("x-cache"), "cdn=HIT");
    assert_eq!(again.header("x-ttlab-variants"), "0_0");
    assert_eq!(
        user.get("/", None).await.header("x-cache"),
        "cdn=BYPASS",
        "no visitor cookie: nothing to key on"
    );
    user.stop().await;

    let edge = lab(&scenario("", ALL), 3).await;
    let (a, b) = two_arms(&edge);
    let first = edge.get("/", Some(&a)).await;
    assert_eq!(first.header("x-cache"), "edge=MISS");
    assert_eq!(
        edge.get("/", Some(&b)).await.header("x-cache"),
        "edge=MISS",
        "another arm, another key"
    );
    // Another visitor in a's arm shares a's entry.
    let w = &edge.world;
    let same_arm = (0..50)
        .map(|v| edge.uid(v))
        .find(|u| {
            *u != a
                && w.variants_of(w.visitor_index(u).unwrap(), Micros::ZERO)
                    .get(0)
                    == Some(0)
        })
        .unwrap();
    let shared = edge.get("/", Some(&same_arm)).await;
    assert_eq!(shared.header("x-cache"), "edge=HIT");
    assert_eq!(shared.body, first.body);
    assert!(
        edge.stack
            .origin
            .upstreams()
            .counters
            .personalize_calls
            .get()
            == 0,
        "behind an edge the origin never calls Personalize"
    );
    assert_eq!(
        edge.personalize_calls(),
        3,
        "the edge calls Personalize on every request"
    );
    edge.stop().await;
}

#[tokio::test]
async fn nocache_renders_every_request() {
    let lab = lab(&scenario("", ALL), 4).await;
    let uid = lab.uid(0);
    for _ in 0..5 {
        let p = lab.get("/", Some(&uid)).await;
        assert_eq!(p.status, 200);
        assert!(
            p.headers.get("x-cache").is_none(),
            "no caching layer, no x-cache"
        );
    }
    assert_eq!(lab.stack.origin.counters.renders.get(), 5);
    assert!(lab.stack.cache_counters().is_none());
    lab.stop().await;
}

/// Random headers, cookies and query parameters that no key includes.
fn noise(rng: &mut StdRng) -> (Vec<(String, String)>, String, String) {
    let names = [
        "accept-language",
        "x-forwarded-host",
        "x-cs-variant-uid",
        "x-ttlab-variants",
        "x-ttlab-content",
        "user-agent",
        "x-real-ip",
        "referer",
    ];
    let aliases = [
        "cs_personalize_0_1",
        "cs_personalize_0_0",
        "cs_personalize_a_0",
        "0_1",
        "a_0",
        "evil",
    ];
    let mut headers = Vec::new();
    for _ in 0..rng.random_range(1..4) {
        let name = names[rng.random_range(0..names.len())];
        let value = aliases[rng.random_range(0..aliases.len())];
        headers.push((name.to_owned(), value.to_owned()));
    }
    let cookie = format!(
        "cs-personalize-manifest=%7B%7D; theme={}; personalize_variants={}",
        rng.random_range(0..100),
        aliases[rng.random_range(0..aliases.len())]
    );
    let query = format!(
        "utm_source={}&personalize_variants={}&x={}",
        rng.random_range(0..1000),
        aliases[rng.random_range(0..aliases.len())],
        rng.random::<u32>()
    );
    (headers, cookie, query)
}

#[tokio::test]
async fn unkeyed_headers_cookies_and_params_never_change_the_body() {
    let toml = scenario("", ALL);
    let mut rng = StdRng::seed_from_u64(2026);
    // Every architecture that keys on what the page depends on. (ssr-cdn-shared
    // keys on the URL only; what it gets wrong is the point of running it.)
    for arch in [1, 2, 3, 4] {
        let lab = lab(&toml, arch).await;
        for v in [0, 1, 2] {
            let uid = lab.uid(v);
            for path in ["/", "/about", "/account"] {
                let baseline = lab.get(path, Some(&uid)).await;
                assert_eq!(baseline.status, 200);
                for _ in 0..15 {
                    let (headers, cookie, query) = noise(&mut rng);
                    let mut r = lab
                        .http
                        .get(format!("{}{path}?{query}", lab.stack.entry_url))
                        .header("cookie", format!("cs-personalize-user-uid={uid}; {cookie}"));
                    for (k, val) in &headers {
                        r = r.header(k.as_str(), val.as_str());
                    }
                    let page = fetch(r).await;
                    assert_eq!(page.status, 200);
                    assert_eq!(
                        page.body, baseline.body,
                        "{} changed the body of {path} for visitor {v} with {headers:?} {cookie} ?{query}",
                        lab.stack.arch
                    );
                    assert_eq!(
                        page.header("x-ttlab-variants"),
                        baseline.header("x-ttlab-variants")
                    );
                }
            }
        }
        lab.stop().await;
    }
}

#[tokio::test]
async fn client_sent_variant_headers_and_params_are_ignored() {
    let toml = scenario("", ALL);
    let lab = lab(&toml, 2).await;
    let (a, _) = two_arms(&lab);
    let honest = lab.get("/", Some(&a)).await;
    let forged = fetch(
        lab.request("/?personalize_variants=0_1", Some(&a))
            .header("x-cs-variant-uid", "cs_personalize_0_1")
            .header("x-ttlab-variants", "0_1"),
    )
    .await;
    assert_eq!(honest.header("x-ttlab-variants"), "0_0");
    assert_eq!(
        forged.header("x-ttlab-variants"),
        "0_0",
        "the visitor's own variant, whatever it asks for"
    );
    assert_eq!(forged.body, honest.body);
    lab.stop().await;
}
