//! What a run shows while it goes: one [`Frame`] per completed second per
//! architecture, pushed into a shared [`Live`] sink that a watcher (the
//! dashboard, a plain progress line) drains at its own pace.
//!
//! Why frames and not responses: the watcher must never slow the run. The
//! simulator answers millions of requests a second, so it publishes only when
//! virtual time crosses a second boundary; real runs publish from their
//! once-a-second sampler. A frame carries the second's counts and small
//! per-second HDR histograms, so a watcher can merge seconds into any window
//! without seeing a single request.
//!
//! The same frames feed the OpenMetrics export of `--metrics-addr`
//! ([`openmetrics::LiveMetrics`]), attached to the sink with
//! [`Live::with_metrics`]: it adds each frame as it is pushed, so it needs
//! no watcher of its own.

pub mod buckets;
pub mod endpoint;
mod frame;
pub mod openmetrics;
mod sink;

pub use frame::{Frame, LayerCounts, Tap, load_since, second_histogram};
pub use sink::Live;
