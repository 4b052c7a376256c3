//! The report of one architecture, from what its run recorded and counted.

use std::time::Duration;

use ttlab_reports::{ArchReport, LatencyReport, LayerReport, OriginLoad, offload_of};

use super::layer::store_warning;
use super::series::series;
use crate::check::Class;
use crate::record::{Recorder, percentiles};

/// CPU used during a run, in cores (1.0 = one core busy all the time).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    /// The load generator's threads (goose users, checker, recorder).
    pub generator: f64,
    /// The whole process (generator and servers).
    pub process: f64,
}

/// The report of one architecture from what was recorded and counted:
/// `cpu` as measured by a real run (`None` for the simulator, which
/// measures none and so warns of none), `samples` the cumulative origin
/// loads at each second boundary.
pub(crate) fn arch_report(
    name: &str,
    rec: &Recorder,
    origin: OriginLoad,
    layer: Option<LayerReport>,
    elapsed: Duration,
    cpu: Option<Cpu>,
    samples: &[OriginLoad],
) -> ArchReport {
    let requests = rec.requests();
    let mut warnings = cpu.map_or_else(Vec::new, cpu_warnings);
    if let Some(w) = layer
        .as_ref()
        .and_then(|l| store_warning(l, elapsed.as_secs_f64()))
    {
        warnings.push(w);
    }
    let cpu = cpu.unwrap_or_default();
    let (series_width_s, series) = series(rec, samples);
    ArchReport {
        name: name.to_owned(),
        mock_counters: None,

        elapsed_s: elapsed.as_secs_f64(),
        requests,
        classes: Class::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), rec.classes[c.index()]))
            .collect(),
        offload: offload_of(name, requests, &origin),
        origin,
        layer,
        origin_replicas: 1,
        latency: LatencyReport {
            all: percentiles(&rec.latency()),
            hit: percentiles(&rec.latency_hit),
            miss: percentiles(&rec.latency_miss),
        },
        staleness: percentiles(&rec.staleness),
        attribute_updates: rec.attribute_updates,
        generator_cpu: cpu.generator,
        process_cpu: cpu.process,

        arrivals: None,
        app: None,
        cdn: None,
        warnings,
        thresholds: Vec::new(),
        series_width_s,
        series,
        histograms: Some(rec.histograms()),
    }
}

/// The run's warnings about the machine it ran on: the generator as the
/// bottleneck, a saturated machine.
fn cpu_warnings(cpu: Cpu) -> Vec<String> {
    let mut warnings = Vec::new();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) as f64;
    if cpu.generator > 0.85 {
        warnings.push(format!(
            "the load generator was the bottleneck: its thread was busy {:.0}% of the time, so the system under test was not pushed as the scenario asks; use fewer users or a longer think time",
            cpu.generator * 100.0
        ));
    }
    if cpu.process > 0.9 * cores {
        warnings.push(format!(
            "the machine was saturated ({:.0}% of {cores} cores in this process, which runs the load generator and the servers): latency includes waiting for CPU",
            cpu.process * 100.0 / cores
        ));
    }
    warnings
}
