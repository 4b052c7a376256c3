//! Real runs driven by goose, the response checker and the simulator.
//!
//! Built so far: the checker ([`check`]), which judges every response
//! against the world's truth — shared by real runs and the simulator. The
//! goose-driven run driver and the simulator are still to come (issues 5, 6).

pub mod check;
