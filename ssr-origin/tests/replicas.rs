//! Origin replicas sharing a Redis cache, end to end on port 0:
//! what one replica stores another serves, a purge through one replica's
//! webhook drops the page for all, and a stampede spread over the replicas
//! renders the page once (the cross-replica fill lock).

mod common;

use std::time::Duration;

use common::{fetch, lab, scenario};
use ttlab_test_support::redis::RedisServer;

fn replicas(server: &RedisServer, n: u32, extra: &str) -> String {
    scenario(
        extra,
        &format!(
            "[[architectures]]\nname = \"ssr-origin-variant\"\ncache = {{ ttl = \"1m\", purge_on_publish = true, backend = \"redis\", redis_url = \"{}\", origin_replicas = {n} }}",
            server.url()
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_entries_and_purges() {
    let server = RedisServer::start();
    let lab = lab(&replicas(&server, 3, ""), 0).await;
    let urls = lab.stack.origin_urls.clone();
    assert_eq!(urls.len(), 3);
    assert_eq!(lab.stack.entry_urls, urls, "visitors go to the replicas");
    let uid = lab.uid(0);
    let get = |i: usize| {
        fetch(
            lab.http
                .get(format!("{}/", urls[i]))
                .header("cookie", format!("cs-personalize-user-uid={uid}"))
                .timeout(Duration::from_secs(10)),
        )
    };
    let first = get(0).await;
    assert_eq!(first.header("x-cache"), "origin=MISS");
    for i in [1, 2, 0] {
        let p = get(i).await;
        assert_eq!(p.header("x-cache"), "origin=HIT", "replica {i}");
        assert_eq!(p.header("x-ttlab-content"), first.header("x-ttlab-content"));
    }
    assert_eq!(lab.stack.view.origin_renders(), 1);

    // The publish webhook reaches one replica; the store is everyone's.
    let r = lab
        .http
        .post(format!("{}/_ttlab/webhook/publish", urls[0]))
        .json(&serde_json::json!({ "data": { "entry": { "uid": "hero" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Fills that began at the purge's instant are barred: move on.
    lab.clock.advance(ttlab_scenarios::Micros::from_millis(1));
    assert_eq!(
        get(2).await.header("x-cache"),
        "origin=MISS",
        "purged for all"
    );
    assert_eq!(get(1).await.header("x-cache"), "origin=HIT");

    let c = lab.stack.cache_counters().unwrap();
    assert_eq!(c.hits.get(), 4);
    assert_eq!(c.misses.get(), 2);
    assert_eq!(c.purged.get(), 1);
    assert!(lab.stack.view.store_outages().is_empty());
    assert_eq!(lab.stack.view.backend(), Some("redis"));
    lab.stop().await;
    assert_eq!(server.dbsize(), 0, "the stack cleared its namespace");
}

/// 150 requests for one cold key spread over three replicas while Delivery
/// takes 500 ms: one render and one fetch per entry in all; every other
/// request waited — in its own replica's single flight, or for another
/// replica through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_over_three_replicas_renders_once() {
    let server = RedisServer::start();
    let toml = replicas(
        &server,
        3,
        "[faults.delivery]\nlatency = \"500ms\"\n\n[origin]\npersonalize_timeout = \"30s\"\ndelivery_timeout = \"30s\"",
    );
    let lab = lab(&toml, 0).await;
    let urls = lab.stack.origin_urls.clone();
    let uid = lab.uid(0);
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            tokio::spawn(fetch(
                lab.http
                    .get(format!("{}/", urls[i % 3]))
                    .header("cookie", format!("cs-personalize-user-uid={uid}"))
                    .timeout(Duration::from_secs(20)),
            ))
        })
        .collect();
    for t in tasks {
        let p = t.await.unwrap();
        assert_eq!(p.status, 200);
    }
    assert_eq!(
        lab.stack.view.origin_renders(),
        1,
        "one render across replicas"
    );
    assert_eq!(lab.delivery_fetches(), 2, "hero and footer, once each");
    let c = lab.stack.cache_counters().unwrap();
    assert_eq!(c.requests(), 150);
    assert_eq!(c.upstream_fetches.get(), 1);
    assert_eq!(c.remote_fills.get(), 2, "the two other replicas' fills");
    assert_eq!(c.store_errors.get(), 0);
    lab.stop().await;
}
