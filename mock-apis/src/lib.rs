//! Mock Contentstack Personalize Edge API and Delivery API, backed by a
//! scenario's world.
//!
//! They answer from the same truth functions the checker judges by
//! (`World::variants_of`, `World::entry_version`) and behave, on the wire,
//! like the public APIs the official JavaScript SDKs talk to: a team can
//! point its own origin or the SDKs at them. The scenario's `[faults]` make
//! them slow, failing or rate limited on purpose; publishes of the timeline
//! are announced by webhooks shaped like Contentstack's.
//!
//! ```no_run
//! # async fn demo(world: std::sync::Arc<ttlab_scenarios::World>) -> Result<(), ttlab_mock_apis::MockError> {
//! let clock = std::sync::Arc::new(ttlab_scenarios::SystemClock::starting_now());
//! let mocks = ttlab_mock_apis::start(world, clock, ttlab_mock_apis::MockConfig::default()).await?;
//! println!("{} {}", mocks.personalize_url, mocks.delivery_url);
//! mocks.shutdown().await;
//! # Ok(()) }
//! ```

// Handlers return `Result<_, Response>` so an error is the finished HTTP
// answer; boxing it would buy nothing on this path.
#![allow(clippy::result_large_err)]

pub mod assets;
mod config;
mod control;
pub mod delivery;
mod errors;
pub mod export_query;
pub mod export_render;
mod faults;
mod inject;
pub mod metrics;
pub mod personalize;
mod publish;
pub mod query;
pub mod render;
mod server;
mod state;
pub mod text;
mod webhooks;

pub use config::MockConfig;
pub use control::VISITORS_PAGE_MAX;
pub use publish::{deliver_due, publish_payload};
pub use server::{MockError, RunningMocks, start};
pub use state::{MAX_EXTERNAL_VISITORS, MAX_WEBHOOKS, MockState};
pub use ttlab_http_serve::Limits;
