//! `ttlab sim`: the same scenario, cache library, truth and checker as real
//! runs, on a virtual clock with no sockets — a discrete-event simulation in
//! integer microseconds.
//!
//! What each architecture does on a request follows the real servers:
//! who calls Personalize and when, what the key holds (`cache::key` and
//! `cache::variance`), what the layer decides (`cache::decide` over
//! `cache::freshness`), how fills coalesce, refresh (SWR) and fail (SIE), and
//! purge on publish — with upstream latency and faults drawn from the
//! scenario's `[faults]` by the same rules the mocks use
//! (`Dist::sample`, `UpstreamFaults::decide`). Every response is judged by
//! the checker. The same scenario and seed give the same report, byte for byte.

mod engine;

pub use engine::simulate_arch;

use std::sync::Arc;

use ttlab_reports::{Report, SCHEMA_VERSION, SweepPoint, SweepReport};
use ttlab_scenarios::World;
use ttlab_scenarios::model::{ArchitectureConfig, Sweep};

/// Simulates `archs` of the world's scenario, and, when `sweep` is given,
/// every architecture at every value of the swept option (points run in
/// parallel, one per core).
pub fn simulate(world: &Arc<World>, archs: &[ArchitectureConfig], sweep: Option<&Sweep>) -> Report {
    let s = world.scenario();
    let architectures = archs.iter().map(|a| simulate_arch(world, a)).collect();
    let sweep = sweep.map(|sw| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut points: Vec<Option<SweepPoint>> = vec![None; sw.len()];
        std::thread::scope(|scope| {
            for chunk in points.chunks_mut(sw.len().div_ceil(cores)).enumerate() {
                let (c, slots) = chunk;
                let first = c * sw.len().div_ceil(cores);
                scope.spawn(move || {
                    for (k, slot) in slots.iter_mut().enumerate() {
                        let i = first + k;
                        let archs_at: Vec<_> = archs
                            .iter()
                            .map(|a| {
                                let mut a = a.clone();
                                sw.apply(i, &mut a.cache);
                                simulate_arch(world, &a)
                            })
                            .collect();
                        *slot = Some(SweepPoint {
                            value: sw.label(i),
                            architectures: archs_at,
                        });
                    }
                });
            }
        });
        SweepReport {
            option: sw.option().to_owned(),
            points: points
                .into_iter()
                .map(|p| p.expect("every point ran"))
                .collect(),
        }
    });
    Report {
        schema_version: SCHEMA_VERSION,
        mode: "sim".to_owned(),
        scenario: s.name.clone(),
        seed: s.seed,
        // Virtual time has no wall-clock start: fixed, so reports are reproducible.
        started_at: "1970-01-01T00:00:00Z".to_owned(),
        duration_s: s.duration.as_secs_f64(),
        interrupted: false,
        architectures,
        sweep,
    }
}
