//! `ttlab serve mocks` as a user runs it: prints its URLs, answers on them,
//! and stops cleanly on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ttlab_test_support::process::interrupt;

#[test]
fn serves_until_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttlab"))
        .args(["serve", "mocks", "--scenario", "quickstart"])
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
