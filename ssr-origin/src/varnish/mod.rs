//! Varnish as the CDN or edge cache of an architecture: the VCL that
//! encodes ttlab's caching rules for it (`vcl`), `varnishd` found and asked
//! to compile and name itself (`binary`), and the publish webhook turned
//! into a surrogate-key purge (`purge`).
//!
//! ttlab's own CDN and edge are models; teams deploy Varnish (or Fastly,
//! whose heart is Varnish). Running the same scenario through real
//! Varnish with configuration generated from the same topology and cache
//! options shows whether the model's numbers hold for the software they
//! run, and leaves them with a configuration to adapt (`ttlab vcl`).
//! Starting and stopping the daemon is a real run's business
//! (`ttlab_loadgen::run::varnish`).

pub mod binary;
pub mod purge;
pub mod vcl;

pub use binary::{BinaryError, compile, installed, version};
pub use purge::{PurgeReceiver, PurgeTally};
pub use vcl::{
    Backend, PURGE_KEY_HEADER, PURGED_HEADER, VARIANT_KEY_HEADER, VclError, VclSpec, generate,
};
