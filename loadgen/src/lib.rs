//! Real runs driven by goose ([`run`]), the response checker ([`check`])
//! and the simulator ([`sim`]), whose reports are assembled in one place
//! (`report`); and a scenario's traffic as a site's log ([`traffic_log`]).

pub mod check;
pub mod live;
pub mod record;
mod report;
pub mod run;
pub mod schedule;
pub mod script;
pub mod sim;
pub mod traffic_log;
