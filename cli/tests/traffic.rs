//! `ttlab traffic fit` as a user runs it on an access log: bad lines named
//! by number and skipped, and a `[traffic]` table a scenario accepts.

mod common;

use common::ttlab;

use std::fmt::Write as _;

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
