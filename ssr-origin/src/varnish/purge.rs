//! The publish webhook, for Varnish: the Delivery mock posts its
//! entry-publish webhook here (the same `/_ttlab/webhook/publish` every
//! ttlab layer answers), and each publish becomes a `PURGE` of the entry's
//! surrogate key, which the generated VCL hands to `xkey`. Purges that fail
//! (no connection, an answer that is not 2xx) are counted with the last
//! error, for the report's warnings: a purge that did not happen is what
//! makes pages stale, so it is never swallowed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ttlab_scenarios::World;

use super::vcl::{PURGE_KEY_HEADER, PURGED_HEADER};
use crate::webhook;

/// How long one purge may take before it counts as failed.
const PURGE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the receiver's purges came to.
#[derive(Debug, Default)]
pub struct PurgeTally {
    /// Purges Varnish answered 200.
    pub sent: AtomicU64,
    /// Objects `xkey` purged, as Varnish counted them.
    pub purged: AtomicU64,
    /// Purges that failed: no connection, a timeout, or an answer that is
    /// not 2xx.
    pub failed: AtomicU64,
    /// The last failure, in words.
    pub last_error: Mutex<Option<String>>,
}

impl PurgeTally {
    /// The report's warning when a purge failed, none otherwise.
    pub fn warning(&self) -> Option<String> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed == 0 {
            return None;
        }
        let total = failed + self.sent.load(Ordering::Relaxed);
        let last = self
            .last_error
            .lock()
            .expect("purge error")
            .clone()
            .unwrap_or_default();
        Some(format!(
            "varnish: {failed} of {total} purges on publish failed (last: {last}); pages of those entries stayed in the cache until they expired"
        ))
    }

    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %why, "purge through Varnish failed");
        *self.last_error.lock().expect("purge error") = Some(why);
    }
}

/// The receiver's state: where Varnish is, and the tally.
pub struct PurgeReceiver {
    world: Arc<World>,
    varnish_url: String,
    http: reqwest::Client,
    purge_on_publish: bool,
    /// What its purges came to.
    pub tally: Arc<PurgeTally>,
}

impl PurgeReceiver {
    /// A receiver purging in Varnish at `varnish_url` when
    /// `purge_on_publish` (otherwise it answers that it purges nothing, as
    /// ttlab's layers do).
    pub fn new(world: Arc<World>, varnish_url: &str, purge_on_publish: bool) -> Self {
        let http = reqwest::Client::builder()
            .timeout(PURGE_TIMEOUT)
            .build()
            .expect("an HTTP client without TLS builds");
        PurgeReceiver {
            world,
            varnish_url: varnish_url.trim_end_matches('/').to_owned(),
            http,
            purge_on_publish,
            tally: Arc::new(PurgeTally::default()),
        }
    }

    /// Its routes: the publish webhook, `/metrics`; anything else 404.
    pub fn router(self: &Arc<Self>) -> Router {
        webhook::routes::<Self, _, _>(self.clone(), || async {
            (
                StatusCode::NOT_FOUND,
                "this is ttlab's purge receiver for Varnish\n",
            )
                .into_response()
        })
    }

    /// Sends one `PURGE` of surrogate key `key`; the objects purged.
    ///
    /// # Errors
    ///
    /// What failed, in words (also counted in the tally).
    pub async fn purge_key(&self, key: &str) -> Result<u64, String> {
        let method = reqwest::Method::from_bytes(b"PURGE").expect("a method name");
        let result = self
            .http
            .request(method, format!("{}/", self.varnish_url))
            .header(PURGE_KEY_HEADER, key)
            .send()
            .await;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                let why = format!("PURGE {key}: {e}");
                self.tally.fail(why.clone());
                return Err(why);
            }
        };
        if !resp.status().is_success() {
            let why = format!("PURGE {key}: Varnish answered {}", resp.status());
            self.tally.fail(why.clone());
            return Err(why);
        }
        let n = resp
            .headers()
            .get(PURGED_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        self.tally.sent.fetch_add(1, Ordering::Relaxed);
        self.tally.purged.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
}

impl webhook::Purger for PurgeReceiver {
    type State = PurgeReceiver;

    async fn purge(state: &PurgeReceiver, entry: u32) -> Option<usize> {
        if !state.purge_on_publish {
            return None;
        }
        let uid = state
            .world
            .scenario()
            .content
            .entries
            .get(entry as usize)?
            .uid
            .clone();
        // A failure is counted by purge_key; the webhook still answers.
        Some(state.purge_key(&uid).await.map_or(0, |n| n as usize))
    }

    fn world(state: &PurgeReceiver) -> &World {
        &state.world
    }

    fn metrics_text(state: &PurgeReceiver) -> String {
        let t = &state.tally;
        format!(
            "ttlab_varnish_purges_sent {}\nttlab_varnish_purged {}\nttlab_varnish_purges_failed {}\n",
            t.sent.load(Ordering::Relaxed),
            t.purged.load(Ordering::Relaxed),
            t.failed.load(Ordering::Relaxed)
        )
    }
}
