//! The origin's and the edge's clients for the two upstream APIs: pooled,
//! with the scenario's time budgets, counted.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde_json::Value;
use ttlab_scenarios::model::{EntryIdx, ExpIdx, OriginOptions};
use ttlab_scenarios::{VariantSet, World};

use crate::cache::FillError;

/// Where the upstreams are and how to talk to them.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// Base URL of the Personalize Edge API.
    pub personalize_url: String,
    /// Base URL of the Delivery API host (without `/v3`).
    pub delivery_url: String,
    /// Personalize project uid.
    pub project_uid: String,
    /// Stack API key.
    pub api_key: String,
    /// Delivery token.
    pub delivery_token: String,
    /// Environment name.
    pub environment: String,
    /// Budget for one manifest call before falling back to base content.
    pub personalize_timeout: Duration,
    /// Budget for one entry fetch.
    pub delivery_timeout: Duration,
}

impl UpstreamConfig {
    /// The mocks' default credentials at these URLs, with the scenario's budgets.
    pub fn for_mocks(personalize_url: &str, delivery_url: &str, origin: &OriginOptions) -> Self {
        UpstreamConfig {
            personalize_url: personalize_url.trim_end_matches('/').to_owned(),
            delivery_url: delivery_url
                .trim_end_matches('/')
                .trim_end_matches("/v3")
                .to_owned(),
            project_uid: "ttlab-project".to_owned(),
            api_key: "blt-ttlab-api-key".to_owned(),
            delivery_token: "cs-ttlab-delivery-token".to_owned(),
            environment: "production".to_owned(),
            personalize_timeout: origin.personalize_timeout.to_duration(),
            delivery_timeout: origin.delivery_timeout.to_duration(),
        }
    }
}

/// Calls made, for the report and `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct UpstreamCounters {
    /// Manifest calls.
    pub personalize_calls: Counter,
    /// Manifest calls that failed or ran out of budget.
    pub personalize_failures: Counter,
    /// Entry fetches.
    pub delivery_calls: Counter,
    /// Entry fetches that failed or ran out of budget.
    pub delivery_failures: Counter,
}

impl UpstreamCounters {
    /// Adds the counters to a registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "personalize_calls",
            "Manifest calls to the Personalize Edge API",
            self.personalize_calls.clone(),
        );
        registry.register(
            "personalize_failures",
            "Manifest calls that failed or ran out of budget",
            self.personalize_failures.clone(),
        );
        registry.register(
            "delivery_calls",
            "Entry fetches from the Delivery API",
            self.delivery_calls.clone(),
        );
        registry.register(
            "delivery_failures",
            "Entry fetches that failed or ran out of budget",
            self.delivery_failures.clone(),
        );
    }
}

/// A visitor's manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The user uid the API answered with (new when the request had none).
    pub uid: String,
    /// The variants, resolved against the scenario.
    pub variants: VariantSet,
    /// The body, for the manifest cookie.
    pub body: ManifestBody,
}

/// The manifest body as the Personalize Edge API sends it.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct ManifestBody {
    /// Experiences in priority order.
    pub experiences: Vec<ManifestExperience>,
}

/// One experience of a manifest.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestExperience {
    /// Experience short uid.
    pub short_uid: String,
    /// The visitor's variant, if any.
    pub active_variant_short_uid: Option<String>,
}

/// Why a manifest could not be had within budget.
#[derive(Clone, Debug, thiserror::Error)]
#[error("Personalize: {0}")]
pub struct PersonalizeError(pub String);

/// The clients.
pub struct Upstreams {
    config: UpstreamConfig,
    manifest_url: reqwest::Url,
    http: reqwest::Client,
    world: Arc<World>,
    /// Calls made.
    pub counters: UpstreamCounters,
}

impl Upstreams {
    /// Clients for `config`, resolving variants against `world`.
    pub fn new(config: UpstreamConfig, world: Arc<World>) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()
            .expect("an HTTP client without TLS builds");
        let manifest_url = reqwest::Url::parse(&format!("{}/manifest", config.personalize_url))
            .unwrap_or_else(|_| {
                reqwest::Url::parse("http://127.0.0.1:9/manifest").expect("a valid URL")
            });
        Upstreams {
            config,
            manifest_url,
            http,
            world,
            counters: UpstreamCounters::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// `GET /manifest` for `uid` (a new user when `None`), within budget.
    pub async fn manifest(&self, uid: Option<&str>) -> Result<Manifest, PersonalizeError> {
        self.counters.personalize_calls.inc();
        let result = self.manifest_inner(uid).await;
        if result.is_err() {
            self.counters.personalize_failures.inc();
        }
        result
    }

    async fn manifest_inner(&self, uid: Option<&str>) -> Result<Manifest, PersonalizeError> {
        let mut req = self
            .http
            .get(self.manifest_url.clone())
            .header("x-project-uid", &self.config.project_uid)
            .timeout(self.config.personalize_timeout);
        if let Some(u) = uid {
            req = req.header("x-cs-personalize-user-uid", u);
        }
        let resp = req.send().await.map_err(|e| {
            PersonalizeError(if e.is_timeout() {
                format!("no manifest within {:?}", self.config.personalize_timeout)
            } else {
                e.to_string()
            })
        })?;
        if !resp.status().is_success() {
            return Err(PersonalizeError(format!(
                "manifest answered {}",
                resp.status()
            )));
        }
        let uid = resp
            .headers()
            .get("x-cs-personalize-user-uid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| uid.map(str::to_owned))
            .ok_or_else(|| PersonalizeError("manifest without a user uid".to_owned()))?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| PersonalizeError(format!("manifest body: {e}")))?;
        let body: ManifestBody = serde_json::from_slice(&bytes)
            .map_err(|e| PersonalizeError(format!("manifest body: {e}")))?;
        let variants = self.variants_of_manifest(&body);
        Ok(Manifest {
            uid,
            variants,
            body,
        })
    }

    /// The manifest's experiences as a variant set; unknown uids are ignored.
    fn variants_of_manifest(&self, body: &ManifestBody) -> VariantSet {
        let scenario = self.world.scenario();
        let mut set = VariantSet::none(scenario.experiences.len());
        for e in &body.experiences {
            let Some(var) = &e.active_variant_short_uid else {
                continue;
            };
            if let Some(ei) = scenario
                .experiences
                .iter()
                .position(|x| x.uid == e.short_uid)
            {
                set.set(ei as ExpIdx, self.world.variant_index(ei as ExpIdx, var));
            }
        }
        set
    }

    /// One entry from the Delivery API with these variant aliases applied.
    pub async fn entry(&self, entry: EntryIdx, aliases: &str) -> Result<Value, FillError> {
        self.counters.delivery_calls.inc();
        let result = self.entry_inner(entry, aliases).await;
        if result.is_err() {
            self.counters.delivery_failures.inc();
        }
        result
    }

    async fn entry_inner(&self, entry: EntryIdx, aliases: &str) -> Result<Value, FillError> {
        let e = &self.world.scenario().content.entries[entry as usize];
        let url = format!(
            "{}/v3/content_types/{}/entries/{}?environment={}",
            self.config.delivery_url, e.content_type, e.uid, self.config.environment
        );
        let mut req = self
            .http
            .get(url)
            .header("api_key", &self.config.api_key)
            .header("access_token", &self.config.delivery_token)
            .timeout(self.config.delivery_timeout);
        if !aliases.is_empty() {
            req = req.header("x-cs-variant-uid", aliases);
        }
        let resp = req.send().await.map_err(|err| {
            if err.is_timeout() {
                FillError {
                    status: 504,
                    message: format!(
                        "Delivery API gave no answer for entry {} within {:?}",
                        e.uid, self.config.delivery_timeout
                    ),
                }
            } else {
                FillError {
                    status: 502,
                    message: format!("Delivery API unreachable for entry {}: {err}", e.uid),
                }
            }
        })?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|err| FillError {
            status: 502,
            message: format!(
                "Delivery API answered {status} with a body that is not JSON for entry {}: {err}",
                e.uid
            ),
        })?;
        if !status.is_success() {
            let detail = body["error_message"].as_str().unwrap_or("no error message");
            return Err(FillError {
                status: if status.as_u16() == 429 || status.is_server_error() {
                    503
                } else {
                    502
                },
                message: format!(
                    "Delivery API answered {status} for entry {}: {detail}",
                    e.uid
                ),
            });
        }
        Ok(body["entry"].clone())
    }
}

/// The Delivery header value for a variant set: aliases in priority order.
pub fn aliases_header(world: &World, variants: &VariantSet) -> String {
    variants
        .iter()
        .map(|r| world.alias(r))
        .collect::<Vec<_>>()
        .join(",")
}

/// The SDK's URL param for a variant set: `0_1,a_0`.
pub fn variant_param(world: &World, variants: &VariantSet) -> String {
    variants
        .iter()
        .map(|r| world.short_alias(r))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses the SDK's URL param (`0_1,a_0`) against the scenario; unknown
/// items are ignored.
pub fn parse_variant_param(world: &World, param: &str) -> VariantSet {
    let scenario = world.scenario();
    let mut set = VariantSet::none(scenario.experiences.len());
    for item in param.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((exp, var)) = item.split_once('_') else {
            continue;
        };
        if let Some(ei) = scenario.experiences.iter().position(|x| x.uid == exp)
            && let Some(vi) = world.variant_index(ei as ExpIdx, var)
        {
            set.set(ei as ExpIdx, Some(vi));
        }
    }
    set
}
