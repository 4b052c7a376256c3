//! What the two mocks share: the world, the run clock, counters, the users
//! the Personalize mock met that are not in the scenario, and the timeline
//! cursor of publish webhooks.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use lru::LruCache;
use ttlab_export::Export;
use ttlab_scenarios::model::{AttrIdx, EntryIdx, ValueIdx};
use ttlab_scenarios::world::visitor_uid;
use ttlab_scenarios::{Clock, Micros, VariantSet, World};

use crate::config::MockConfig;
use crate::faults::FaultInjector;
use crate::metrics::{Api, Metrics};
use crate::webhooks::WebhookSender;

/// How many publish-webhook targets the mocks keep at most (distinct
/// URLs): enough for every layer of several stacks, small enough that the
/// control endpoint cannot be used to grow the list without end.
pub const MAX_WEBHOOKS: usize = 64;

/// How many Personalize users the scenario does not know the mocks keep
/// (those clients set attributes for): the least recently used is
/// forgotten past it, and comes back as a new user with no attributes —
/// what the real API does for a user it has never seen. Enough for SDK
/// tests and a team's own app against the mocks; bounded, because the uids
/// come from unauthenticated requests.
pub const MAX_EXTERNAL_VISITORS: usize = 10_000;

/// A Personalize user the scenario does not know: created by a request
/// without a user uid, or named by a client (an SDK, the user's own app).
/// Its attributes are what clients set with `PATCH /user-attributes`, kept
/// as what evaluation reads: per scenario attribute, unset, set to a value
/// the scenario does not have (it matches no audience), or set to one of
/// its values. Names the scenario does not have can match nothing and are
/// not kept, so a user's size does not depend on what a client sends.
#[derive(Clone, Debug, Default)]
struct ExternalVisitor {
    /// Indexed by `AttrIdx`.
    attributes: Vec<Slot>,
}

/// One attribute of an [`ExternalVisitor`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Slot {
    /// Never set.
    #[default]
    Unset,
    /// Set to a value the scenario does not have: matches no audience, and
    /// a merge carries it over the target's value.
    Unknown,
    /// Set to this value of the scenario's.
    Value(ValueIdx),
}

impl ExternalVisitor {
    /// Sets attribute `a` as a later `PATCH` does: over what was there.
    fn set(&mut self, a: AttrIdx, slot: Slot) {
        if self.attributes.len() <= a {
            self.attributes.resize(a + 1, Slot::Unset);
        }
        self.attributes[a] = slot;
    }

    /// The value of attribute `a` evaluation sees.
    fn value(&self, a: AttrIdx) -> Option<ValueIdx> {
        match self.attributes.get(a) {
            Some(Slot::Value(v)) => Some(*v),
            _ => None,
        }
    }
}

/// The key a user is kept under: the uid's 128-bit xxh3, so a long uid
/// costs no more than a short one.
fn visitor_key(uid: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(uid.as_bytes())
}

/// Shared state of one pair of mocks.
pub struct MockState {
    /// The world every answer comes from.
    pub world: Arc<World>,
    /// The run clock.
    pub clock: Arc<dyn Clock>,
    /// Credentials and knobs.
    pub config: MockConfig,
    /// Call counters.
    pub metrics: Metrics,
    /// Wall time at run time zero, for the timestamps in bodies.
    pub epoch: SystemTime,
    pub(crate) personalize_faults: FaultInjector,
    pub(crate) delivery_faults: FaultInjector,
    external: Mutex<LruCache<u128, ExternalVisitor>>,
    minted: AtomicU64,
    pub(crate) webhook_urls: RwLock<Vec<String>>,
    pub(crate) webhooks: WebhookSender,
    /// Index into the world's events of the next publish to deliver.
    pub(crate) timeline_cursor: Mutex<usize>,
    pub(crate) shutdown: tokio::sync::watch::Receiver<bool>,
    /// The world's entries by uid (entry uids are unique in a stack).
    entry_index: HashMap<String, EntryIdx>,
    /// The Delivery mock's own base URL (`http://host:port`), once it
    /// listens: asset URLs in entries point at it.
    pub(crate) delivery_base: OnceLock<String>,
}

/// Seed offset of minted user uids, so they never collide with the population's.
const MINTED_SEED_SALT: u64 = 0x6d69_6e74_6564;

impl MockState {
    pub(crate) fn new(
        world: Arc<World>,
        clock: Arc<dyn Clock>,
        config: MockConfig,
        webhooks: WebhookSender,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let scenario = world.scenario();
        let epoch = SystemTime::now() - clock.now().to_duration();
        let metrics = Metrics::for_scenario(
            scenario
                .experiences
                .iter()
                .map(|e| (e.uid.as_str(), e.variants.as_slice())),
        );
        let entry_index = scenario
            .content
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.uid.clone(), i as EntryIdx))
            .collect();
        MockState {
            personalize_faults: FaultInjector::new(
                Api::Personalize,
                scenario.seed,
                &scenario.faults.personalize,
            ),
            delivery_faults: FaultInjector::new(
                Api::Delivery,
                scenario.seed,
                &scenario.faults.delivery,
            ),
            webhook_urls: RwLock::new(config.webhook_urls.clone()),
            world,
            clock,
            config,
            metrics,
            epoch,
            external: Mutex::new(LruCache::new(
                NonZeroUsize::new(MAX_EXTERNAL_VISITORS).expect("not zero"),
            )),
            minted: AtomicU64::new(0),
            webhooks,
            timeline_cursor: Mutex::new(0),
            shutdown,
            entry_index,
            delivery_base: OnceLock::new(),
        }
    }

    /// The stack export the scenario serves, if it names one.
    pub fn export(&self) -> Option<&Export> {
        self.world.scenario().content.export.as_deref()
    }

    /// The world's entry `uid` of content type `ct`.
    pub fn entry_index(&self, ct: &str, uid: &str) -> Option<EntryIdx> {
        let idx = *self.entry_index.get(uid)?;
        (self.world.scenario().content.entries[idx as usize].content_type == ct).then_some(idx)
    }

    /// The Delivery mock's base URL, as the asset URLs in its answers use
    /// it (loopback before it listens, which only a test building a state
    /// by hand sees).
    pub fn delivery_base(&self) -> &str {
        self.delivery_base
            .get()
            .map_or("http://127.0.0.1", String::as_str)
    }

    /// Run time now.
    pub fn now(&self) -> Micros {
        self.clock.now()
    }

    /// RFC 3339 wall time of run time `t`, as Contentstack writes timestamps.
    pub fn timestamp(&self, t: Micros) -> String {
        humantime::format_rfc3339_millis(self.epoch + t.to_duration()).to_string()
    }

    /// A fresh user uid, as the real API mints for a request without one.
    pub fn mint_visitor(&self) -> String {
        let n = self.minted.fetch_add(1, Ordering::Relaxed);
        // Not stored until a client sets attributes: a user without any
        // evaluates the same stored or not, and load without user uids must
        // not grow memory.
        let uid = visitor_uid(self.world.scenario().seed ^ MINTED_SEED_SALT, n as u32);
        self.metrics.visitor_created();
        uid
    }

    /// Merges attributes into a user's stored ones. Users of the scenario
    /// follow its timeline, so for them the call is only counted. At most
    /// [`MAX_EXTERNAL_VISITORS`] other users are kept, the least recently
    /// used forgotten first.
    pub fn set_attributes(&self, uid: &str, attrs: &HashMap<String, String>) {
        if self.world.visitor_index(uid).is_some() {
            return;
        }
        let known = &self.world.scenario().attributes;
        let mut store = self.external.lock().expect("visitor store");
        let visitor = store.get_or_insert_mut(visitor_key(uid), ExternalVisitor::default);
        for (name, value) in attrs {
            if let Some(a) = known.iter().position(|x| &x.name == name) {
                visitor.set(
                    a,
                    known[a]
                        .value_index(value)
                        .map_or(Slot::Unknown, Slot::Value),
                );
            }
        }
    }

    /// Copies the source user's attributes into the target (the SDK's
    /// `setUserId(id, { preserveUserAttributes: true })`).
    pub fn merge(&self, source: &str, target: &str) {
        let mut store = self.external.lock().expect("visitor store");
        let from = store.get(&visitor_key(source)).cloned().unwrap_or_default();
        let to = store.get_or_insert_mut(visitor_key(target), ExternalVisitor::default);
        for (a, slot) in from.attributes.iter().enumerate() {
            if *slot != Slot::Unset {
                to.set(a, *slot);
            }
        }
    }

    /// How many users the scenario does not know are kept now.
    pub fn external_visitors(&self) -> usize {
        self.external.lock().expect("visitor store").len()
    }

    /// The variants of user `uid` at `t`, with `live` attribute values
    /// (`x-live-attributes`) taking precedence for this evaluation only.
    ///
    /// Users of the scenario get the world's truth (`World::variants_of`
    /// when `live` is empty); other users are judged by the same rule over
    /// their stored attributes.
    pub fn variants(&self, uid: &str, live: &HashMap<AttrIdx, ValueIdx>, t: Micros) -> VariantSet {
        let world = &self.world;
        if let Some(v) = world.visitor_index(uid) {
            let values = world.attributes_at(v, t);
            return world.variants_for(uid, &|a| live.get(&a).copied().or(Some(values[a])), t);
        }
        let stored = self
            .external
            .lock()
            .expect("visitor store")
            .get(&visitor_key(uid))
            .cloned()
            .unwrap_or_default();
        world.variants_for(
            uid,
            &|a| live.get(&a).copied().or_else(|| stored.value(a)),
            t,
        )
    }

    /// Sends publish webhooks to `url` too, from now on. A URL already
    /// registered is not added twice; past [`MAX_WEBHOOKS`] targets the
    /// registration is refused (`false`): each target gets every publish,
    /// and an unbounded list lets anyone who reaches the control endpoint
    /// grow memory and fan-out without end.
    pub fn webhook_urls_add(&self, url: &str) -> bool {
        let mut urls = self.webhook_urls.write().expect("webhook urls");
        if urls.iter().any(|u| u == url) {
            return true;
        }
        if urls.len() >= MAX_WEBHOOKS {
            return false;
        }
        urls.push(url.to_owned());
        true
    }

    /// Whether shutdown has begun (hanging requests end early then).
    pub(crate) fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.clone()
    }
}
