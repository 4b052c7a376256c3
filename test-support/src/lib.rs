//! Fixtures the workspace's tests share, so each test states only what is
//! particular to it.
//!
//! - [`scenario`]: scenario TOML built from a few calls instead of pasted.
//! - [`wait`]: bounded waits on a condition, so tests poll instead of
//!   sleeping for a guessed time.
//! - [`metrics`]: a server's `/metrics` text, read within a time bound.
//! - [`redis`]: a real `redis-server` on a free port, killed on drop.
//! - [`mocks`]: a world's mock APIs (and an architecture's servers) on port 0
//!   with a clock the test moves by hand.
//! - [`process`]: the lines a child process writes, read without blocking.
//! - [`shorten`]: a shipped scenario cut short with its timeline scaled.
//! - [`tiny_app`]: the path of the tiny stand-in for a team's own app
//!   (`src/bin/tiny_app.rs`), built on first use.
//!
//! A dev-dependency only: no library crate of the workspace may depend on it
//! otherwise, and it is never published.

pub mod metrics;
pub mod mocks;
pub mod process;
pub mod redis;
pub mod scenario;
pub mod shorten;
pub mod tiny_app;
pub mod wait;

pub use metrics::metrics_text;
pub use scenario::ScenarioToml;
pub use tiny_app::tiny_app;
pub use wait::{wait_until, wait_until_async};
