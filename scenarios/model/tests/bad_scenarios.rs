//! Every validation rule has a broken file in `tests/bad/` whose first line
//! says the one diagnostic it must produce: `# expect: LINE:COL: message`.
//! Adding a rule means adding a file; this test finds it.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use ttlab_scenarios::{ScenarioError, parse_str};

#[test]
fn each_broken_file_fails_with_its_expected_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 100,
        "expected the full set of broken files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let name = format!("tests/bad/{}", path.file_name().unwrap().to_string_lossy());
        let source = fs::read_to_string(path).unwrap();
        let expected = source
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: first line must be `# expect: LINE:COL: message`"));
        match parse_str(&name, &source) {
            Ok(_) => failures.push(format!("{name}: validated, expected {expected}")),
            Err(ScenarioError::Invalid(diags)) => {
                let got: Vec<String> = diags.iter().map(ToString::to_string).collect();
                let want = format!("{name}:{expected}");
                if got != [want.clone()] {
                    failures.push(format!(
                        "{name}:\n  expected {want}\n  got      {}",
                        got.join("\n           ")
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} broken files misbehaved:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The smallest valid scenario, to build limit-breaking files from.
fn minimal(experiences: &str, attributes: &str) -> String {
    format!(
        r#"[scenario]
name = "limits"
seed = 1
duration = "10s"

[traffic]
visitors = 10
users = 1
{attributes}
{experiences}
[content]

[[content.entries]]
uid = "e"
content_type = "hero"

[[content.pages]]
path = "/"
entries = ["e"]

[[architectures]]
name = "ssr-nocache"
"#
    )
}

fn only_problem(source: &str) -> String {
    match parse_str("limits.toml", source) {
        Err(ScenarioError::Invalid(d)) if d.len() == 1 => d[0].to_string(),
        Err(e) => panic!("expected one problem, got {e}"),
        Ok(_) => panic!("expected a problem, the file validated"),
    }
}

#[test]
fn at_most_32_experiences() {
    let exp = |i: usize| {
        format!("[[experiences]]\nuid = \"e{i}\"\ntype = \"ab\"\nsplits = {{ \"0\" = 100 }}\n\n")
    };
    let ok: String = (0..32).map(exp).collect();
    assert!(parse_str("limits.toml", &minimal(&ok, "")).is_ok());
    let too_many: String = (0..33).map(exp).collect();
    let msg = only_problem(&minimal(&too_many, ""));
    assert!(
        msg.ends_with("at most 32 experiences are supported"),
        "{msg}"
    );
    assert!(
        msg.starts_with("limits.toml:170:1:"),
        "points at the 33rd experience (line 10 + 5 * 32): {msg}"
    );
}

#[test]
fn at_most_255_variants_per_experience() {
    // 256 variants of 25/64 % each sum to exactly 100.
    let splits: Vec<String> = (0..256).map(|i| format!("\"{i}\" = 0.390625")).collect();
    let exp = format!(
        "[[experiences]]\nuid = \"0\"\ntype = \"ab\"\nsplits = {{ {} }}\n",
        splits.join(", ")
    );
    let msg = only_problem(&minimal(&exp, ""));
    assert!(
        msg.ends_with("an experience has at most 255 variants"),
        "{msg}"
    );
}

#[test]
fn at_most_65535_values_per_attribute() {
    let values: Vec<String> = (0..65_536).map(|i| format!("v{i} = 1")).collect();
    let attr = format!(
        "[[attributes]]\nname = \"id\"\nvalues = {{ {} }}\n",
        values.join(", ")
    );
    let msg = only_problem(&minimal("", &attr));
    assert!(
        msg.ends_with("an attribute has at most 65535 values"),
        "{msg}"
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_file_order() {
    let source = minimal(
        "[[experiences]]\nuid = \"0\"\ntype = \"ab\"\nsplits = { \"0\" = 10 }\n",
        "",
    )
    .replace("visitors = 10", "visitors = 0")
    .replace("name = \"ssr-nocache\"", "name = \"ssr-cdn\"");
    let Err(ScenarioError::Invalid(d)) = parse_str("many.toml", &source) else {
        panic!("expected problems");
    };
    let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
    assert_eq!(d.len(), 3, "{d:?}");
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "sorted by position: {lines:?}"
    );
    assert!(d[0].message.contains("visitors must be at least 1"));
    assert!(d[1].message.contains("sum to 10, expected 100"));
    assert!(d[2].message.contains("unknown architecture \"ssr-cdn\""));
}

#[test]
fn unreadable_file_names_the_path() {
    let err = ttlab_scenarios::load(Path::new("no/such/scenario.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no/such/scenario.toml: cannot read the scenario file"),
        "{err}"
    );
}

/// [`minimal`] with `from` replaced by `to` (once; `from` must be there).
fn with(from: &str, to: &str) -> String {
    let base = minimal("", "");
    assert!(base.contains(from), "{from:?}");
    base.replacen(from, to, 1)
}

/// The 1-based line and column of the first `needle` in `source`.
fn at(source: &str, needle: &str) -> String {
    let off = source.find(needle).unwrap_or_else(|| panic!("{needle:?}"));
    let line = source[..off].matches('\n').count() + 1;
    let col = off - source[..off].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("limits.toml:{line}:{col}:")
}

/// Each bound: the file at it validates; just past it, the one problem
/// points at the value (`needle`) and says `says`.
#[test]
#[allow(clippy::too_many_lines)] // one entry per bound
fn every_bound_holds_at_its_value_and_is_refused_just_past_it() {
    use ttlab_scenarios::bounds::{
        MAX_ATTRIBUTES, MAX_CACHE_BYTES, MAX_CACHE_ENTRIES, MAX_ENTRIES_PER_PAGE, MAX_PAGES,
        MAX_PAGES_PER_SESSION, MAX_RATE, MAX_READY_TIMEOUT, MAX_RUN, MAX_SWEEP_VALUES, MAX_USERS,
        MAX_VISITORS,
    };
    let page_set = |count: u64, per_page: u64| {
        format!(
            "[[content.pages]]\npath = \"/\"\nentries = [\"e\"]\n\n[[content.page_sets]]\npath = \"/p/{{i}}\"\ncount = {count}\ncontent_type = \"p\"\nentries_per_page = {per_page}"
        )
    };
    let attrs = |n: usize| -> String {
        (0..n).fold(String::new(), |mut s, i| {
            writeln!(s, "[[attributes]]\nname = \"a{i}\"\nvalues = {{ x = 1 }}").unwrap();
            s
        })
    };
    let sweep = |n: usize| {
        let v: Vec<String> = (0..n).map(|i| format!("\"{}s\"", i + 1)).collect();
        format!("name = \"ssr-edge\"\n\n[sweep]\nttl = [{}]", v.join(", "))
    };
    let rule = |key: &str, v: &str| {
        format!("name = \"ssr-edge\"\n\n[[timeline]]\naction = \"publish\"\n{key} = {v}")
    };
    // (name, from, at the bound, past it, the past value's text, message)
    let cases: Vec<(&str, &str, String, String, String, &str)> = vec![
        (
            "duration",
            "duration = \"10s\"",
            format!("duration = \"{MAX_RUN}\""),
            format!("duration = \"{MAX_RUN} 1s\""),
            "\"1day 1s\"".into(),
            "duration must be at most 1day",
        ),
        (
            "any duration",
            "name = \"ssr-nocache\"",
            "name = \"ssr-edge\"\ncache = { ttl = \"365days\" }".into(),
            "name = \"ssr-edge\"\ncache = { ttl = \"366days\" }".into(),
            "\"366days\"".into(),
            "is longer than 365 days",
        ),
        (
            "visitors",
            "visitors = 10",
            format!("visitors = {MAX_VISITORS}"),
            format!("visitors = {}", MAX_VISITORS + 1),
            (MAX_VISITORS + 1).to_string(),
            "visitors must be at most 1000000",
        ),
        (
            "users",
            "users = 1",
            format!("users = {MAX_USERS}"),
            format!("users = {}", MAX_USERS + 1),
            (MAX_USERS + 1).to_string(),
            "users must be at most 10000",
        ),
        (
            "pages_per_session",
            "users = 1",
            format!("users = 1\npages_per_session = {MAX_PAGES_PER_SESSION}"),
            format!("users = 1\npages_per_session = {}", MAX_PAGES_PER_SESSION + 1),
            (MAX_PAGES_PER_SESSION + 1).to_string(),
            "pages_per_session must be at most",
        ),
        (
            "arrival_rate",
            "users = 1",
            format!("arrival_rate = {MAX_RATE:.1}"),
            "arrival_rate = 1e12".into(),
            "1e12".into(),
            "arrival_rate must be at most 1000000 per second (the simulator's clock counts whole microseconds",
        ),
        (
            "timeline rate",
            "name = \"ssr-nocache\"",
            // For a tenth of a second: a second at this rate is refused as memory.
            rule("until = \"100ms\"\nrate", &format!("{MAX_RATE:.1}")),
            rule("rate", "1e300"),
            "1e300".into(),
            "rate must be at most 1000000 per second",
        ),
        (
            "think_time",
            "users = 1",
            "users = 1\nthink_time = { mean = \"1ms\" }".into(),
            "users = 1\nthink_time = \"0s\"".into(),
            "\"0s\"".into(),
            "think_time of a closed loop must average at least 1ms",
        ),
        (
            "latency",
            "name = \"ssr-nocache\"",
            "name = \"ssr-nocache\"\n\n[faults.delivery]\nlatency = { p50 = \"1ms\", p99 = \"1h\" }".into(),
            "name = \"ssr-nocache\"\n\n[faults.delivery]\nlatency = { p50 = \"1ms\", p99 = \"2h\" }".into(),
            "{ p50".into(),
            "is at most 1h (latency histograms stop there)",
        ),
        (
            "origin timeout",
            "name = \"ssr-nocache\"",
            "name = \"ssr-nocache\"\n\n[origin]\ndelivery_timeout = \"1h\"".into(),
            "name = \"ssr-nocache\"\n\n[origin]\ndelivery_timeout = \"61m\"".into(),
            "\"61m\"".into(),
            "delivery_timeout must be at most 1h",
        ),
        (
            "page set count",
            "[[content.pages]]\npath = \"/\"\nentries = [\"e\"]",
            page_set(MAX_PAGES - 1, 1),
            page_set(MAX_PAGES, 1),
            MAX_PAGES.to_string(),
            "this page set brings the pages to 1000001",
        ),
        (
            "entries per page",
            "[[content.pages]]\npath = \"/\"\nentries = [\"e\"]",
            page_set(1, MAX_ENTRIES_PER_PAGE),
            page_set(1, MAX_ENTRIES_PER_PAGE + 1),
            (MAX_ENTRIES_PER_PAGE + 1).to_string(),
            "a page renders at most 1000",
        ),
        (
            "attributes",
            "users = 1",
            format!("users = 1\n{}", attrs(MAX_ATTRIBUTES)),
            format!("users = 1\n{}", attrs(MAX_ATTRIBUTES + 1)),
            format!("[[attributes]]\nname = \"a{MAX_ATTRIBUTES}\""),
            "at most 64 attributes are supported",
        ),
        (
            "max_entries",
            "name = \"ssr-nocache\"",
            format!("name = \"ssr-edge\"\ncache = {{ max_entries = {MAX_CACHE_ENTRIES} }}"),
            format!("name = \"ssr-edge\"\ncache = {{ max_entries = {} }}", MAX_CACHE_ENTRIES + 1),
            (MAX_CACHE_ENTRIES + 1).to_string(),
            "max_entries must be at most 1000000",
        ),
        (
            "max_bytes",
            "name = \"ssr-nocache\"",
            format!("name = \"ssr-edge\"\ncache = {{ max_bytes = {MAX_CACHE_BYTES} }}"),
            format!("name = \"ssr-edge\"\ncache = {{ max_bytes = {} }}", MAX_CACHE_BYTES + 1),
            (MAX_CACHE_BYTES + 1).to_string(),
            "is more than 1099511627776 bytes (1 TiB)",
        ),
        (
            "ready_timeout",
            "name = \"ssr-nocache\"",
            format!("name = \"as-is\"\n\n[app]\ncommand = \"x\"\nready_timeout = \"{MAX_READY_TIMEOUT}\""),
            format!("name = \"as-is\"\n\n[app]\ncommand = \"x\"\nready_timeout = \"{MAX_READY_TIMEOUT} 1s\""),
            "\"10m 1s\"".into(),
            "ready_timeout must be at most 10m",
        ),
        (
            "sweep values",
            "name = \"ssr-nocache\"",
            sweep(MAX_SWEEP_VALUES),
            sweep(MAX_SWEEP_VALUES + 1),
            "[sweep]".into(),
            "a sweep compares at most 16 values",
        ),
    ];
    let mut failures = Vec::new();
    for (name, from, ok, bad, needle, says) in &cases {
        let ok = with(from, ok);
        if let Err(e) = parse_str("limits.toml", &ok) {
            failures.push(format!("{name} at its bound: {e}"));
        }
        let bad = with(from, bad);
        let want = at(&bad, needle);
        match parse_str("limits.toml", &bad) {
            Err(ScenarioError::Invalid(d))
                if d.len() == 1
                    && d[0].to_string().starts_with(&want)
                    && d[0].message.contains(says) => {}
            other => failures.push(format!(
                "{name} past its bound: expected one problem {want} …{says}…, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Keys each within bounds whose product would be gigabytes: refused with
/// an estimate naming the keys, at the rule that makes the most.
#[test]
fn bounds_that_hold_alone_but_not_together_are_refused_with_the_keys_named() {
    let source = with("visitors = 10", "visitors = 1000000").replace(
        "name = \"ssr-nocache\"",
        "name = \"ssr-nocache\"\n\n[[attributes]]\nname = \"a\"\nvalues = { x = 1, y = 1 }\n\n[[timeline]]\naction = \"attribute_change\"\nattribute = \"a\"\nmean_interval = \"100ms\"",
    );
    let msg = only_problem(&source);
    assert!(msg.starts_with(&at(&source, "[[timeline]]")), "{msg}");
    assert!(msg.contains("would hold about"), "{msg}");
    assert!(msg.contains("timeline events"), "{msg}");
    assert!(msg.contains("mean_interval"), "{msg}");
    // Each part alone passes: the same drift for ten visitors.
    let alone = source.replace("visitors = 1000000", "visitors = 10");
    assert!(parse_str("limits.toml", &alone).is_ok());
}

/// An estimate of what the world holds must not be below what it holds:
/// the bytes per visitor and per event are measured here, on the world.
#[test]
fn the_estimate_is_above_what_the_world_holds() {
    let source = with("visitors = 10", "visitors = 20000").replace(
        "name = \"ssr-nocache\"",
        "name = \"ssr-nocache\"\n\n[[attributes]]\nname = \"a\"\nvalues = { x = 1, y = 1 }\n\n[[timeline]]\naction = \"attribute_change\"\nattribute = \"a\"\nmean_interval = \"1s\"",
    );
    let scenario = parse_str("limits.toml", &source).expect("valid");
    let estimate = ttlab_scenarios::bounds::estimate(&scenario, None);
    let part = |what: &str| {
        estimate
            .parts
            .iter()
            .find(|p| p.what == what)
            .map_or(0, |p| p.bytes)
    };
    let world = ttlab_scenarios::World::new(scenario);
    let events = world.events().len() as u64;
    let visitors = u64::from(world.visitor_count());
    // 20,000 visitors over 10 s at one change a second: about 200,000 events.
    assert!(events > 150_000, "{events}");
    // What the world's own vectors hold at the least (uid text and the
    // visitor record, an event, a visitor's change record).
    // The population is derived: its one per-visitor table is the uid
    // index, 8 bytes a visitor once built.
    assert!(world.visitor_index(&world.uid(0)).is_some());
    let floor_visitor = (world.population_bytes() as u64).div_ceil(visitors);
    assert!(floor_visitor >= 8, "{floor_visitor}");
    let floor_event = std::mem::size_of::<ttlab_scenarios::world::Event>() as u64
        + std::mem::size_of::<ttlab_scenarios::world::AttributeChange>() as u64;
    assert!(
        part("visitors") >= visitors * floor_visitor * 2,
        "{estimate:?}"
    );
    assert!(
        part("timeline events") >= events * floor_event * 2,
        "{estimate:?}"
    );
}
