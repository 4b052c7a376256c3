//! No scenario makes a shipped command abort for lack of memory: under
//! `ulimit -v 4000000` (4 GB of address space), `validate`, `sim`, `check`,
//! `run` (one page view per user) and `serve mocks` start-up on every shipped
//! scenario and on files at and just past each bound of the scenario format
//! (`ttlab_scenarios::bounds`) end with 0, 1 or 2 — never a signal, never
//! "memory allocation … failed". A file at its bounds validates; one past a
//! bound is refused with its file, line and column and exit 2 by every command.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use common::{spawn_limited, ttlab_limited};
use ttlab_scenarios::bounds;
use ttlab_scenarios::shipped::SHIPPED;
use ttlab_test_support::process::{Lines, fresh_dir, interrupt};

/// The address space every command gets, in kilobytes.
const LIMIT_KB: u64 = 4_000_000;

/// The longest one command may take (a debug build on a loaded machine).
const BOUND: Duration = Duration::from_secs(300);

/// A small valid scenario with `changes` applied: (text to replace, by what).
fn scenario(changes: &[(&str, &str)]) -> String {
    let mut s = r#"[scenario]
name = "bounds"
seed = 1
duration = "1s"

[traffic]
visitors = 10
arrival_rate = 50.0
#TRAFFIC

#ATTRIBUTES
[content]

[[content.entries]]
uid = "e"
content_type = "hero"

[[content.pages]]
path = "/"
entries = ["e"]

#CONTENT
#TIMELINE
[faults.delivery]
latency = "5ms"

[cache]
ttl = "30s"
#CACHE

[[architectures]]
name = "ssr-edge"
#SWEEP
"#
    .to_owned();
    for (from, to) in changes {
        assert!(s.contains(from), "the base scenario has {from:?}");
        s = s.replacen(from, to, 1);
    }
    s
}

/// `key` at one value in the `[traffic]` table.
fn traffic(key: &str, value: &str) -> String {
    format!("{key} = {value}")
}

/// A case: a name, the changes at the bound, the changes just past it, and
/// whether a real run at the bound is cheap enough to make here.
struct Case {
    name: &'static str,
    at: Vec<(&'static str, String)>,
    past: Vec<(&'static str, String)>,
    real_run: bool,
}

fn case(
    name: &'static str,
    at: Vec<(&'static str, String)>,
    past: Vec<(&'static str, String)>,
    real_run: bool,
) -> Case {
    Case {
        name,
        at,
        past,
        real_run,
    }
}

fn page_set(count: u64, per_page: u64) -> String {
    format!(
        "[[content.page_sets]]\npath = \"/p/{{i}}\"\ncount = {count}\ncontent_type = \"product\"\nentries_per_page = {per_page}\n"
    )
}

fn attributes(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        writeln!(
            s,
            "[[attributes]]\nname = \"a{i}\"\nvalues = {{ x = 1, y = 1 }}\n"
        )
        .unwrap();
    }
    s
}

fn sweep(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("\"{}s\"", i + 1)).collect();
    format!("[sweep]\nttl = [{}]\n", values.join(", "))
}

#[allow(clippy::too_many_lines)] // one entry per bound
fn cases() -> Vec<Case> {
    let rate = bounds::MAX_RATE;
    vec![
        case(
            "visitors",
            vec![("visitors = 10", format!("visitors = {}", bounds::MAX_VISITORS))],
            vec![("visitors = 10", format!("visitors = {}", bounds::MAX_VISITORS + 1))],
            true,
        ),
        case(
            "users",
            vec![(
                "arrival_rate = 50.0",
                format!("users = {}\nthink_time = \"10ms\"", bounds::MAX_USERS),
            )],
            vec![(
                "arrival_rate = 50.0",
                format!("users = {}\nthink_time = \"10ms\"", bounds::MAX_USERS + 1),
            )],
            false,
        ),
        case(
            "duration",
            vec![
                ("duration = \"1s\"", format!("duration = \"{}\"", bounds::MAX_RUN)),
                ("arrival_rate = 50.0", "arrival_rate = 0.01".to_owned()),
            ],
            vec![(
                "duration = \"1s\"",
                format!("duration = \"{} 1s\"", bounds::MAX_RUN),
            )],
            true,
        ),
        case(
            "arrival_rate",
            vec![
                ("duration = \"1s\"", "duration = \"100ms\"".to_owned()),
                ("arrival_rate = 50.0", format!("arrival_rate = {rate:.1}")),
            ],
            vec![("arrival_rate = 50.0", format!("arrival_rate = {:.1}", rate + 1.0))],
            true,
        ),
        case(
            "timeline rate",
            vec![
                ("duration = \"1s\"", "duration = \"100ms\"".to_owned()),
                (
                    "#TIMELINE",
                    format!("[[timeline]]\naction = \"publish\"\nrate = {rate:.1}\n"),
                ),
            ],
            vec![(
                "#TIMELINE",
                format!("[[timeline]]\naction = \"publish\"\nrate = {:.1}\n", rate + 1.0),
            )],
            true,
        ),
        case(
            "page set count",
            vec![("#CONTENT", page_set(bounds::MAX_PAGES - 1, 1))],
            vec![("#CONTENT", page_set(bounds::MAX_PAGES, 1))],
            true,
        ),
        case(
            "entries per page",
            vec![("#CONTENT", page_set(1, bounds::MAX_ENTRIES_PER_PAGE))],
            vec![("#CONTENT", page_set(1, bounds::MAX_ENTRIES_PER_PAGE + 1))],
            true,
        ),
        case(
            "max_entries",
            vec![(
                "#CACHE",
                format!("max_entries = {}", bounds::MAX_CACHE_ENTRIES),
            )],
            vec![(
                "#CACHE",
                format!("max_entries = {}", bounds::MAX_CACHE_ENTRIES + 1),
            )],
            true,
        ),
        case(
            "max_bytes",
            vec![("#CACHE", format!("max_bytes = {}", bounds::MAX_CACHE_BYTES))],
            vec![(
                "#CACHE",
                format!("max_bytes = {}", bounds::MAX_CACHE_BYTES + 1),
            )],
            true,
        ),
        case(
            "ttl",
            vec![("ttl = \"30s\"", "ttl = \"365days\"".to_owned())],
            vec![("ttl = \"30s\"", "ttl = \"366days\"".to_owned())],
            true,
        ),
        case(
            "latency",
            vec![("latency = \"5ms\"", "latency = \"1h\"".to_owned())],
            vec![("latency = \"5ms\"", "latency = \"1h 1ms\"".to_owned())],
            false,
        ),
        case(
            "think_time",
            vec![(
                "arrival_rate = 50.0",
                "users = 2\nthink_time = \"1ms\"".to_owned(),
            )],
            vec![(
                "arrival_rate = 50.0",
                "users = 2\nthink_time = \"999us\"".to_owned(),
            )],
            true,
        ),
        case(
            "mean_interval",
            vec![
                ("#ATTRIBUTES", attributes(1)),
                (
                    "#TIMELINE",
                    "[[timeline]]\naction = \"attribute_change\"\nattribute = \"a0\"\nmean_interval = \"1ms\"\n".to_owned(),
                ),
            ],
            vec![
                ("#ATTRIBUTES", attributes(1)),
                (
                    "#TIMELINE",
                    "[[timeline]]\naction = \"attribute_change\"\nattribute = \"a0\"\nmean_interval = \"999us\"\n".to_owned(),
                ),
            ],
            true,
        ),
        case(
            "attributes",
            vec![("#ATTRIBUTES", attributes(bounds::MAX_ATTRIBUTES))],
            vec![("#ATTRIBUTES", attributes(bounds::MAX_ATTRIBUTES + 1))],
            true,
        ),
        case(
            "sweep values",
            vec![("#SWEEP", sweep(bounds::MAX_SWEEP_VALUES))],
            vec![("#SWEEP", sweep(bounds::MAX_SWEEP_VALUES + 1))],
            true,
        ),
        case(
            "zipf_s",
            vec![(
                "#TRAFFIC",
                format!(
                    "popularity = \"zipf\"\n{}",
                    traffic("zipf_s", &format!("{:.1}", bounds::MAX_ZIPF_S))
                ),
            )],
            vec![(
                "#TRAFFIC",
                format!(
                    "popularity = \"zipf\"\n{}",
                    traffic("zipf_s", &format!("{:.1}", bounds::MAX_ZIPF_S + 1.0))
                ),
            )],
            true,
        ),
    ]
}

/// Checks that `ttlab args` under the limit ended with one of `allowed`,
/// not by a signal, and without an allocation failure; returns its stderr.
fn ends_well(args: &[&str], allowed: &[i32]) -> String {
    let out = ttlab_limited(LIMIT_KB, args, BOUND);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("memory allocation"),
        "ttlab {args:?} ran out of memory: {stderr}"
    );
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| allowed.contains(&c)),
        "ttlab {args:?} ended with {:?}, expected one of {allowed:?}: {stderr}",
        out.status
    );
    stderr
}

/// `ttlab serve mocks` on `file` starts under the limit: it says it serves
/// (then Ctrl-C ends it with 0), or it refuses the file with 2.
fn serve_starts(file: &str, valid: bool) {
    let args = ["serve", "mocks", "--scenario", file];
    if !valid {
        ends_well(&args, &[2]);
        return;
    }
    let mut child = spawn_limited(LIMIT_KB, &args);
    let stderr = Lines::of(child.stderr.take().unwrap());
    let mut stdout = Lines::of(child.stdout.take().unwrap());
    stdout.wait_for_line(BOUND, "the mocks serving", |l| {
        l.starts_with("Serving until Ctrl-C")
    });
    let status = interrupt(&mut child, Duration::from_secs(30));
    let stderr = stderr.rest().join("\n");
    assert!(!stderr.contains("memory allocation"), "{stderr}");
    assert_eq!(
        status.code(),
        Some(0),
        "serve mocks {file}: {status:?}: {stderr}"
    );
}

/// Every command on `file`: exits 0 for `validate` when `valid`, 2 for all
/// when not.
fn every_command(file: &str, out: &Path, valid: bool, real_run: bool) {
    let out = out.to_str().unwrap();
    let ok: &[i32] = if valid { &[0, 1, 2] } else { &[2] };
    let stderr = ends_well(&["validate", "-q", file], if valid { &[0] } else { &[2] });
    if !valid {
        assert!(
            stderr.contains(&format!("{file}:")),
            "the problem names the file, line and column: {stderr}"
        );
    }
    ends_well(&["sim", "-q", "--no-tui", "-o", out, file], ok);
    ends_well(&["check", "-o", out, file], ok);
    if real_run || !valid {
        ends_well(
            &[
                "run",
                "-q",
                "--no-tui",
                "--page-views",
                "1",
                "-o",
                out,
                file,
            ],
            ok,
        );
    }
    serve_starts(file, valid);
}

#[test]
fn every_shipped_scenario_runs_under_a_4_gb_address_space() {
    let dir = fresh_dir("bounds-shipped");
    for s in SHIPPED {
        every_command(s.name, &dir.join("reports"), true, true);
    }
}

#[test]
fn files_at_each_bound_run_and_files_past_it_are_refused_under_a_4_gb_address_space() {
    let dir = fresh_dir("bounds-cases");
    for c in cases() {
        let at: Vec<(&str, &str)> = c.at.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let past: Vec<(&str, &str)> = c.past.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let file = dir.join("bounds.toml");
        std::fs::write(&file, scenario(&at)).unwrap();
        eprintln!("at the bound: {}", c.name);
        every_command(
            file.to_str().unwrap(),
            &dir.join("reports"),
            true,
            c.real_run,
        );
        std::fs::write(&file, scenario(&past)).unwrap();
        eprintln!("past the bound: {}", c.name);
        every_command(file.to_str().unwrap(), &dir.join("reports"), false, false);
    }
}

#[test]
fn bounds_that_hold_alone_but_not_together_are_refused() {
    let dir = fresh_dir("bounds-combined");
    let file = dir.join("bounds.toml");
    // A million visitors, each changing an attribute every second for an hour.
    let text = scenario(&[
        (
            "visitors = 10",
            &format!("visitors = {}", bounds::MAX_VISITORS),
        ),
        ("duration = \"1s\"", "duration = \"1h\""),
        ("#ATTRIBUTES", &attributes(1)),
        (
            "#TIMELINE",
            "[[timeline]]\naction = \"attribute_change\"\nattribute = \"a0\"\nmean_interval = \"1s\"\n",
        ),
    ]);
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    every_command(file, &dir.join("reports"), false, false);
    let stderr = ends_well(&["validate", file], &[2]);
    assert!(
        stderr.contains("would hold about") && stderr.contains("timeline events"),
        "the refusal says how much and names the keys: {stderr}"
    );
}

#[test]
fn a_file_past_the_size_bound_is_refused_before_it_is_read() {
    let dir = fresh_dir("bounds-size");
    let file = dir.join("bounds.toml");
    let mut text = scenario(&[]);
    let pad = "# padding\n".repeat((bounds::MAX_FILE_BYTES as usize) / 10 + 1);
    text.push_str(&pad);
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let stderr = ends_well(&["validate", file], &[2]);
    assert!(
        stderr.contains(&format!("{file}:1:1: the file is")),
        "{stderr}"
    );
}
