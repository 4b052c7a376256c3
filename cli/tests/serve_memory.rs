//! `ttlab serve mocks` as a real process under input that used to grow it
//! without end: 100,000 `PATCH /user-attributes` with random user uids and
//! a few thousand impressions with random experience and variant ids, over
//! keep-alive connections. Its resident memory (`VmRSS`) must grow less
//! than the documented bound, and `/metrics` must stay small (see
//! "Servers: limits and error answers" in `docs/architecture.md`).

mod common;

use std::time::{Duration, Instant};

use common::spawn_ttlab;
use ttlab_test_support::metrics_text;
use ttlab_test_support::process::{Lines, interrupt, rss_kib};
use xxhash_rust::xxh3::xxh3_128;

/// The documented bound on the mocks' memory growth under any number of
/// unknown users: the bounded user store full, plus allocator slack.
const MAX_RSS_GROWTH_KIB: u64 = 8 * 1024;
/// `/metrics` after the flood (6.0 KiB measured; a series per made-up
/// impression id would add 3,000 lines, some 250 KiB).
const MAX_METRICS_BYTES: usize = 16 * 1024;
const USERS: u64 = 100_000;
const IMPRESSION_BATCHES: u64 = 300;
const IMPRESSIONS_PER_BATCH: u64 = 10;
const CONNECTIONS: u64 = 8;
/// Every request of the test is sent before this, or it fails.
const BUDGET: Duration = Duration::from_secs(400);

/// A random-looking id, a new one for every `n`.
fn id(salt: u64, n: u64) -> String {
    format!(
        "{:032x}",
        xxh3_128(&[salt.to_le_bytes(), n.to_le_bytes()].concat())
    )
}

async fn patch(client: &reqwest::Client, base: &str, uid: &str, n: u64) {
    let r = client
        .patch(format!("{base}/user-attributes"))
        .header("x-project-uid", "ttlab-project")
        .header("x-cs-personalize-user-uid", uid)
        .body(format!(
            r#"{{"country":"DE","plan":"{}","note":"{}"}}"#,
            id(1, n),
            id(2, n)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// One connection's share: users `lane`, `lane + CONNECTIONS`, …, then
/// impression batches the same way, each batch of made-up ids.
async fn flood(client: reqwest::Client, base: String, lane: u64, started: Instant) {
    let mut user = lane;
    while user < USERS {
        assert!(started.elapsed() < BUDGET, "within {BUDGET:?}");
        patch(&client, &base, &id(0, user), user).await;
        user += CONNECTIONS;
    }
    let mut batch = lane;
    while batch < IMPRESSION_BATCHES {
        assert!(started.elapsed() < BUDGET, "within {BUDGET:?}");
        let events: Vec<serde_json::Value> = (0..IMPRESSIONS_PER_BATCH)
            .map(|i| {
                let n = batch * IMPRESSIONS_PER_BATCH + i;
                serde_json::json!({
                    "type": "IMPRESSION",
                    "experienceShortUid": id(3, n),
                    "variantShortUid": id(4, n),
                })
            })
            .collect();
        let r = client
            .post(format!("{base}/events"))
            .header("x-project-uid", "ttlab-project")
            .header("x-cs-personalize-user-uid", id(0, batch))
            .body(serde_json::Value::Array(events).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        batch += CONNECTIONS;
    }
}

#[test]
fn memory_stays_bounded_under_100k_random_users() {
    let mut child = spawn_ttlab(&["serve", "mocks", "--scenario", "quickstart"]);
    let pid = child.id();
    let mut out = Lines::of(child.stdout.take().unwrap());
    let line = out.wait_for_line(Duration::from_secs(20), "the Personalize URL", |l| {
        l.starts_with("  Personalize Edge API")
    });
    let base = line.split_whitespace().last().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    out.wait_for_line(Duration::from_secs(20), "the mocks serving", |l| {
        l.starts_with("Serving until Ctrl-C")
    });

    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let (before, after, metrics) = rt.block_on(async {
        let clients: Vec<reqwest::Client> = (0..CONNECTIONS)
            .map(|_| {
                reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap()
            })
            .collect();
        // Warm up with one known user on every connection: threads,
        // connections and buffers exist before the first reading.
        for c in &clients {
            for n in 0..200 {
                patch(c, &base, "ttlab-warm-up", n).await;
            }
        }
        let before = rss_kib(pid);
        let mut tasks = Vec::new();
        for (lane, client) in clients.iter().enumerate() {
            tasks.push(tokio::spawn(flood(
                client.clone(),
                base.clone(),
                lane as u64,
                started,
            )));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let after = rss_kib(pid);
        let metrics = metrics_text(&clients[0], &base).await;
        (before, after, metrics)
    });
    let took = started.elapsed();
    eprintln!(
        "VmRSS {before} kB before, {after} kB after {USERS} random users and {} impressions ({took:?}); /metrics {} bytes",
        IMPRESSION_BATCHES * IMPRESSIONS_PER_BATCH,
        metrics.len()
    );
    let exit = interrupt(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "Ctrl-C is a clean stop: {exit:?}");
    assert!(
        after.saturating_sub(before) < MAX_RSS_GROWTH_KIB,
        "VmRSS grew from {before} kB to {after} kB, more than {MAX_RSS_GROWTH_KIB} kB"
    );
    assert!(
        metrics.len() < MAX_METRICS_BYTES,
        "/metrics is {} bytes",
        metrics.len()
    );
    let impressions: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("ttlab_mock_impressions_total{"))
        .collect();
    assert_eq!(
        impressions,
        [format!(
            "ttlab_mock_impressions_total{{experience=\"unknown\",variant=\"unknown\"}} {}",
            IMPRESSION_BATCHES * IMPRESSIONS_PER_BATCH
        )],
        "every made-up id counts under one label"
    );
}
