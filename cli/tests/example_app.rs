//! The example app end to end: `examples/personalized-app` — a Node site
//! written against the public Personalize Edge and Delivery SDKs, rendering
//! modular blocks, references and assets from the stack export kept beside
//! it — run by `ttlab run` through ttlab's CDN (shared and per visitor), its
//! edge and as-is, each judged by the content tokens of its pages.
//!
//! The verdicts are the point: the architectures that key on what
//! personalizes the page serve no wrong variant; the shared CDN does. And
//! no answer is an error, so every Delivery SDK call the app makes was
//! answered in the shapes the export holds (a failed call is a 500 page).
//!
//! Needs Node and the example's pinned packages (`npm ci` in
//! `examples/personalized-app`; `scripts/test.sh` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use ttlab_test_support::process::fresh_dir;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/personalized-app")
}

#[test]
fn the_example_app_is_judged_through_each_architecture() {
    let app = example();
    assert!(
        app.join("node_modules/@contentstack/delivery-sdk").is_dir(),
        "the example's packages are not installed: run `npm ci` in {} (scripts/test.sh does)",
        app.display()
    );
    let out = fresh_dir("example-app");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .arg("run")
        .arg(app.join("scenario.toml"))
        .arg("--out")
        .arg(&out)
        .arg("--no-tui")
        .arg("--quiet")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Four architectures of 5 s, each with its app started and stopped.
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ttlab run of the example did not end within 240 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "every threshold of the example should hold\nstderr:\n{stderr}"
    );
    let folders: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "one report folder: {folders:?}");
    let folder = &folders[0];
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("report.json")).unwrap())
            .unwrap();
    let archs = report["architectures"].as_array().unwrap();
    let names: Vec<&str> = archs.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["ssr-cdn-shared", "ssr-cdn-user", "ssr-edge", "as-is"]
    );
    for a in archs {
        let name = a["name"].as_str().unwrap();
        let count = |class: &str| {
            a["classes"][class]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: classes.{class}: {}", a["classes"]))
        };
        let requests = a["requests"].as_u64().unwrap();
        assert!(requests > 50, "{name}: only {requests} requests");
        assert_eq!(
            count("error"),
            0,
            "{name}: every page answered and carried tokens"
        );
        assert_eq!(count("leak"), 0, "{name}");
        assert!(count("fresh") > 0, "{name}");
        if name == "ssr-cdn-shared" {
            assert!(
                count("wrong_variant") > 0,
                "the shared CDN serves one visitor's variant to others"
            );
        } else {
            assert_eq!(
                count("wrong_variant"),
                0,
                "{name} keys on what personalizes the page"
            );
        }
        for t in a["thresholds"].as_array().unwrap() {
            assert_eq!(t["holds"], true, "{name}: {t}");
        }
        // The app's own output is kept beside the report.
        let log = folder.join(a["app"]["log"].as_str().unwrap());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("personalized-app listening on"),
            "{}: {text}",
            log.display()
        );
    }
    // The edge passed the variants: the app behind it asked Personalize nothing.
    let edge = &archs[2];
    assert_eq!(
        edge["origin"]["personalize_calls"].as_u64(),
        edge["requests"].as_u64(),
        "behind the edge every Personalize call is the edge's, one per request"
    );
}
