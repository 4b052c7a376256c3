//! What the goose users of one run share. The run's transaction is a
//! closure over an `Arc` of it (see `attack`), so several runs (tests) may
//! be under way in one process, each with its own.

use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

use ttlab_scenarios::{Clock, GateClock, Micros, World};

use crate::check::Checker;
use crate::record::Recorder;
use crate::script::PagePicker;

/// Shared by every goose user of one run.
pub struct RunContext {
    /// The world.
    pub world: Arc<World>,
    /// The run clock (shared with the servers).
    pub clock: Arc<dyn Clock>,
    /// A local run's clock, which the users start when they are up
    /// (`None` against a target, whose mocks' clock already runs).
    pub gate: Option<Arc<GateClock>>,
    /// The checker.
    pub checker: Checker<Arc<World>>,
    /// The popularity model.
    pub pages: PagePicker,
    /// Results.
    pub recorder: Mutex<Recorder>,
    /// Per visitor: how many of its attribute changes were sent (4 bytes a
    /// visitor: the run's one dense per-visitor table).
    pub sent_changes: Vec<AtomicU32>,
    /// The Personalize mock, for attribute updates.
    pub personalize_url: String,
    /// The name of the outermost caching layer in `x-cache`, if any.
    pub cache_layer: Option<&'static str>,
    /// When the cache is not ttlab's (Varnish): its counts, kept from the
    /// answers' `x-cache` as each answer comes.
    pub tally: Option<ttlab_ssr_origin::cache::LayerCounters>,
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
    /// When users stop sending on the run clock: the scenario's end for a
    /// local run; `None` when the run ends by count (`--page-views`) or
    /// by goose's run time (a target, whose mocks' clock started earlier).
    pub stop_at: Option<Micros>,
    /// An open-loop run's schedule and pool (`None`: closed loop).
    pub open: Option<super::pool::OpenState>,
}

impl RunContext {
    /// Run time now.
    pub fn clock_now(&self) -> Micros {
        self.clock.now()
    }

    /// Waits `span` of real time, or less once the run is stopped (Ctrl-C),
    /// so a user idling to its next visit or thinking ends with the run:
    /// goose waits for every user's transaction before it ends.
    pub async fn pause(&self, span: Micros) {
        const SLICE: std::time::Duration = std::time::Duration::from_millis(100);
        let until = std::time::Instant::now() + span.to_duration();
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || goose::is_killswitch_triggered() {
                return;
            }
            tokio::time::sleep(left.min(SLICE)).await;
        }
    }

    /// Whether the scenario's duration is over on the run clock: users
    /// send nothing after it, as the simulator stops there.
    pub fn over(&self) -> bool {
        self.stop_at.is_some_and(|end| self.clock_now() >= end)
    }
}
