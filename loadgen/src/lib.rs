//! Real runs driven by goose ([`run`]), the response checker ([`check`])
//! and the simulator ([`sim`]).

pub mod check;
pub mod live;
pub mod record;
pub mod run;
pub mod script;
pub mod sim;
