//! `[traffic] trace`: a trace file read once at validation and mapped onto
//! the scenario (pages, visitors, speed, duration), so that the simulator
//! and real runs replay the same requests. Each test writes its scenario and
//! trace into a folder of its own and loads the scenario from there, as
//! `ttlab` does.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use ttlab_scenarios::model::{Load, Replay, ReplayRequest};
use ttlab_scenarios::{Micros, Scenario, ScenarioError};
use ttlab_test_support::ScenarioToml;
use ttlab_test_support::process::fresh_dir;

/// A scenario of four pages, in content order `/`, `/a`, `/b`, `/c`, whose
/// `[traffic]` holds `visitors` and the `traffic` lines.
fn scenario(duration: &str, seed: u64, visitors: u32, traffic: &str) -> String {
    ScenarioToml::new("replay", seed, duration)
        .traffic_lines(&format!("visitors = {visitors}\n{traffic}"))
        .entry("e", "hero", &[])
        .page("/", &["e"])
        .page("/a", &["e"])
        .page("/b", &["e"])
        .page("/c", &["e"])
        .archs(&["ssr-nocache"])
        .build()
}

/// Writes `toml` as `dir/scenario.toml` and loads it from there.
fn load(dir: &Path, toml: &str) -> Result<Scenario, ScenarioError> {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, toml).unwrap();
    ttlab_scenarios::load(&path)
}

fn loaded(dir: &Path, toml: &str) -> Scenario {
    load(dir, toml).unwrap_or_else(|e| panic!("{e}:\n{:#?}", e.diagnostics()))
}

fn replay(s: &Scenario) -> &Replay {
    match &s.traffic.load {
        Load::Trace(r) => r,
        other => panic!("not a replay: {other:?}"),
    }
}

fn req(at_ms: u64, page: u32, visitor: u32) -> ReplayRequest {
    ReplayRequest {
        at: Micros::from_millis(at_ms),
        page,
        visitor,
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn zstd(text: &str) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(text.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest)
}

/// A trace in file order (not time order): second, path, visitor id.
const TRACE: &[(u32, &str, &str)] = &[
    (0, "/", "alice"),
    (3, "/b", "bob"),
    (1, "/a?x=1", "bob"),
    (2, "/missing", "alice"),
    (2, "/a", "carol"),
    (5, "/other", "dave"),
    (6, "/missing", "bob"),
    (7, "/c", "erin"),
];

/// [`TRACE`] in each format a trace comes in, named as users name them.
fn trace_files() -> Vec<(&'static str, String)> {
    let mut csv = String::from("time,path,visitor\n");
    let mut tsv = String::from("time\tpath\tvisitor\n");
    let mut jsonl = String::new();
    let mut log = String::new();
    for (t, path, who) in TRACE {
        writeln!(csv, "{t},{path},{who}").unwrap();
        writeln!(tsv, "{t}\t{path}\t{who}").unwrap();
        writeln!(
            jsonl,
            r#"{{"time": {t}, "path": "{path}", "visitor": "{who}"}}"#
        )
        .unwrap();
        // The combined format: the visitor is the address with the agent.
        let host = 1 + TRACE.iter().position(|r| r.2 == *who).unwrap();
        writeln!(
            log,
            r#"192.0.2.{host} - - [30/Nov/2026:10:00:{t:02} +0000] "GET {path} HTTP/1.1" 200 512 "-" "agent of {who}""#
        )
        .unwrap();
    }
    vec![
        ("trace.csv", csv),
        ("trace.tsv", tsv),
        ("trace.jsonl", jsonl),
        ("access.log", log),
    ]
}

#[test]
fn every_format_plain_gzip_or_zstd_replays_the_same_requests() {
    let dir = fresh_dir("trace-formats");
    // Sorted by time (file order at a tie); `/a?x=1` is `/a` without its
    // query; `/missing` (asked twice) and `/other` match no page and go to
    // the first and second page by rank; ids numbered as first seen.
    let want = vec![
        req(0, 0, 0),
        req(1_000, 1, 1),
        req(2_000, 0, 0),
        req(2_000, 1, 2),
        req(3_000, 2, 1),
        req(5_000, 1, 3),
        req(6_000, 0, 1),
        req(7_000, 3, 4),
    ];
    let mut replayed = 0;
    for (name, text) in trace_files() {
        for (packed, bytes) in [
            ("", text.clone().into_bytes()),
            (".gz", gzip(&text)),
            (".zst", zstd(&text)),
        ] {
            let file = format!("{name}{packed}");
            std::fs::write(dir.join(&file), &bytes).unwrap();
            let s = loaded(&dir, &scenario("60s", 7, 100, &format!("trace = {file:?}")));
            let r = replay(&s);
            assert_eq!(r.requests, want, "{file}");
            assert_eq!(r.file, file);
            assert_eq!((r.bad_lines, r.first_bad.clone()), (0, None), "{file}");
            assert_eq!(r.unmatched_paths, 2, "{file}");
            assert_eq!(r.trace_visitors, 5, "{file}");
            assert!((r.speed - 1.0).abs() < f64::EPSILON);
            replayed += 1;
        }
    }
    assert_eq!(replayed, 12, "four formats, three packings each");
}

#[test]
fn trace_format_overrides_the_name() {
    let dir = fresh_dir("trace-format-key");
    let (_, log) = trace_files().pop().unwrap();
    std::fs::write(dir.join("today.txt.gz"), gzip(&log)).unwrap();
    let s = loaded(
        &dir,
        &scenario(
            "60s",
            7,
            100,
            "trace = \"today.txt.gz\"\ntrace_format = \"access-log\"",
        ),
    );
    assert_eq!(replay(&s).requests.len(), TRACE.len());
}

#[test]
fn trace_columns_name_the_columns_and_each_time_unit_reads_the_same() {
    let dir = fresh_dir("trace-columns");
    // Seconds since the first request: 0, 1.25, 2.75 (sub-second kept).
    let times = [
        ("s", ["100.25", "101.5", "103"]),
        ("ms", ["100250", "101500", "103000"]),
        ("us", ["100250000", "101500000", "103000000"]),
        (
            "rfc3339",
            [
                "2026-11-30T10:01:40.25Z",
                "2026-11-30T11:01:41.5+01:00",
                "2026-11-30T10:01:43Z",
            ],
        ),
    ];
    let want = vec![req(0, 2, 0), req(1_250, 3, 1), req(2_750, 2, 0)];
    for (unit, [t0, t1, t2]) in times {
        let csv = format!("who,ts,url\nx,{t0},/b\ny,{t1},/c\nx,{t2},/b\n");
        let file = format!("{unit}.csv");
        std::fs::write(dir.join(&file), csv).unwrap();
        let columns = format!(
            "trace_columns = {{ time = \"ts\", time_unit = \"{unit}\", path = \"url\", visitor = \"who\" }}"
        );
        let s = loaded(
            &dir,
            &scenario("60s", 7, 100, &format!("trace = {file:?}\n{columns}")),
        );
        assert_eq!(replay(&s).requests, want, "time_unit = {unit}");
        // The same keys name a JSON line's fields.
        let jsonl = format!(
            "{{\"who\": \"x\", \"ts\": \"{t0}\", \"url\": \"/b\"}}\n{{\"who\": \"y\", \"ts\": \"{t1}\", \"url\": \"/c\"}}\n{{\"who\": \"x\", \"ts\": \"{t2}\", \"url\": \"/b\"}}\n"
        );
        let file = format!("{unit}.jsonl");
        std::fs::write(dir.join(&file), jsonl).unwrap();
        let s = loaded(
            &dir,
            &scenario("60s", 7, 100, &format!("trace = {file:?}\n{columns}")),
        );
        assert_eq!(replay(&s).requests, want, "JSON lines, time_unit = {unit}");
    }
}

#[test]
fn unmatched_paths_go_to_pages_by_rank_wrapping_and_ties_by_first_sight() {
    let dir = fresh_dir("trace-ranks");
    let asked = [
        ("/u1", 5),
        ("/u2", 4),
        ("/u3", 3),
        ("/u4", 2),
        ("/tie", 2),
        ("/u5", 1),
        ("/b?utm=mail&x=1", 1),
        ("/c", 1),
    ];
    let mut csv = String::from("time,path,visitor\n");
    let mut paths = Vec::new();
    for (path, n) in asked {
        for _ in 0..n {
            writeln!(csv, "{},{path},v", paths.len()).unwrap();
            paths.push(path);
        }
    }
    std::fs::write(dir.join("ranks.csv"), csv).unwrap();
    let s = loaded(&dir, &scenario("60s", 7, 10, "trace = \"ranks.csv\""));
    let r = replay(&s);
    // Ranks 0..5 onto four pages: u1 → /, u2 → /a, u3 → /b, u4 → /c, then
    // wrapping: /tie (as often as u4, seen later) → /, u5 → /a.
    let page_of = |path: &str| match path {
        "/u1" | "/tie" => 0,
        "/u2" | "/u5" => 1,
        "/u3" | "/b?utm=mail&x=1" => 2,
        "/u4" | "/c" => 3,
        other => panic!("{other}"),
    };
    assert_eq!(r.requests.len(), paths.len());
    for (q, path) in r.requests.iter().zip(&paths) {
        assert_eq!(q.page, page_of(path), "{path}");
    }
    assert_eq!(r.unmatched_paths, 6, "u1..u5 and /tie");
}

#[test]
fn one_trace_visitor_always_plays_one_visitor_of_the_population() {
    let dir = fresh_dir("trace-visitors");
    // Five ids over a population of three: numbered 0..4 as first seen,
    // modulo 3.
    let ids = ["v0", "v1", "v2", "v3", "v4"];
    let mut csv = String::from("time,path,visitor\n");
    let mut order = Vec::new();
    for i in 0..40usize {
        // First sights in order v0..v4, then a scrambled mix.
        let id = if i < 5 { ids[i] } else { ids[(i * 7 + 3) % 5] };
        writeln!(csv, "{i},/,{id}").unwrap();
        order.push(id);
    }
    std::fs::write(dir.join("who.csv"), &csv).unwrap();
    let s = loaded(&dir, &scenario("60s", 7, 3, "trace = \"who.csv\""));
    let r = replay(&s);
    assert_eq!(r.trace_visitors, 5);
    for (q, id) in r.requests.iter().zip(&order) {
        let n = ids.iter().position(|i| i == id).unwrap() as u32;
        assert_eq!(q.visitor, n % 3, "{id} plays visitor {}", n % 3);
    }

    // Without an id column each request's visitor is drawn from the seed:
    // the same seed draws the same, another seed others.
    let csv: String = csv
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n")
        .collect();
    std::fs::write(dir.join("anon.csv"), &csv).unwrap();
    let anon = |seed| {
        let t = "trace = \"anon.csv\"\ntrace_columns = { visitor = \"\" }";
        let s = loaded(&dir, &scenario("60s", seed, 100, t));
        replay(&s).requests.clone()
    };
    // Named by default, the column must be there: the header says it is not.
    let Err(e) = load(&dir, &scenario("60s", 7, 100, "trace = \"anon.csv\"")) else {
        panic!("anon.csv has no visitor column");
    };
    let message = &e.diagnostics()[0].message;
    assert!(
        message.contains("anon.csv:1: no column \"visitor\" in the header"),
        "{message}"
    );
    let drawn = anon(7);
    assert_eq!(drawn, anon(7), "one seed, one draw");
    let visitors = |r: &[ReplayRequest]| r.iter().map(|q| q.visitor).collect::<Vec<_>>();
    assert_ne!(
        visitors(&drawn),
        visitors(&anon(8)),
        "another seed draws other visitors"
    );
    assert!(drawn.iter().all(|q| q.visitor < 100));
    let distinct: std::collections::HashSet<u32> = drawn.iter().map(|q| q.visitor).collect();
    assert!(
        distinct.len() > 20,
        "40 draws over 100 visitors: {distinct:?}"
    );
    assert_eq!(
        drawn.iter().map(|q| q.at).collect::<Vec<_>>(),
        r.requests.iter().map(|q| q.at).collect::<Vec<_>>()
    );
}

#[test]
fn speed_compresses_trace_time_and_the_duration_cuts_the_rest() {
    let dir = fresh_dir("trace-speed");
    // One request a second for 20 s of trace time.
    let mut csv = String::from("time,path,visitor\n");
    for i in 0..20 {
        writeln!(csv, "{},/a,v{i}", 1_000 + i).unwrap();
    }
    std::fs::write(dir.join("steady.csv"), csv).unwrap();
    let at_ms = |speed: &str| {
        let s = loaded(
            &dir,
            &scenario(
                "10s",
                7,
                100,
                &format!("trace = \"steady.csv\"\nspeed = {speed}"),
            ),
        );
        let r = replay(&s);
        assert!(
            r.requests.iter().all(|q| q.at < Micros::from_secs(10)),
            "nothing at or past the duration"
        );
        r.requests
            .iter()
            .map(|q| q.at.0 / 1_000)
            .collect::<Vec<_>>()
    };
    let every = |step: u64, n: u64| (0..n).map(|i| i * step).collect::<Vec<_>>();
    assert_eq!(at_ms("1.0"), every(1_000, 10), "10 of the 20 within 10 s");
    assert_eq!(at_ms("2.0"), every(500, 20), "all 20 within 10 s");
    assert_eq!(at_ms("4.0"), every(250, 20));
    assert_eq!(at_ms("0.5"), every(2_000, 5), "slowed down: 5 within 10 s");
}

#[test]
fn bad_lines_are_counted_and_skipped() {
    let dir = fresh_dir("trace-bad-lines");
    let csv = "time,path,visitor\n0,/,a\nsoon,/a,b\n1,/b,c\n2,,d\n3,/c,e\n";
    std::fs::write(dir.join("some-bad.csv"), csv).unwrap();
    let s = loaded(&dir, &scenario("60s", 7, 100, "trace = \"some-bad.csv\""));
    let r = replay(&s);
    assert_eq!(
        r.requests
            .iter()
            .map(|q| (q.at.0 / 1_000_000, q.page))
            .collect::<Vec<_>>(),
        [(0, 0), (1, 2), (3, 3)]
    );
    assert_eq!(r.bad_lines, 2);
    let (line, why) = r.first_bad.clone().unwrap();
    assert_eq!(line, 3, "the first bad line's number in the file");
    assert!(why.contains("\"soon\""), "{why}");

    let mut log = String::new();
    for i in 0..10 {
        if i % 3 == 1 {
            writeln!(log, "garbage {i}").unwrap();
        } else {
            writeln!(
                log,
                r#"10.0.0.{i} - - [30/Nov/2026:10:00:{i:02} +0000] "GET /c HTTP/1.1" 200 1"#
            )
            .unwrap();
        }
    }
    std::fs::write(dir.join("some-bad.log"), log).unwrap();
    let s = loaded(&dir, &scenario("60s", 7, 100, "trace = \"some-bad.log\""));
    let r = replay(&s);
    assert_eq!((r.requests.len(), r.bad_lines), (7, 3));
    assert_eq!(r.first_bad.as_ref().map(|b| b.0), Some(2));
}

/// Line and column of `trace = "…"`'s value in `toml`, as diagnostics count.
fn trace_value_at(toml: &str) -> (usize, usize) {
    let (i, line) = toml
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("trace = "))
        .unwrap();
    (i + 1, line.find('"').unwrap() + 1)
}

#[test]
fn a_trace_of_only_bad_lines_is_an_error_at_the_trace_key() {
    let dir = fresh_dir("trace-all-bad");
    std::fs::write(
        dir.join("all-bad.csv"),
        "time,path,visitor\nsoon,/,a\nlater,/a,b\n",
    )
    .unwrap();
    let toml = scenario("60s", 7, 100, "trace = \"all-bad.csv\"");
    let Err(ScenarioError::Invalid(diags)) = load(&dir, &toml) else {
        panic!("a trace with no good line must not validate");
    };
    let (line, column) = trace_value_at(&toml);
    let file = dir.join("all-bad.csv");
    assert_eq!(
        diags.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [format!(
            "{}:{line}:{column}: trace: {}: none of its 2 lines could be read as CSV; line 2: time \"soon\" is not a number",
            dir.join("scenario.toml").display(),
            file.display()
        )]
    );

    // A CSV read as an access log: every line is bad, and the message says
    // which format was expected.
    let toml = scenario(
        "60s",
        7,
        100,
        "trace = \"all-bad.csv\"\ntrace_format = \"access-log\"",
    );
    let Err(e) = load(&dir, &toml) else {
        panic!("a CSV is not an access log");
    };
    let message = &e.diagnostics()[0].message;
    assert!(
        message.contains("none of its 3 lines could be read as an access log (common or combined format); line 1:"),
        "{message}"
    );
}

#[test]
fn the_trace_is_found_relative_to_the_scenario_files_folder() {
    let dir = fresh_dir("trace-relative");
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("traces")).unwrap();
    std::fs::create_dir_all(dir.join("other")).unwrap();
    std::fs::write(
        site.join("traces/day.csv"),
        "time,path,visitor\n0,/a,x\n1,/b,y\n",
    )
    .unwrap();
    let toml = scenario("60s", 7, 100, "trace = \"traces/day.csv\"");
    // Not relative to the working folder (the crate's, under cargo test).
    assert!(!Path::new("traces/day.csv").exists());
    let s = loaded(&site, &toml);
    assert_eq!(replay(&s).requests, [req(0, 1, 0), req(1_000, 2, 1)]);
    // The same file named from a sibling folder.
    let s = loaded(
        &dir.join("other"),
        &scenario("60s", 7, 100, "trace = \"../site/traces/day.csv\""),
    );
    assert_eq!(replay(&s).requests.len(), 2);
    // And the first name from there finds nothing.
    let Err(e) = load(&dir.join("other"), &toml) else {
        panic!("traces/day.csv is not in other/");
    };
    assert!(e.diagnostics()[0].message.contains("cannot read"), "{e}");
}
