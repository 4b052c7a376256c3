//! The webhook queue: webhooks waiting to go out, and the task that posts
//! them. What goes in a webhook and when is `publish`'s job; this module
//! only moves payloads, so the shared state can own the queue's sender.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

/// How long one webhook delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// One webhook to send to every registered URL.
#[derive(Debug)]
pub(crate) struct Webhook {
    pub(crate) urls: Vec<String>,
    pub(crate) payload: Value,
}

/// Hands webhooks to the delivery task, in order.
pub(crate) type WebhookSender = mpsc::UnboundedSender<Webhook>;

/// Sends queued webhooks one after another until the channel closes, and
/// tells `record` whether each delivery to each URL succeeded.
pub(crate) async fn delivery_task(
    mut rx: mpsc::UnboundedReceiver<Webhook>,
    record: impl Fn(bool) + Send,
) {
    let client = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .user_agent("Contentstack")
        .build()
        .expect("an HTTP client without TLS builds");
    while let Some(hook) = rx.recv().await {
        for url in &hook.urls {
            let result = client.post(url).json(&hook.payload).send().await;
            let ok = matches!(&result, Ok(r) if r.status().is_success());
            if !ok {
                tracing::warn!(%url, ?result, "publish webhook failed");
            }
            record(ok);
        }
    }
}
