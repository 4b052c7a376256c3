//! The live ratatui dashboard for real and simulated runs.
//!
//! Not built yet: this crate is the home of issue 8.
