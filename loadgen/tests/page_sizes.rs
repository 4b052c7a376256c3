//! `max_bytes` counts the same bytes in both engines: the simulator weighs a
//! page as the real layer's store does (the page ttlab's origin builds from
//! the text the Delivery mock answers), and a simulated store bounded in
//! bytes holds as many pages as fit by those sizes.

use std::sync::Arc;

use ttlab_loadgen::sim::{PageSizer, Served, simulate};
use ttlab_scenarios::model::{ArchitectureConfig, PageIdx};
use ttlab_scenarios::{Micros, VariantSet, World, parse_str};
use ttlab_ssr_origin::upstream::parse_variant_param;
use ttlab_test_support::mocks::{Lab, Page};
use ttlab_test_support::scenario::audience_in;
use ttlab_test_support::{ScenarioToml, metrics_text};

/// Cache options every architecture of the comparison runs with: a byte
/// bound far above what the test stores (nothing is evicted, so each miss
/// adds exactly its page to the store's bytes) and a ttl the test outlasts.
const BOUNDED: &str = r#"ttl = "10m", max_bytes = "4MB""#;

/// The architectures compared, in two scenarios (an architecture is listed
/// once in a scenario): every caching one with the default policy, and the
/// CDN and the edge under `policy = "http"`, whose pages also state
/// `Cache-Control` windows, `Surrogate-Key` and `ETag`.
fn arch_sets() -> Vec<Vec<(&'static str, String)>> {
    let plain = format!("{{ {BOUNDED} }}");
    let http = format!(r#"{{ {BOUNDED}, policy = "http" }}"#);
    vec![
        vec![
            ("ssr-origin-variant", plain.clone()),
            ("ssr-cdn-shared", plain.clone()),
            ("ssr-cdn-user", plain.clone()),
            ("ssr-edge", plain),
        ],
        vec![("ssr-cdn-shared", http.clone()), ("ssr-edge", http)],
    ]
}

fn with_archs(base: ScenarioToml, archs: &[(&str, String)]) -> String {
    archs
        .iter()
        .fold(base, |b, (name, cache)| {
            b.arch_with(name, &format!("cache = {cache}"))
        })
        .build()
}

/// Synthetic entries: an A/B test on the hero, a segment on the banner,
/// a footer without variants; a long path and a short one.
fn synthetic(archs: &[(&str, String)]) -> String {
    let base = ScenarioToml::new("sizes", 5, "60s")
        .traffic(40, 2)
        .attribute("country", &[("US", 50), ("DE", 50)])
        .ab("0", &[("0", 50), ("1", 50)])
        .segmented("a", &[("0", &audience_in("country", &["DE"]))])
        .entry("hero", "hero", &["0"])
        .entry("banner", "banner", &["a"])
        .entry("footer", "footer", &[])
        .page("/", &["hero", "banner", "footer"])
        .page("/about/the-team-and-what-we-do", &["footer"]);
    with_archs(base, archs)
}

/// The mocks' fixture stack export: text and rich-text fields, a body, an
/// entry whose variants are named ("Germans"), references.
fn export(archs: &[(&str, String)]) -> String {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mock-apis/tests/fixtures/export")
        .canonicalize()
        .unwrap();
    let germans = format!("{}\nname = \"Germans\"", audience_in("country", &["DE"]));
    let base = ScenarioToml::new("sizes-export", 11, "60s")
        .traffic(40, 2)
        .attribute("country", &[("US", 50), ("DE", 50)])
        .ab_with(
            "0",
            &[("0", 50), ("1", 50)],
            r#"content_types = ["page", "author"]"#,
        )
        .segmented_with("s", &[("0", &germans)], r#"content_types = ["page"]"#)
        .content(&format!("export = {:?}", fixture.display().to_string()))
        .page("/", &["blt_p_home"])
        .page("/about", &["blt_p_about", "blt_a_alan"]);
    with_archs(base, archs)
}

/// The store's bytes, as the caching layer's `/metrics` says.
async fn store_bytes(lab: &Lab) -> u64 {
    let text = metrics_text(&lab.http, &lab.stack.entry_url).await;
    text.lines()
        .find(|l| l.starts_with("ttlab_") && l.contains("_cache_store_bytes{"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no cache_store_bytes in /metrics:\n{text}"))
}

/// What the page was built from, as its headers say: the variants
/// (`x-ttlab-variants`, projected to the page's experiences) and each
/// entry's (entry, served variant, version) (`x-ttlab-content`).
fn built_from(world: &World, page: &Page) -> (VariantSet, Vec<Served>) {
    let variants = match page.header("x-ttlab-variants") {
        "-" => VariantSet::none(world.scenario().experiences.len()),
        p => parse_variant_param(world, p),
    };
    let entries = &world.scenario().content.entries;
    let content = page.header("x-ttlab-content");
    let served: Vec<Served> = content
        .split(", ")
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut e = None;
            let mut v = None;
            let mut n = None;
            for kv in part.split(';') {
                match kv.split_once('=').unwrap() {
                    ("e", uid) => e = entries.iter().position(|x| x.uid == uid),
                    ("v", "base") => {}
                    ("v", alias) => v = Some(world.variant_of_alias(alias).unwrap()),
                    ("n", version) => n = Some(version.parse().unwrap()),
                    other => panic!("unexpected part {other:?}"),
                }
            }
            (e.unwrap() as u32, v, n.unwrap())
        })
        .collect();
    (variants, served)
}

/// Every architecture of `toml` in turn: visitors fetch each page (their
/// uid cookie set, so the origin sets no cookie and the page is stored);
/// every miss adds its page to the store, and the bytes it adds equal the
/// simulator's size of the page built from the same entries and variants.
/// Returns how many pages were compared and the distinct sizes seen.
async fn compare(toml: &str, archs: usize) -> (usize, Vec<u64>) {
    let mut compared = 0;
    let mut sizes = Vec::new();
    for arch in 0..archs {
        let lab = Lab::start(toml, arch).await;
        let world = lab.world.clone();
        let config: &ArchitectureConfig = &world.scenario().architectures[arch];
        let sizer = PageSizer::new(world.clone(), config);
        let layer = config.topology().cache_name().unwrap();
        let paths: Vec<(PageIdx, String)> = world
            .scenario()
            .content
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| (i as PageIdx, p.path.clone()))
            .collect();
        for v in 0..12 {
            let uid = lab.uid(v);
            for (idx, path) in &paths {
                let before = store_bytes(&lab).await;
                let page = lab.get(path, Some(&uid)).await;
                assert_eq!(page.status, 200, "{path}: {}", page.body);
                let after = store_bytes(&lab).await;
                let part = page
                    .header("x-cache")
                    .split(", ")
                    .next()
                    .unwrap()
                    .to_owned();
                if part != format!("{layer}=MISS") {
                    assert_eq!(after, before, "{part}: nothing stored");
                    continue;
                }
                let (variants, served) = built_from(&world, &page);
                let simulated = sizer.size(*idx, &variants, &served, None, false);
                assert_eq!(
                    after - before,
                    simulated,
                    "{} ({:?}) {path} for {uid}: the store counted {} bytes, the simulator {simulated}",
                    config.arch.as_str(),
                    config.cache.policy,
                    after - before,
                );
                compared += 1;
                sizes.push(simulated);
            }
        }
        lab.stop().await;
    }
    sizes.sort_unstable();
    sizes.dedup();
    (compared, sizes)
}

/// Compares every architecture of [`arch_sets`] over the scenario `toml`
/// makes of them.
async fn compare_all(toml: impl Fn(&[(&str, String)]) -> String) -> (usize, Vec<u64>) {
    let mut compared = 0;
    let mut sizes = Vec::new();
    for set in arch_sets() {
        let (n, s) = compare(&toml(&set), set.len()).await;
        compared += n;
        sizes.extend(s);
    }
    sizes.sort_unstable();
    sizes.dedup();
    (compared, sizes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_weighs_a_synthetic_page_as_the_real_store_does() {
    let (compared, sizes) = compare_all(synthetic).await;
    // 6 architectures; each stores both pages at least once, and the
    // variant-keyed ones a page per variant combination.
    assert!(compared >= 20, "{compared} pages compared");
    assert!(
        sizes.len() >= 6,
        "pages of different variants, paths and headers weigh differently: {sizes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_weighs_a_stack_export_page_as_the_real_store_does() {
    let (compared, sizes) = compare_all(export).await;
    assert!(compared >= 20, "{compared} pages compared");
    assert!(sizes.len() >= 4, "{sizes:?}");
}

/// A scenario of `pages` pages of one entry each, uniformly popular (open
/// single requests at 20/s for 10 minutes), paths
/// and uids of one length (so every page weighs the same), one
/// `ssr-origin-variant` whose store holds `max_bytes` (none: unbounded).
fn uniform(pages: u32, max_bytes: Option<u64>) -> Arc<World> {
    let mut s =
        ScenarioToml::new("bytes", 3, "10m").traffic_lines("visitors = 100\narrival_rate = 20");
    for p in 0..pages {
        s = s
            .entry(&format!("entry-{p}"), "block", &[])
            .page(&format!("/page-{p}"), &[&format!("entry-{p}")]);
    }
    let bound = max_bytes.map_or(String::new(), |b| format!(", max_bytes = {b}"));
    let toml = s
        .arch_with(
            "ssr-origin-variant",
            &format!("cache = {{ ttl = \"1h\"{bound} }}"),
        )
        .build();
    Arc::new(World::new(
        parse_str("bytes.toml", &toml).unwrap_or_else(|e| panic!("{e}")),
    ))
}

/// Hits, misses and evictions of the simulated layer.
fn simulated(world: &Arc<World>) -> (u64, u64, u64) {
    let report = simulate(world, &world.scenario().architectures, None);
    let c = report.architectures[0].layer.as_ref().unwrap().counts;
    (c.hits, c.misses, c.evicted)
}

/// Under the independent reference model with `n` equally popular pages an
/// LRU store of `k` pages hits with probability k / n: a byte bound of k
/// page sizes gives that hit rate only when pages weigh their real size
/// (counted as 1 byte each, as the simulator once did, every page would fit
/// any bound of a few hundred bytes and all would hit).
#[test]
fn a_byte_bound_of_k_page_sizes_holds_k_pages() {
    const N: u32 = 8;
    let unbounded = uniform(N, None);
    let arch = &unbounded.scenario().architectures[0];
    let sizer = PageSizer::new(unbounded.clone(), arch);
    let none = VariantSet::none(0);
    let sizes: Vec<u64> = (0..N)
        .map(|p| {
            let version = unbounded.entry_version(p, None, Micros::ZERO);
            sizer.size(p, &none, &[(p, None, version)], None, false)
        })
        .collect();
    let size = sizes[0];
    assert!(sizes.iter().all(|s| *s == size), "{sizes:?}");
    assert!(size > 300, "a page weighs its HTML and headers: {size}");

    let (hits_all, misses_all, evicted_all) = simulated(&unbounded);
    assert_eq!(misses_all, u64::from(N), "unbounded: one miss per page");
    assert_eq!(evicted_all, 0);
    let total = hits_all + misses_all;
    assert!(total > 10_000, "{total} requests");

    // Not even one page fits: nothing is stored, nothing hits.
    let (hits, _, _) = simulated(&uniform(N, Some(size - 1)));
    assert_eq!(hits, 0, "a bound one byte short of a page holds none");

    let mut last = 0;
    for k in [1u32, 2, 4, 6] {
        let (hits, misses, evicted) = simulated(&uniform(N, Some(u64::from(k) * size)));
        assert_eq!(hits + misses, total, "the same requests");
        assert!(evicted > 0, "k = {k}: the bound evicts");
        let rate = hits as f64 / total as f64;
        let expected = f64::from(k) / f64::from(N);
        assert!(
            (rate - expected).abs() < 0.03,
            "k = {k}: hit rate {rate:.4}, LRU of {k} of {N} pages under IRM: {expected:.4}"
        );
        assert!(hits > last, "k = {k}: hits rise with the bound");
        last = hits;
    }

    // All of them fit: the same run as without a bound.
    let (hits, misses, evicted) = simulated(&uniform(N, Some(u64::from(N) * size)));
    assert_eq!((hits, misses, evicted), (hits_all, misses_all, 0));
}
