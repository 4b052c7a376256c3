//! A server's `/metrics` page, read the way the tests read it.
//!
//! Several tests check what a ttlab server counts (store bytes, CDN
//! counters, mock impressions) from its metrics text; the request, its
//! time bound and its failure messages are written once here.

use std::time::Duration;

/// The text of `GET {base}/metrics`, within 10 s; panics, naming the URL,
/// when the server does not answer or answers with an error status.
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    let url = format!("{base}/metrics");
    let answer = http
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = answer.status();
    assert!(status.is_success(), "GET {url}: status {status}");
    answer
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"))
}
