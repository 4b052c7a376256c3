//! Call counters of the mocks: in process (for the run report) and as
//! Prometheus text at `/metrics` (for anyone watching), from the same
//! counters.

use std::collections::{HashMap, HashSet};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Which mock answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    /// The Personalize Edge API.
    Personalize,
    /// The Delivery API.
    Delivery,
}

impl Api {
    /// Label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Api::Personalize => "personalize",
            Api::Delivery => "delivery",
        }
    }
}

/// One public endpoint of the mocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /manifest`.
    Manifest,
    /// `PATCH /user-attributes`.
    UserAttributes,
    /// `POST /events`.
    Events,
    /// `POST /user-attributes/actions/merge`.
    Merge,
    /// `GET /v3/content_types/{ct}/entries/{uid}`.
    Entry,
    /// `GET /v3/content_types/{ct}/entries`.
    Entries,
    /// `GET /v3/content_types/{ct}`.
    ContentType,
    /// `GET /v3/content_types`.
    ContentTypes,
    /// `GET /v3/assets/{uid}`.
    Asset,
    /// `GET /v3/assets`.
    Assets,
    /// An asset's file, at the URL entries and assets carry
    /// (`/v3/assets/{api_key}/{uid}/{version}/{filename}`): what an images
    /// host answers, apart from the API's calls.
    AssetFile,
    /// Any path the APIs do not have.
    Unknown,
}

impl Endpoint {
    /// The Delivery API's calls a report counts as origin load: entries,
    /// content types and assets asked of the API. Asset files are not
    /// among them: a site loads those from the images host, not its server.
    pub const DELIVERY_CALLS: [Endpoint; 6] = [
        Endpoint::Entry,
        Endpoint::Entries,
        Endpoint::ContentType,
        Endpoint::ContentTypes,
        Endpoint::Asset,
        Endpoint::Assets,
    ];

    /// Label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Endpoint::Manifest => "manifest",
            Endpoint::UserAttributes => "user_attributes",
            Endpoint::Events => "events",
            Endpoint::Merge => "merge",
            Endpoint::Entry => "entry",
            Endpoint::Entries => "entries",
            Endpoint::ContentType => "content_type",
            Endpoint::ContentTypes => "content_types",
            Endpoint::Asset => "asset",
            Endpoint::Assets => "assets",
            Endpoint::AssetFile => "asset_file",
            Endpoint::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    api: String,
    endpoint: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    api: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImpressionLabels {
    experience: String,
    variant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event_key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

/// Most distinct event keys counted by name; the rest count as
/// [`OTHER_EVENT_KEY`], so a client cannot grow the label set without bound.
pub const MAX_EVENT_KEYS: usize = 1000;

/// Longest event key counted by name, in bytes; a longer one counts as
/// [`OTHER_EVENT_KEY`], so the label values stay small too.
pub const MAX_EVENT_KEY_BYTES: usize = 64;

/// The label of event keys past [`MAX_EVENT_KEYS`] or [`MAX_EVENT_KEY_BYTES`].
pub const OTHER_EVENT_KEY: &str = "other";

/// The label of an impression's experience or variant the scenario does not
/// have: every impression of ids a client made up counts under it, so the
/// number of impression series is fixed by the scenario (at most one per
/// variant, one per experience and one more), not by input.
pub const UNKNOWN_LABEL: &str = "unknown";

/// Every endpoint, for the pre-made request counters.
const ENDPOINTS: [Endpoint; 12] = [
    Endpoint::Manifest,
    Endpoint::UserAttributes,
    Endpoint::Events,
    Endpoint::Merge,
    Endpoint::Entry,
    Endpoint::Entries,
    Endpoint::ContentType,
    Endpoint::ContentTypes,
    Endpoint::Asset,
    Endpoint::Assets,
    Endpoint::AssetFile,
    Endpoint::Unknown,
];

/// The counters.
pub struct Metrics {
    registry: Registry,
    /// Request counters made up front, indexed by (api, endpoint, class), so
    /// counting a request allocates nothing and takes no lock.
    request_counters: Vec<Counter>,
    faults: Family<FaultLabels, Counter>,
    impressions: Family<ImpressionLabels, Counter>,
    events: Family<EventLabels, Counter>,
    event_keys: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The scenario's experience short uids and, for each, its variants'.
    known: HashMap<String, HashSet<String>>,
    webhooks: Family<ResultLabels, Counter>,
    visitors_created: Counter,
}

/// Status classes counted per endpoint.
const STATUS_CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ttlab_mock");
        let requests = Family::<RequestLabels, Counter>::default();
        let faults = Family::<FaultLabels, Counter>::default();
        let impressions = Family::<ImpressionLabels, Counter>::default();
        let events = Family::<EventLabels, Counter>::default();
        let webhooks = Family::<ResultLabels, Counter>::default();
        let visitors_created = Counter::default();
        registry.register(
            "requests",
            "Requests answered, by API, endpoint and status class",
            requests.clone(),
        );
        registry.register(
            "injected_faults",
            "Faults injected from the scenario, by API and kind",
            faults.clone(),
        );
        registry.register(
            "impressions",
            "Impressions received on /events",
            impressions.clone(),
        );
        registry.register(
            "events",
            "Conversion events received on /events",
            events.clone(),
        );
        registry.register(
            "webhooks",
            "Entry-publish webhooks sent, by result",
            webhooks.clone(),
        );
        registry.register(
            "visitors_created",
            "Personalize users minted for requests without a user uid",
            visitors_created.clone(),
        );
        let mut request_counters = Vec::with_capacity(2 * ENDPOINTS.len() * STATUS_CLASSES.len());
        for api in [Api::Personalize, Api::Delivery] {
            for ep in ENDPOINTS {
                for class in STATUS_CLASSES {
                    request_counters.push(
                        requests
                            .get_or_create(&RequestLabels {
                                api: api.as_str().to_owned(),
                                endpoint: ep.as_str().to_owned(),
                                status: class.to_owned(),
                            })
                            .clone(),
                    );
                }
            }
        }
        // Made once, they stay: /metrics lists every endpoint from the start.
        Metrics {
            registry,
            request_counters,
            faults,
            impressions,
            events,
            event_keys: std::sync::Mutex::default(),
            known: HashMap::new(),
            webhooks,
            visitors_created,
        }
    }
}

fn counter_index(api: Api, endpoint: Endpoint, status_class: &str) -> usize {
    let a = match api {
        Api::Personalize => 0,
        Api::Delivery => 1,
    };
    let e = ENDPOINTS
        .iter()
        .position(|x| *x == endpoint)
        .expect("every endpoint is listed");
    let c = STATUS_CLASSES
        .iter()
        .position(|x| *x == status_class)
        .unwrap_or(2);
    (a * ENDPOINTS.len() + e) * STATUS_CLASSES.len() + c
}

fn class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    /// Counters for a scenario: impressions of its experiences and variants
    /// are counted by their short uids, others under [`UNKNOWN_LABEL`].
    /// (`Metrics::default()` knows no experience.)
    pub fn for_scenario<'a>(
        experiences: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Self {
        Metrics {
            known: experiences
                .into_iter()
                .map(|(e, vs)| (e.to_owned(), vs.iter().cloned().collect()))
                .collect(),
            ..Metrics::default()
        }
    }

    /// The labels an impression counts under (see [`UNKNOWN_LABEL`]).
    fn impression_labels(&self, experience: &str, variant: &str) -> ImpressionLabels {
        let (experience, variant) = match self.known.get(experience) {
            Some(vs) if vs.contains(variant) => (experience, variant),
            Some(_) => (experience, UNKNOWN_LABEL),
            None => (UNKNOWN_LABEL, UNKNOWN_LABEL),
        };
        ImpressionLabels {
            experience: experience.to_owned(),
            variant: variant.to_owned(),
        }
    }

    /// Counts one answered request.
    pub fn request(&self, api: Api, endpoint: Endpoint, status: u16) {
        self.request_counters[counter_index(api, endpoint, class(status))].inc();
    }

    /// Requests answered by an endpoint, whatever the status.
    pub fn requests(&self, api: Api, endpoint: Endpoint) -> u64 {
        STATUS_CLASSES
            .iter()
            .map(|c| self.requests_with(api, endpoint, c))
            .sum()
    }

    /// Requests answered by an endpoint with a status class ("2xx", "4xx", "5xx").
    pub fn requests_with(&self, api: Api, endpoint: Endpoint, status_class: &str) -> u64 {
        self.request_counters[counter_index(api, endpoint, status_class)].get()
    }

    /// Counts an injected fault (`error`, `timeout`, `rate_limited`).
    pub fn fault(&self, api: Api, kind: &str) {
        self.faults
            .get_or_create(&FaultLabels {
                api: api.as_str().to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Injected faults of a kind. Reading makes no series.
    pub fn faults(&self, api: Api, kind: &str) -> u64 {
        self.faults
            .get(&FaultLabels {
                api: api.as_str().to_owned(),
                kind: kind.to_owned(),
            })
            .map_or(0, |c| c.get())
    }

    /// Counts an impression, under the scenario's ids or [`UNKNOWN_LABEL`].
    pub fn impression(&self, experience: &str, variant: &str) {
        self.impressions
            .get_or_create(&self.impression_labels(experience, variant))
            .inc();
    }

    /// Impressions counted under these labels (pass [`UNKNOWN_LABEL`] for
    /// those of unknown ids). Reading makes no series.
    pub fn impressions(&self, experience: &str, variant: &str) -> u64 {
        self.impressions
            .get(&ImpressionLabels {
                experience: experience.to_owned(),
                variant: variant.to_owned(),
            })
            .map_or(0, |c| c.get())
    }

    fn event_label(&self, key: &str) -> String {
        if key.len() > MAX_EVENT_KEY_BYTES {
            return OTHER_EVENT_KEY.to_owned();
        }
        let mut keys = self.event_keys.lock().expect("event key set");
        if keys.contains(key) || (keys.len() < MAX_EVENT_KEYS && keys.insert(key.to_owned())) {
            key.to_owned()
        } else {
            OTHER_EVENT_KEY.to_owned()
        }
    }

    /// Counts a conversion event.
    pub fn event(&self, key: &str) {
        let label = self.event_label(key);
        self.events
            .get_or_create(&EventLabels { event_key: label })
            .inc();
    }

    /// Conversion events counted under a key label. Reading makes no series.
    pub fn events(&self, key: &str) -> u64 {
        self.events
            .get(&EventLabels {
                event_key: key.to_owned(),
            })
            .map_or(0, |c| c.get())
    }

    /// Counts a webhook delivery ("delivered" or "failed").
    pub fn webhook(&self, result: &str) {
        self.webhooks
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
    }

    /// Webhook deliveries with a result. Reading makes no series.
    pub fn webhooks(&self, result: &str) -> u64 {
        self.webhooks
            .get(&ResultLabels {
                result: result.to_owned(),
            })
            .map_or(0, |c| c.get())
    }

    /// Counts a minted visitor.
    pub fn visitor_created(&self) {
        self.visitors_created.inc();
    }

    /// Visitors minted.
    pub fn visitors_created(&self) -> u64 {
        self.visitors_created.get()
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}
