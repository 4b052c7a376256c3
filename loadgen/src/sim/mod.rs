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

mod control;
mod engine;
mod pages;

pub use control::SimControl;
pub use engine::{simulate_arch, simulate_arch_with};
pub use pages::{PageSizer, Served};

use std::sync::Arc;

use crate::report::{RunHeader, run_report};
use ttlab_reports::{Report, SweepPoint, SweepReport};
use ttlab_scenarios::World;
use ttlab_scenarios::model::{ArchitectureConfig, Sweep};

/// Virtual microseconds a simulation of `archs` (and `sweep`) covers in all:
/// the denominator of [`SimControl::progress_us`].
pub fn work(world: &World, archs: &[ArchitectureConfig], sweep: Option<&Sweep>) -> u64 {
    let runs = archs.len() * (1 + sweep.map_or(0, Sweep::len));
    world.scenario().duration.0 * runs as u64
}

/// Simulates `archs` of the world's scenario, and, when `sweep` is given,
/// every architecture at every value of the swept option (points run in
/// parallel, one per core).
pub fn simulate(world: &Arc<World>, archs: &[ArchitectureConfig], sweep: Option<&Sweep>) -> Report {
    simulate_with(world, archs, sweep, &SimControl::default())
}

/// [`simulate`] under `control` (progress, stop).
pub fn simulate_with(
    world: &Arc<World>,
    archs: &[ArchitectureConfig],
    sweep: Option<&Sweep>,
    control: &SimControl,
) -> Report {
    let architectures = archs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let live = control.live().map(|l| {
                l.start_arch(i);
                (&**l, i)
            });
            engine::simulate_arch_live(world, a, Some(control), live)
        })
        .collect();
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
                                simulate_arch_with(world, &a, Some(control))
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
    let header = RunHeader {
        mode: "sim",
        // Virtual time has no wall-clock start: fixed, so reports are reproducible.
        started_at: "1970-01-01T00:00:00Z".to_owned(),
        interrupted: control.stopped(),
        page_views: None,
        worker: None,
    };
    let mut report = run_report(world, header, architectures, sweep);
    ttlab_reports::gate::apply(&mut report, archs);
    report
}
