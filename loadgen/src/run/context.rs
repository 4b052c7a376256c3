//! What the goose users of one run share, found by the run's entry URL:
//! goose transactions are plain functions, so they cannot capture it, and
//! several runs (tests) may be under way in one process.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};

use ttlab_scenarios::{SystemClock, World};

use crate::check::Checker;
use crate::record::Recorder;
use crate::script::PagePicker;

/// Shared by every goose user of one run.
pub struct RunContext {
    /// The world.
    pub world: Arc<World>,
    /// The run clock (shared with the servers).
    pub clock: SystemClock,
    /// The checker.
    pub checker: Checker<Arc<World>>,
    /// The popularity model.
    pub pages: PagePicker,
    /// Results.
    pub recorder: Mutex<Recorder>,
    /// Per visitor: how many of its attribute changes were sent.
    pub sent_changes: Vec<AtomicUsize>,
    /// The Personalize mock, for attribute updates.
    pub personalize_url: String,
    /// The name of the outermost caching layer in `x-cache`, if any.
    pub cache_layer: Option<&'static str>,
    /// Origin replicas to spread visitors over (visitor k goes to
    /// replica k mod n, as a sticky load balancer would); empty or one
    /// URL: goose's base URL for everyone.
    pub entry_urls: Vec<String>,
    /// Goose users in the whole run (on every load machine).
    pub users: u32,
    /// This machine's share of them: its goose user `i` is the run's user
    /// `share.user(i)`, with that user's script.
    pub share: crate::script::Share,
    /// Client for attribute updates.
    pub http: reqwest::Client,
}

fn registry() -> &'static Mutex<HashMap<String, Arc<RunContext>>> {
    static RUNS: OnceLock<Mutex<HashMap<String, Arc<RunContext>>>> = OnceLock::new();
    RUNS.get_or_init(Mutex::default)
}

fn key(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Makes `ctx` findable by goose users whose base URL is `entry_url`.
pub fn register(entry_url: &str, ctx: Arc<RunContext>) {
    registry()
        .lock()
        .expect("run registry")
        .insert(key(entry_url), ctx);
}

/// Forgets the run at `entry_url`.
pub fn unregister(entry_url: &str) {
    registry()
        .lock()
        .expect("run registry")
        .remove(&key(entry_url));
}

/// The run a goose user with this base URL belongs to.
pub fn find(base_url: &str) -> Option<Arc<RunContext>> {
    registry()
        .lock()
        .expect("run registry")
        .get(&key(base_url))
        .cloned()
}
