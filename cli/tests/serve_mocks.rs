//! `ttlab serve mocks` as a user runs it (`--host localhost`, which means
//! 127.0.0.1): prints its URLs, answers on them, and stops cleanly on
//! Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ttlab_test_support::process::interrupt;

#[test]
fn serves_until_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args([
            "serve",
            "mocks",
            "--scenario",
            "quickstart",
            "--host",
            "localhost",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut personalize = None;
    let mut delivery = None;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(url) = line.strip_prefix("  Personalize Edge API  ") {
            personalize = Some(url.trim().to_owned());
        }
        if let Some(url) = line.strip_prefix("  Delivery API          ") {
            delivery = Some(url.trim().to_owned());
        }
        if line.starts_with("Serving until Ctrl-C") {
            break;
        }
    }
    let personalize = personalize.expect("the Personalize URL is printed");
    let delivery = delivery.expect("the Delivery URL is printed");
    assert!(personalize.starts_with("http://127.0.0.1:"));
    assert!(delivery.ends_with("/v3"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let r = client
            .get(format!("{personalize}/manifest"))
            .header("x-project-uid", "ttlab-project")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-cs-personalize-user-uid"));
        let r = client
            .get(format!(
                "{delivery}/content_types/hero/entries/home_hero?environment=production"
            ))
            .header("api_key", "blt-ttlab-api-key")
            .header("access_token", "cs-ttlab-delivery-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });

    let exit = interrupt(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "Ctrl-C is a clean stop: {exit:?}");
}

/// `serve origin` on upstreams given by URL shows them as the origin calls
/// them: a Delivery URL given with its `/v3` is not shown as `/v3/v3`.
#[test]
fn serve_origin_shows_the_upstreams_it_calls() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args([
            "serve",
            "origin",
            "--scenario",
            "quickstart",
            "--arch",
            "ssr-origin-variant",
            "--personalize-url",
            "http://127.0.0.1:9/",
            "--delivery-url",
            "http://127.0.0.1:9/v3/",
            "-vv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = ttlab_test_support::process::Lines::of(child.stdout.take().unwrap());
    let err = ttlab_test_support::process::Lines::of(child.stderr.take().unwrap());
    let delivery = out.wait_for_line(Duration::from_secs(20), "the Delivery URL", |l| {
        l.trim_start().starts_with("Delivery")
    });
    out.wait_for_line(
        Duration::from_secs(20),
        "the server listening for Ctrl-C",
        |l| l.starts_with("Serving until Ctrl-C"),
    );
    assert_eq!(
        delivery.split_whitespace().last(),
        Some("http://127.0.0.1:9/v3")
    );
    let personalize = out
        .seen
        .iter()
        .find(|l| l.trim_start().starts_with("Personalize"))
        .expect("the Personalize URL is printed before Delivery's");
    assert_eq!(
        personalize.split_whitespace().last(),
        Some("http://127.0.0.1:9")
    );
    let exit = interrupt(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "Ctrl-C is a clean stop: {exit:?}");
    // Log lines to a pipe (a file, a CI log) carry no colour codes.
    let log = err.rest();
    assert!(!log.is_empty(), "-vv logs something");
    assert!(
        log.iter().all(|l| !l.contains('\u{1b}')),
        "no ANSI escapes when stderr is not a terminal: {log:?}"
    );
}
