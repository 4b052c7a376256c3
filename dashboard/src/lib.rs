//! The live dashboard of real and simulated runs.
//!
//! A run publishes one [`Frame`](ttlab_loadgen::live::Frame) per second per
//! architecture into a [`Live`](ttlab_loadgen::live::Live) sink; the
//! dashboard folds them into a [`DashState`] ([`state`]) and draws it
//! ([`views`]) — state apart from drawing, as ratatui apps and
//! tokio-console do, so views are pure functions of the data and snapshot
//! tests draw fixed states to ratatui's `TestBackend`. [`app`] is the
//! terminal loop (keys from [`input`]); [`plain`] the one-line-a-second
//! progress for when stdout is not a terminal.

pub mod app;
pub mod input;
pub mod plain;
pub mod state;
pub mod views;

pub use app::{DashError, RunControl, run};
pub use state::{DashState, Facts, Mode};
