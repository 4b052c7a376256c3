//! The VCL generator: every shipped scenario × architecture with a CDN or
//! edge cache compiles in the installed Varnish (`varnishd -C`), under
//! either policy, coalescing on and off, and each rule ttlab's layers keep
//! is written into the VCL as `docs/cdn.md` says.

use ttlab_scenarios::model::{ArchitectureConfig, CachePolicy, KeyScope};
use ttlab_scenarios::shipped::SHIPPED;
use ttlab_scenarios::{Micros, parse_str};
use ttlab_ssr_origin::varnish::binary::TempDir;
use ttlab_ssr_origin::varnish::{Backend, VclError, VclSpec, compile, generate};
use ttlab_test_support::ScenarioToml;

fn origin() -> Vec<Backend> {
    vec![Backend {
        host: "127.0.0.1".to_owned(),
        port: 8080,
    }]
}

fn vcl_of(arch: &ArchitectureConfig) -> String {
    generate(&VclSpec {
        scenario: "test",
        arch,
        origins: &origin(),
        variant_param: "personalize_variants",
    })
    .expect("a VCL")
}

/// Every shipped scenario's architectures, as written and with the other
/// policy, coalescing and key scope, so both sides of each switch compile.
fn every_variation() -> Vec<(String, ArchitectureConfig)> {
    let mut out = Vec::new();
    for s in SHIPPED {
        let scenario = parse_str(s.path, s.source).expect("a shipped scenario parses");
        for a in &scenario.architectures {
            if a.topology().front.is_none() {
                continue;
            }
            out.push((format!("{} {}", s.name, a.arch), a.clone()));
            let mut other = a.clone();
            other.cache.policy = match a.cache.policy {
                CachePolicy::Scenario => CachePolicy::Http,
                CachePolicy::Http => CachePolicy::Scenario,
            };
            other.cache.coalesce = !a.cache.coalesce;
            other.cache.key_scope = match a.cache.key_scope {
                KeyScope::All => KeyScope::Page,
                KeyScope::Page => KeyScope::All,
            };
            out.push((format!("{} {} (varied)", s.name, a.arch), other));
        }
    }
    out
}

#[test]
fn every_shipped_scenario_and_architecture_compiles_in_varnish() {
    let dir = TempDir::new("vcl-test").expect("a temporary folder");
    let mut compiled = 0;
    for (what, arch) in every_variation() {
        let text = vcl_of(&arch);
        if let Err(e) = compile(&text, dir.path()) {
            panic!("{what}: {e}\n--- the VCL ---\n{text}");
        }
        compiled += 1;
    }
    // Three architectures with a front cache over eight scenarios: the
    // loop must have compiled something of each kind.
    assert!(compiled >= 20, "compiled only {compiled} VCLs");
}

#[test]
fn a_vcl_varnish_refuses_shows_its_error_and_keeps_the_file() {
    let dir = TempDir::new("vcl-bad").expect("a temporary folder");
    let err = compile(
        "vcl 4.1;\nsub vcl_recv { set req.nonsense = 1; }\n",
        dir.path(),
    )
    .expect_err("Varnish refuses it");
    let text = err.to_string();
    assert!(text.contains("ttlab.vcl"), "names the file: {text}");
    assert!(
        text.contains("nonsense"),
        "shows Varnish's own error: {text}"
    );
    assert!(dir.path().join("ttlab.vcl").is_file());
}

fn arch(name: &str, cache: &str) -> ArchitectureConfig {
    let text = ScenarioToml::new("vcl", 1, "5s")
        .traffic(10, 2)
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .page("/", &["hero"])
        .table("cache", cache)
        .archs(&[name])
        .build();
    parse_str("vcl.toml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .architectures[0]
        .clone()
}

#[test]
fn the_key_strategy_is_vcl_hash() {
    let shared = vcl_of(&arch("ssr-cdn-shared", ""));
    let hash = section(&shared, "sub vcl_hash");
    assert!(hash.contains("hash_data(req.url);"));
    assert!(!hash.contains("cookie.get"), "URL only: {hash}");
    assert!(!hash.contains("req.http.host"), "never the host: {hash}");

    let user = vcl_of(&arch("ssr-cdn-user", ""));
    let hash = section(&user, "sub vcl_hash");
    assert!(hash.contains("hash_data(req.url);"));
    assert!(hash.contains("hash_data(cookie.get(\"cs-personalize-user-uid\"));"));
    // No visitor: nothing to share it with.
    assert!(
        section(&user, "sub vcl_recv").contains("cookie.get(\"cs-personalize-user-uid\") == \"\"")
    );

    let edge = vcl_of(&arch("ssr-edge", ""));
    let hash = section(&edge, "sub vcl_hash");
    assert!(
        hash.contains("hash_data(req.url);"),
        "all variants are in the URL: {hash}"
    );
    assert!(section(&edge, "sub vcl_recv").contains("[?&]personalize_variants="));

    let page = vcl_of(&arch("ssr-edge", "key_scope = \"page\""));
    let hash = section(&page, "sub vcl_hash");
    assert!(hash.contains("hash_data(req.http.X-Ttlab-Variant-Key);"));
    assert!(
        hash.contains("personalize_variants=[^&]*"),
        "the param is left out: {hash}"
    );
}

#[test]
fn cookies_never_turn_caching_off() {
    for a in ["ssr-cdn-shared", "ssr-cdn-user", "ssr-edge"] {
        let v = vcl_of(&arch(a, ""));
        let recv = section(&v, "sub vcl_recv");
        assert!(
            recv.contains("cookie.keep(\"cs-personalize-user-uid\");"),
            "{a}"
        );
        assert!(
            recv.trim_end().ends_with("return (hash);\n}")
                || recv.contains("    return (hash);\n}"),
            "{a}: vcl_recv ends in its own return: {recv}"
        );
        let resp = section(&v, "sub vcl_backend_response");
        assert!(resp.contains("unset beresp.http.Vary;"), "{a}");
        assert!(
            resp.contains("return (deliver);"),
            "{a}: never falls into the built-in"
        );
        assert!(
            section(&v, "sub vcl_deliver")
                .contains("set resp.http.Vary = resp.http.X-Ttlab-Vcl-Vary;")
        );
    }
}

#[test]
fn the_windows_come_from_the_scenario_or_the_headers() {
    let v = vcl_of(&arch(
        "ssr-cdn-user",
        "ttl = \"45s\"\nstale_while_revalidate = \"1500ms\"\nstale_if_error = \"2m\"",
    ));
    let resp = section(&v, "sub vcl_backend_response");
    assert!(resp.contains("set beresp.ttl = 45s;"), "{resp}");
    assert!(resp.contains("set beresp.http.X-Ttlab-Vcl-Swr = \"1500ms\";"));
    assert!(resp.contains("set beresp.http.X-Ttlab-Vcl-Sie = \"120s\";"));
    assert!(resp.contains("set beresp.keep = 0s;"));

    let http = vcl_of(&arch("ssr-cdn-user", "policy = \"http\""));
    let resp = section(&http, "sub vcl_backend_response");
    assert!(
        !resp.contains("set beresp.ttl = 30s;"),
        "Varnish's own TTL from the headers"
    );
    assert!(resp.contains("stale-while-revalidate"));
    assert!(resp.contains("stale-if-error"));
    assert!(resp.contains("set beresp.keep = 1h;"));
    assert!(resp.contains("bereq.http.Authorization"));
}

#[test]
fn stale_if_error_coalescing_and_purge_are_written_out() {
    let on = vcl_of(&arch(
        "ssr-cdn-shared",
        "coalesce = true\npurge_on_publish = true",
    ));
    assert!(
        !on.contains("hash_ignore_busy"),
        "coalescing is Varnish's waiting list"
    );
    let off = vcl_of(&arch("ssr-cdn-shared", "coalesce = false"));
    assert!(section(&off, "sub vcl_recv").contains("set req.hash_ignore_busy = true;"));

    // Past SWR: restart to fetch; the failed fetch restarts to the stale copy.
    assert!(section(&on, "sub vcl_hit").contains("return (restart);"));
    assert!(section(&on, "sub vcl_synth").contains("set req.http.X-Ttlab-Vcl-Sie = \"1\";"));
    assert!(section(&on, "sub vcl_backend_response").contains("return (abandon);"));

    let recv = section(&on, "sub vcl_recv");
    assert!(recv.contains("client.ip !~ ttlab_purgers"), "loopback only");
    assert!(recv.contains("xkey.purge(req.http.X-Ttlab-Purge-Key)"));
    let resp = section(&on, "sub vcl_backend_response");
    assert!(resp.contains("set beresp.http.xkey = beresp.http.Surrogate-Key;"));
}

#[test]
fn x_cache_is_written_as_ttlab_layers_write_it() {
    let cdn = vcl_of(&arch("ssr-cdn-shared", ""));
    let deliver = section(&cdn, "sub vcl_deliver");
    assert!(deliver.contains("\"cdn=\" + req.http.X-Ttlab-Vcl-Outcome"));
    assert!(
        deliver.contains("\"cdn=MISS\""),
        "a coalesced wait is a miss"
    );
    assert!(section(&cdn, "sub vcl_pass").contains("\"BYPASS\""));
    let edge = vcl_of(&arch("ssr-edge", ""));
    assert!(section(&edge, "sub vcl_deliver").contains("\"edge=\" + req.http.X-Ttlab-Vcl-Outcome"));
}

#[test]
fn only_architectures_with_a_front_cache_have_a_vcl() {
    for a in ["ssr-nocache", "ssr-origin-variant"] {
        let err = generate(&VclSpec {
            scenario: "test",
            arch: &arch(a, ""),
            origins: &origin(),
            variant_param: "personalize_variants",
        })
        .expect_err("no CDN");
        assert!(matches!(err, VclError::NoFrontCache(_)), "{a}: {err}");
    }
    let several = vec![
        Backend::parse("127.0.0.1:1").expect("parses"),
        Backend::parse("http://127.0.0.1:2/").expect("parses"),
    ];
    let v = generate(&VclSpec {
        scenario: "test",
        arch: &arch("ssr-cdn-user", ""),
        origins: &several,
        variant_param: "personalize_variants",
    })
    .expect("a VCL");
    assert!(v.contains("origins.add_backend(origin_0);\n    origins.add_backend(origin_1);"));
    assert!(v.contains(".port = \"2\";"));
    assert_eq!(
        ttlab_ssr_origin::varnish::vcl::duration(Micros::from_millis(2500)),
        "2500ms"
    );
}

/// The text of one VCL subroutine, from its opening line to its closing brace.
fn section<'a>(vcl: &'a str, start: &str) -> &'a str {
    let from = vcl
        .find(start)
        .unwrap_or_else(|| panic!("{start} in the VCL"));
    let rest = &vcl[from..];
    let end = rest.find("\n}\n").map_or(rest.len(), |e| e + 3);
    &rest[..end]
}
