//! What the goose users of one run share. The run's transaction is a
//! closure over an `Arc` of it (see `attack`), so several runs (tests) may
//! be under way in one process, each with its own.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use ttlab_scenarios::{Clock, Micros, SystemClock, World};

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
    /// An open-loop run's schedule and pool (`None`: closed loop).
    pub open: Option<super::open::OpenState>,
}

impl RunContext {
    /// Run time now.
    pub fn clock_now(&self) -> Micros {
        self.clock.now()
    }
}
