//! What the mocks accept as credentials and how they misbehave on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use ttlab_http_serve::Limits;

/// Settings of one pair of mock APIs.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Where the Personalize Edge API listens (port 0: any free port).
    pub personalize_addr: SocketAddr,
    /// Where the Delivery API listens.
    pub delivery_addr: SocketAddr,
    /// The Personalize project uid the manifest accepts (`x-project-uid`).
    pub project_uid: String,
    /// The stack API key the Delivery API accepts (`api_key` header).
    pub api_key: String,
    /// The delivery token (`access_token` header).
    pub delivery_token: String,
    /// The environment name (`environment` query parameter).
    pub environment: String,
    /// Entry-publish webhooks go to these URLs.
    pub webhook_urls: Vec<String>,
    /// Deliver publish webhooks by themselves as the run clock passes each
    /// publish; off, a run driver delivers them through the control surface.
    pub auto_timeline: bool,
    /// How long an injected timeout hangs before answering 504 (past any
    /// client's budget).
    pub hang: Duration,
    /// What each of the two servers accepts (header read timeout,
    /// connection cap, header and body limits); errors past them are
    /// answered in each API's error shape.
    pub limits: Limits,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            personalize_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            delivery_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            project_uid: "ttlab-project".to_owned(),
            api_key: "blt-ttlab-api-key".to_owned(),
            delivery_token: "cs-ttlab-delivery-token".to_owned(),
            environment: "production".to_owned(),
            webhook_urls: Vec::new(),
            auto_timeline: true,
            hang: Duration::from_secs(30),
            limits: Limits::default(),
        }
    }
}
