//! Real runs driven by goose, the response checker and the simulator.
//!
//! Not built yet: this crate is the home of issues 5 and 6.
