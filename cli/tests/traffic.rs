//! `ttlab traffic fit` as a user runs it on an access log: bad lines named
//! by number and skipped, and a `[traffic]` table a scenario accepts; and
//! `ttlab traffic log` then `ttlab traffic fit`, which must give back the
//! traffic the scenario was written with.

mod common;

use common::ttlab;

use std::fmt::Write as _;
use std::path::Path;

use ttlab_scenarios::Scenario;
use ttlab_scenarios::model::{Dist, Load, Popularity};
use ttlab_scenarios::time::Micros;
use ttlab_test_support::process::fresh_dir;

/// A combined-format log: 40 visitors, 5 pages each 2 s apart, pages by a
/// fixed cycle, and one line that is not a request.
fn log() -> String {
    let mut s = String::new();
    for v in 0..40_u32 {
        for p in 0..5_u32 {
            let second = v * 3 + p * 2;
            let page = (v + p * p) % 7;
            let _ = writeln!(
                s,
                "10.0.{v}.1 - - [30/Nov/2026:10:{:02}:{:02} +0000] \"GET /p/{page} HTTP/1.1\" 200 900 \"-\" \"agent {v}\"",
                second / 60,
                second % 60
            );
            if v == 3 && p == 1 {
                s.push_str("garbage\n");
            }
        }
    }
    s
}

#[test]
fn an_access_log_becomes_a_traffic_table_a_scenario_accepts() {
    let dir = fresh_dir("traffic-fit");
    let path = dir.join("access.log");
    std::fs::write(&path, log()).unwrap();
    let o = ttlab(&["traffic", "fit", path.to_str().unwrap(), "--bucket", "10s"]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("access.log:18: skipped: no ident field"),
        "the bad line by number: {err}"
    );
    assert!(out.contains("# 1 line(s) could not be read"), "{out}");
    // 40 sessions from 40 visitors, none back: a population in which 40
    // sessions expect about one return, 40 · 39 / 2.
    assert!(out.contains("visitors = 780\n"), "{out}");
    assert!(out.contains("pages_per_session = 5\n"), "{out}");
    assert!(
        out.contains("think_time = \"2s\"\n"),
        "2 s apart, always: {out}"
    );

    // The table replaces quickstart's own and the scenario validates.
    let quickstart = String::from_utf8(ttlab(&["scenarios", "quickstart"]).stdout).unwrap();
    let start = quickstart.find("[traffic]").unwrap();
    let end = start + quickstart[start..].find("\n[[").unwrap();
    let scenario = format!("{}{out}{}", &quickstart[..start], &quickstart[end..]);
    let file = dir.join("fitted.toml");
    std::fs::write(&file, scenario).unwrap();
    let v = ttlab(&["validate", file.to_str().unwrap()]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );

    // Nothing readable: exit 2, naming the file.
    let junk = dir.join("junk.log");
    std::fs::write(&junk, "a\nb\n").unwrap();
    let o = ttlab(&["traffic", "fit", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("junk.log: none of its 2 lines could be read"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

// ---------------------------------------------------------------------------
// The round trip: `ttlab traffic log` writes a scenario's traffic, `ttlab
// traffic fit` reads it back, and the fitted [traffic], pasted into the
// scenario, says what the scenario said within the noise of one sample.
//
// Tolerances. A bucket of width w at rate r holds a Poisson count of mean
// r·w, so its fitted rate has standard deviation sqrt(r / w); each bucket
// must be within 4 of those (a seeded run either passes or fails, always; 4σ
// is where an honest fit would fail once in 16,000 buckets). The Zipf
// exponent within ±0.05 (its maximum-likelihood standard error at 28,000
// requests over 300 pages is about 0.005), pages per session and the mean
// think time within 10% (their sampling error is under 1%; the room is for
// sessions cut by the end of the run and for two sessions of one visitor
// falling within the session gap, which the fit cannot tell from one).
// ---------------------------------------------------------------------------

/// A site of 300 pages drawn by Zipf s = 1.1, with `traffic` as its load.
fn site(name: &str, traffic: &str, duration: &str) -> String {
    // A replay's pages come from its file: no popularity beside a trace.
    let popularity = if traffic.contains("trace =") {
        ""
    } else {
        "popularity = \"zipf\"\nzipf_s = 1.1\n"
    };
    format!(
        r#"[scenario]
name = "{name}"
seed = 11
duration = "{duration}"

[traffic]
{traffic}
{popularity}
[content]

[[content.entries]]
uid = "e"
content_type = "c"

[[content.page_sets]]
path = "/p/{{i}}"
count = 300
content_type = "p"

[[architectures]]
name = "ssr-nocache"
"#
    )
}

/// `scenario` with its `[traffic]` table replaced by `fitted` (the fit's
/// whole output, comments and all), parsed as ttlab parses a file.
fn paste(scenario: &str, fitted: &str) -> Scenario {
    let start = scenario.find("[traffic]").unwrap();
    let end = start + scenario[start..].find("\n[content]").unwrap();
    let text = format!("{}{fitted}{}", &scenario[..start], &scenario[end..]);
    ttlab_scenarios::parse_str("fitted.toml", &text)
        .unwrap_or_else(|e| panic!("the fitted table does not validate: {e}\n{text}"))
}

/// Writes `scenario` to `dir`, logs it to `log` with `log_args`, fits the
/// log with `fit_args`: the fit's stdout and stderr.
fn log_and_fit(
    dir: &Path,
    scenario: &str,
    log: &str,
    log_args: &[&str],
    fit_args: &[&str],
) -> (String, String) {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let log = dir.join(log);
    let mut args = vec![
        "traffic",
        "log",
        file.to_str().unwrap(),
        "-o",
        log.to_str().unwrap(),
    ];
    args.extend_from_slice(log_args);
    let o = ttlab(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    fit(&log, fit_args)
}

fn fit(log: &Path, fit_args: &[&str]) -> (String, String) {
    let mut args = vec!["traffic", "fit", log.to_str().unwrap()];
    args.extend_from_slice(fit_args);
    let o = ttlab(&args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    (out, err)
}

/// Within 4 Poisson standard deviations of `rate` for a bucket `width_s` wide.
fn assert_rate(got: f64, rate: f64, width_s: f64, what: &str) {
    let sd = (rate / width_s).sqrt();
    assert!(
        (got - rate).abs() <= 4.0 * sd,
        "{what}: fitted {got}, made with {rate} (σ {sd:.3})"
    );
}

fn assert_zipf(s: &Scenario) {
    let Popularity::Zipf { s: zipf } = s.traffic.popularity else {
        panic!("not Zipf: {:?}", s.traffic.popularity);
    };
    assert!((zipf - 1.1).abs() <= 0.05, "zipf_s {zipf}, made with 1.1");
}

fn assert_within_10pc(got: f64, want: f64, what: &str) {
    assert!(
        (got / want - 1.0).abs() <= 0.1,
        "{what}: fitted {got}, made with {want}"
    );
}

/// Sessions starting at 10, 30 and 20 a second for two minutes each, 4
/// pages each, exponential think times of mean 4 s: logged as a plain
/// access log (two lines broken on purpose), fitted back with 2-minute
/// buckets.
#[test]
fn a_session_rate_curve_makes_the_round_trip() {
    let dir = fresh_dir("traffic-round-trip-sessions");
    let scenario = site(
        "sessions",
        "visitors = 100000\nsession_rate = { every = \"2m\", rates = [10, 30, 20] }\npages_per_session = 4\nthink_time = { mean = \"4s\" }",
        "6m",
    );
    let file = dir.join("scenario.toml");
    std::fs::write(&file, &scenario).unwrap();
    let log = dir.join("access.log");
    let o = ttlab(&[
        "traffic",
        "log",
        file.to_str().unwrap(),
        "-o",
        log.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("requests over 6m written to"), "{err}");

    // Two broken lines among the good ones: named by number, skipped.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let good = lines.len();
    assert!(good > 25_000, "{good} requests");
    lines.insert(2, "not a request");
    lines.insert(499, "10.0.0.1 - - [yesterday] \"GET / HTTP/1.1\" 200 -");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();

    // A 40 s pause ends a session: no think time of mean 4 s comes near it
    // (e^-10), and two sessions of one visitor within it are few.
    let (out, err) = fit(&log, &["--bucket", "2m", "--session-gap", "40s"]);
    assert!(err.contains("access.log:3: skipped: no [time]"), "{err}");
    assert!(
        err.contains("access.log:500: skipped: time [yesterday]"),
        "{err}"
    );
    assert!(out.contains("# 2 line(s) could not be read"), "{out}");
    assert!(out.contains(&format!(": {good} requests over")), "{out}");
    assert!(
        out.contains("session_rate = { every = \"2m\", rates = ["),
        "{out}"
    );

    let s = paste(&scenario, &out);
    let Load::Sessions { rate } = &s.traffic.load else {
        panic!("not sessions: {:?}\n{out}", s.traffic.load);
    };
    assert_eq!(rate.points.len(), 3, "{out}");
    for (i, (&(at, got), want)) in rate.points.iter().zip([10.0, 30.0, 20.0]).enumerate() {
        assert_eq!(at, Micros::from_secs(120 * i as u64), "{out}");
        assert_rate(got, want, 120.0, &format!("bucket {i}"));
    }
    assert_eq!(s.traffic.pages_per_session, 4, "{out}");
    let Dist::Exponential { mean } = s.traffic.think_time else {
        panic!("not exponential: {:?}\n{out}", s.traffic.think_time);
    };
    assert_within_10pc(mean.as_secs_f64(), 4.0, "think time mean");
    assert_zipf(&s);
    // Visitors drawn from 100,000: about n²/2V sessions come back, from
    // which the fit tells the population (sessions of one visitor within
    // the gap merge, so it errs high).
    let v = f64::from(s.traffic.visitors);
    assert!((75_000.0..150_000.0).contains(&v), "visitors {v}\n{out}");
}

/// Single requests at a constant 25 a second, logged as CSV and fitted
/// without visitor ids: a flat `arrival_rate`, one number.
#[test]
fn a_constant_arrival_rate_makes_the_round_trip() {
    let dir = fresh_dir("traffic-round-trip-arrivals");
    let scenario = site("arrivals", "visitors = 1000\narrival_rate = 25", "6m");
    let (out, _) = log_and_fit(&dir, &scenario, "requests.csv", &[], &["--visitor", ""]);
    assert!(out.contains("no visitors"), "{out}");
    assert!(out.contains("are flat: one rate"), "{out}");
    let s = paste(&scenario, &out);
    let Load::Requests { rate } = &s.traffic.load else {
        panic!("not single requests: {:?}\n{out}", s.traffic.load);
    };
    assert!(rate.is_constant(), "{out}");
    assert_rate(rate.peak(), 25.0, 360.0, "the whole run");
    assert_zipf(&s);
}

/// Single requests on a ramp from 5 to 45 a second, logged as gzip'd JSON
/// lines with visitor ids: each visitor asks once (sessions of one page),
/// so the fit says `arrival_rate`, each minute at the ramp's mean over it.
#[test]
fn an_arrival_rate_ramp_makes_the_round_trip() {
    let dir = fresh_dir("traffic-round-trip-ramp");
    let scenario = site(
        "ramp",
        "visitors = 100000\narrival_rate = { from = 5, to = 45, over = \"6m\" }",
        "6m",
    );
    let (out, _) = log_and_fit(
        &dir,
        &scenario,
        "requests.jsonl.gz",
        &[],
        &["--bucket", "1m"],
    );
    assert!(
        out.contains("single requests, each from a visitor"),
        "{out}"
    );
    let s = paste(&scenario, &out);
    let Load::Requests { rate } = &s.traffic.load else {
        panic!("not single requests: {:?}\n{out}", s.traffic.load);
    };
    assert_eq!(rate.points.len(), 6, "{out}");
    for (i, &(_, got)) in rate.points.iter().enumerate() {
        let want = 5.0 + 40.0 * (i as f64 + 0.5) / 6.0;
        assert_rate(got, want, 60.0, &format!("minute {i}"));
    }
    assert_zipf(&s);
    // About 9,000 requests from 100,000 visitors: some 400 come back, which
    // says the population within about 5%.
    let v = f64::from(s.traffic.visitors);
    assert!((85_000.0..115_000.0).contains(&v), "visitors {v}\n{out}");
}

/// A closed loop of 40 users, sessions of 3 pages with exponential think
/// times of mean 2 s: each user starts a session every 6 s on average, so
/// the log shows sessions starting at 40 / 6 a second.
#[test]
fn a_closed_loop_makes_the_round_trip() {
    let dir = fresh_dir("traffic-round-trip-closed");
    let scenario = site(
        "closed",
        "visitors = 5000\nusers = 40\npages_per_session = 3\nthink_time = { mean = \"2s\" }",
        "3m",
    );
    let (out, _) = log_and_fit(
        &dir,
        &scenario,
        "requests.tsv.zst",
        &["--start", "2026-11-30T08:00:00Z"],
        &["--session-gap", "20s"],
    );
    let s = paste(&scenario, &out);
    let Load::Sessions { rate } = &s.traffic.load else {
        panic!("not sessions: {:?}\n{out}", s.traffic.load);
    };
    let mean = rate.points.iter().map(|p| p.1).sum::<f64>() / rate.points.len() as f64;
    assert_rate(mean, 40.0 / 6.0, 180.0, "sessions a second");
    assert_eq!(s.traffic.pages_per_session, 3, "{out}");
    assert_within_10pc(
        s.traffic.think_time.mean().as_secs_f64(),
        2.0,
        "think time mean",
    );
    assert_zipf(&s);
}

/// A trace scenario's log is its replayed requests: the trace's times from
/// its first request (at `speed`), its pages, one population visitor per
/// trace visitor.
#[test]
fn a_trace_is_logged_as_replayed() {
    let dir = fresh_dir("traffic-log-trace");
    std::fs::write(
        dir.join("trace.csv"),
        "time,path,visitor\n100.0,/p/1,a\n100.5,/p/2,b\n101.0,/p/1,a\n103.0,/p/3,c\n",
    )
    .unwrap();
    let scenario = site(
        "replay",
        "visitors = 10\ntrace = \"trace.csv\"\nspeed = 2.0",
        "1m",
    );
    let file = dir.join("scenario.toml");
    std::fs::write(&file, &scenario).unwrap();
    let o = ttlab(&["traffic", "log", file.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        got,
        [
            ("0.000000", "/p/1"),
            ("0.250000", "/p/2"),
            ("0.500000", "/p/1"),
            ("1.500000", "/p/3")
        ],
        "{out}"
    );
    assert_eq!(rows[0][2], rows[2][2], "one trace visitor, one visitor");
    assert_ne!(rows[0][2], rows[1][2]);
    assert_eq!(
        rows[0][2].len(),
        36,
        "a world visitor's uid: {}",
        rows[0][2]
    );
}

/// The same scenario gives the same log, byte for byte; `--start` moves it
/// in time; a bad `--start` or a log with no readable line is bad input.
#[test]
fn a_log_is_reproducible_and_bad_input_says_where() {
    let dir = fresh_dir("traffic-log-input");
    let a = ttlab(&["traffic", "log", "quickstart"]);
    let b = ttlab(&["traffic", "log", "quickstart"]);
    assert_eq!(a.status.code(), Some(0));
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout);
    let first = String::from_utf8_lossy(&a.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(first.contains("[01/Jan/1970:00:00:00 +0000]"), "{first}");
    let moved = ttlab(&[
        "traffic",
        "log",
        "quickstart",
        "--start",
        "2026-11-30T08:00:00+01:00",
    ]);
    let moved = String::from_utf8_lossy(&moved.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(moved.contains("[30/Nov/2026:07:00:00 +0000]"), "{moved}");

    let o = ttlab(&["traffic", "log", "quickstart", "--start", "8am"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--start: time \"8am\" is not RFC 3339"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let junk = dir.join("junk.log");
    std::fs::write(&junk, "\nnot a request\nnor this\n").unwrap();
    let o = ttlab(&["traffic", "fit", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("junk.log: none of its 2 lines could be read as an access log")
            && err.contains("line 2: no [time]"),
        "{err}"
    );
}
