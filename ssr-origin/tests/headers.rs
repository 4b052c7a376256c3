//! The cache headers each architecture sends downstream — to the visitor's
//! client, or to a cache the team puts in front of the stack: an answer that
//! sets cookies is `private`; a cacheable page built from the visitor's
//! cookie says `Vary: Cookie`; per-visitor pages and Personalize fallbacks
//! are `private`; a page the same for every visitor stays plainly `public`.
//! ttlab's own CDN keys on what its topology says, not on these headers, so
//! `ssr-cdn-shared` still serves one visitor's variant to another.

mod common;

use common::{Lab, lab, scenario};
use ttlab_scenarios::Micros;
use ttlab_test_support::mocks::Page;

const ARCHITECTURES: [&str; 5] = [
    "ssr-nocache",
    "ssr-cdn-shared",
    "ssr-cdn-user",
    "ssr-origin-variant",
    "ssr-edge",
];

fn directives(p: &Page, name: &str) -> Vec<String> {
    p.headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect()
}

fn has(p: &Page, name: &str, directive: &str) -> bool {
    directives(p, name).iter().any(|d| d == directive)
}

/// A shared cache may not store it.
fn private(p: &Page) -> bool {
    has(p, "cache-control", "private") || has(p, "cache-control", "no-store")
}

fn lab_of(arch: &str, extra: &str) -> String {
    scenario(extra, &format!("[[architectures]]\nname = \"{arch}\"\n"))
}

/// Visitor `v`'s uid, from the lab.
fn uid(lab: &Lab, v: usize) -> String {
    lab.uid(v)
}

#[tokio::test]
async fn every_architecture_tells_downstream_caches_the_truth() {
    for arch in ARCHITECTURES {
        let lab = lab(&lab_of(arch, ""), 0).await;
        let known = uid(&lab, 0);

        // A new visitor: the answer sets the SDK's cookies for it alone.
        let new = lab.get("/", None).await;
        assert_eq!(new.status, 200, "{arch}");
        assert!(
            new.headers.get("set-cookie").is_some(),
            "{arch}: a new visitor gets its cookies"
        );
        assert!(
            private(&new) && !has(&new, "cache-control", "public"),
            "{arch}: an answer that sets cookies is private, not public: {:?}",
            new.headers
        );

        // A known visitor on a personalized page, twice (the second from
        // the cache where the architecture has one): no cookies; the page
        // depends on the cookie, and says so.
        for n in 0..2 {
            let p = lab.get("/", Some(&known)).await;
            assert_eq!(p.status, 200, "{arch}");
            assert!(p.headers.get("set-cookie").is_none(), "{arch}");
            assert!(
                has(&p, "vary", "cookie") || private(&p),
                "{arch}, request {n}: a page built from the visitor's cookie says Vary: Cookie or private: {:?}",
                p.headers
            );
        }

        // A page whose entries have no variants is the same for everyone:
        // public, with nothing to vary on.
        let about = lab.get("/about", Some(&known)).await;
        assert!(
            has(&about, "cache-control", "public") && !has(&about, "vary", "cookie"),
            "{arch}: {:?}",
            about.headers
        );

        // A page that greets the visitor by identity is theirs alone.
        let account = lab.get("/account", Some(&known)).await;
        assert!(private(&account), "{arch}: {:?}", account.headers);
        lab.stop().await;
    }
}

#[tokio::test]
async fn personalize_fallbacks_are_private_everywhere() {
    // Personalize always fails: every architecture answers base content
    // for this request only.
    let faults = "[faults.personalize]\nerror_rate = 1.0\n";
    for arch in ARCHITECTURES {
        let lab = lab(&lab_of(arch, faults), 0).await;
        let p = lab.get("/", Some(&uid(&lab, 0))).await;
        assert_eq!(p.status, 200, "{arch}");
        assert_eq!(p.header("x-ttlab-fallback"), "personalize", "{arch}");
        assert!(private(&p), "{arch}: {:?}", p.headers);
        lab.stop().await;
    }
}

#[tokio::test]
async fn the_shared_cdn_still_serves_a_variant_to_the_wrong_visitor() {
    // The headers say Vary: Cookie, but ttlab's CDN for ssr-cdn-shared keys
    // on the URL alone (its topology): the mistake it exists to show.
    let lab = lab(&lab_of("ssr-cdn-shared", ""), 0).await;
    let w = &lab.world;
    let arm = |v: usize| w.variants_of(v as u32, Micros::ZERO).get(0);
    let a = (0..50).find(|v| arm(*v) == Some(0)).unwrap();
    let b = (0..50).find(|v| arm(*v) == Some(1)).unwrap();
    let first = lab.get("/", Some(&uid(&lab, a))).await;
    assert_eq!(first.header("x-cache"), "cdn=MISS");
    assert!(has(&first, "vary", "cookie"));
    let second = lab.get("/", Some(&uid(&lab, b))).await;
    assert_eq!(second.header("x-cache"), "cdn=HIT");
    assert_eq!(
        second.header("x-ttlab-variants"),
        "0_0",
        "a's variants, served to b"
    );
    assert!(
        has(&second, "vary", "cookie"),
        "what the CDN passes on still tells a cache in front to keep visitors apart"
    );
    lab.stop().await;
}

#[tokio::test]
async fn under_policy_http_the_origin_states_the_windows_and_the_layers_follow() {
    let http = "[cache]\npolicy = \"http\"\nttl = \"30s\"\nstale_while_revalidate = \"10s\"\nstale_if_error = \"1m\"\n";
    for arch in ["ssr-cdn-shared", "ssr-cdn-user", "ssr-edge"] {
        let lab = lab(&lab_of(arch, http), 0).await;
        let known = uid(&lab, 0);
        let first = lab.get("/about", Some(&known)).await;
        assert_eq!(
            directives(&first, "cache-control"),
            [
                "public",
                "s-maxage=30",
                "stale-while-revalidate=10",
                "stale-if-error=60"
            ],
            "{arch}: {:?}",
            first.headers
        );
        assert_eq!(first.header("surrogate-key"), "footer", "{arch}");
        let etag = first.header("etag").to_owned();
        assert!(etag.starts_with('"') && etag.len() > 2, "{arch}: {etag}");
        let second = lab.get("/about", Some(&known)).await;
        assert!(
            second.header("x-cache").ends_with("=HIT"),
            "{arch}: the layer in front follows the origin's lifetime: {:?}",
            second.headers
        );
        assert_eq!(
            second.header("etag"),
            etag,
            "{arch}: the same page, the same tag"
        );
        // Answers for one visitor stay theirs: not public, never stored.
        let account = lab.get("/account", Some(&known)).await;
        assert!(private(&account), "{arch}: {:?}", account.headers);
        let again = lab.get("/account", Some(&known)).await;
        assert!(!again.header("x-cache").contains("HIT"), "{arch}");
        lab.stop().await;
    }
}

#[tokio::test]
async fn under_policy_http_the_cdn_revalidates_with_the_etag() {
    let http = "[cache]\npolicy = \"http\"\nttl = \"30s\"\n";
    let lab = lab(&lab_of("ssr-cdn-shared", http), 0).await;
    let known = uid(&lab, 0);
    let first = lab.get("/about", Some(&known)).await;
    assert_eq!(first.header("x-cache"), "cdn=MISS");
    let etag = first.header("etag").to_owned();
    // The origin answers a matching If-None-Match with a 304 and no body.
    let origin = &lab.stack.origin_urls[0];
    let r = lab
        .http
        .get(format!("{origin}/about"))
        .header("cookie", format!("cs-personalize-user-uid={known}"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.text().await.unwrap(), "");
    // Past its lifetime the CDN fills again, conditionally: the 304
    // freshens the page it holds, served whole and stored again.
    lab.clock.advance(Micros::from_secs(31));
    let again = lab.get("/about", Some(&known)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("x-cache"), "cdn=MISS");
    assert_eq!(again.body, first.body, "the page held, freshened");
    assert_eq!(again.header("etag"), etag);
    let proxy = lab.stack.proxy.as_ref().expect("a CDN");
    assert_eq!(proxy.revalidated.get(), 1, "the fill was a 304");
    let hit = lab.get("/about", Some(&known)).await;
    assert_eq!(hit.header("x-cache"), "cdn=HIT", "{:?}", hit.headers);
    assert_eq!(hit.body, first.body);
    lab.stop().await;
}
