//! The scenario model of ttlab: the TOML format ([`spec`]), its validation
//! ([`validate`]), the validated model ([`model`]), what each architecture
//! is made of ([`topology`]), the world whose truth every
//! other part judges by ([`world`]), the team's own app and the
//! placeholders of its settings ([`app`]), and the scenarios ttlab ships
//! ([`shipped`]).
//!
//! ```
//! let source = ttlab_scenarios::shipped::get("quickstart").unwrap().source;
//! let scenario = ttlab_scenarios::parse_str("quickstart.toml", source).unwrap();
//! let world = ttlab_scenarios::World::new(scenario);
//! let first = world.variants_of(0, ttlab_scenarios::Micros::ZERO);
//! assert_eq!(first.len(), world.scenario().experiences.len());
//! ```

pub mod alias;
pub mod app;
pub mod arrivals;
pub mod bounds;
pub mod error;
pub mod export_notes;
pub mod layer_counts;
pub mod model;
pub mod pool;
pub mod shipped;
pub mod spec;
pub mod summary;
pub mod time;
pub mod token;
pub mod topology;
pub mod upstream;
pub mod validate;
pub mod world;

pub use error::{Diagnostic, ScenarioError};
pub use layer_counts::LayerCounts;
pub use model::{Architecture, Scenario};
pub use time::{Clock, GateClock, ManualClock, Micros, SystemClock};
pub use topology::Topology;
pub use validate::{load, parse_str};
pub use world::{VariantSet, World};

/// The JSON Schema of the scenario format, for editor completion.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(spec::ScenarioFile)).expect("schema serializes")
}
