//! `ttlab check FILE...`: the CI gate. Runs each scenario (simulated unless
//! `--real`), evaluates its thresholds, writes the reports, and exits 1 with
//! the list of breaches, 0 when every threshold holds, 2 on bad input.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ttlab_loadgen::run::Progress;
use ttlab_reports::{ArchReport, Report, gate, junit, markdown};
use ttlab_scenarios::World;
use ttlab_scenarios::model::Architecture;

use super::output;
use crate::args::CheckArgs;
use crate::exit::EXIT_BAD_INPUT;

/// Exit status when a threshold is breached.
const EXIT_BREACH: u8 = 1;

/// One line per architecture as a real run goes.
struct Quiet;

impl Progress for Quiet {
    fn start(&self, arch: Architecture, duration: Duration) {
        eprint!(
            "  {arch}: running {}…",
            humantime::format_duration(duration)
        );
        let _ = std::io::stderr().flush();
    }

    fn done(&self, report: &ArchReport) {
        eprintln!(" {} requests", report.requests);
    }
}

/// Every file's scenario, or `None` having said what is wrong with each
/// that is not one: every file must be valid before anything runs, so a
/// typo does not cost a long real run first.
fn load_all(args: &CheckArgs) -> Option<Vec<(String, ttlab_scenarios::Scenario)>> {
    let mut scenarios = Vec::new();
    let mut bad = false;
    for f in &args.files {
        let (shown, loaded) = super::load_scenario(f);
        match loaded {
            Ok(s) => {
                if !args.real
                    && let Some(e) = super::refuse_app(&s, &shown)
                {
                    eprintln!("error: {e} (or `ttlab check --real`)");
                    bad = true;
                }
                scenarios.push((shown, s));
            }
            Err(e) => {
                super::print_scenario_error(&shown, &e);
                bad = true;
            }
        }
    }
    (!bad).then_some(scenarios)
}

/// Runs the gate.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let Some(scenarios) = load_all(args) else {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    };
    super::output::check_out_dir(&args.out)?;
    let runtime = if args.real {
        Some(tokio::runtime::Runtime::new().context("cannot start the async runtime")?)
    } else {
        None
    };
    let mut reports: Vec<Report> = Vec::new();
    for (shown, scenario) in scenarios {
        let name = scenario.name.clone();
        let archs = scenario.architectures.clone();
        eprintln!(
            "{shown}: {} {} architecture(s)…",
            if args.real { "running" } else { "simulating" },
            archs.len()
        );
        let world = Arc::new(World::new(scenario));
        let report = match &runtime {
            Some(rt) => {
                let _hushed = super::hush_goose();
                rt.block_on(ttlab_loadgen::run::run(world, &archs, &Quiet))?
            }
            // The gate is the scenario's own options; a [sweep] is exploration.
            None => ttlab_loadgen::sim::simulate(&world, &archs, None),
        };
        let path = output::write_report(&args.out, &format!("{name}-check"), &report)?;
        let checked: usize = report
            .architectures
            .iter()
            .map(|a| a.thresholds.len())
            .sum();
        let breaches = gate::breaches(&report);
        if breaches.is_empty() {
            println!(
                "ok    {name}: {checked} thresholds hold ({})",
                path.display()
            );
        } else {
            println!(
                "FAIL  {name}: {} of {checked} thresholds breached ({})",
                breaches.len(),
                path.display()
            );
            for (arch, t) in &breaches {
                println!(
                    "      {arch}: {} is {}, breaking {}",
                    t.measure,
                    t.shown_value(),
                    t.describe()
                );
            }
        }
        reports.push(report);
    }
    if let Some(path) = &args.junit {
        output::write(path, &junit::render(&reports))?;
    }
    if let Some(path) = &args.markdown {
        let text: String = reports.iter().map(|r| markdown::render(r) + "\n").collect();
        // Appended: $GITHUB_STEP_SUMMARY collects every step's summary.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let failed = reports
        .iter()
        .filter(|r| !gate::breaches(r).is_empty())
        .count();
    if failed == 0 {
        println!("all {} scenario(s) hold their thresholds", reports.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{failed} of {} scenario(s) breach thresholds",
            reports.len()
        );
        Ok(ExitCode::from(EXIT_BREACH))
    }
}
