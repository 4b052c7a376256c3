//! Real runs driven by goose ([`run`]), the response checker ([`check`])
//! and the simulator ([`sim`]), whose reports are assembled in one place
//! (`report`).

pub mod check;
pub mod live;
pub mod record;
mod report;
pub mod run;
pub mod schedule;
pub mod script;
pub mod sim;
