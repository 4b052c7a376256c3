//! `ttlab merge REPORT...`: the reports of several load machines added up
//! into the report of the whole run, written as `run` writes its own.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::MergeArgs;
use crate::exit::EXIT_BAD_INPUT;

/// Reads the workers' reports, merges them and writes the merged report.
pub fn run(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    super::output::check_out_dir(&args.out)?;
    let mut reports = Vec::new();
    for given in &args.reports {
        // A run folder stands for the report.json in it.
        let path: PathBuf = if given.is_dir() {
            given.join("report.json")
        } else {
            given.clone()
        };
        match super::output::read_report(&path) {
            Ok(r) => reports.push((path.display().to_string(), r)),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
    }
    let merged = match ttlab_reports::merge::merge(&reports) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let name = format!("{}-merged", merged.scenario);
    let path = super::output::write_report(&args.out, &name, &merged)?;
    if !args.quiet {
        println!("{}", super::run::summary(&merged));
        println!(
            "merged {} workers' reports ({} requests)",
            merged.merged_workers.unwrap_or(1),
            merged.architectures.iter().map(|a| a.requests).sum::<u64>()
        );
    }
    println!("report: {}", path.display());
    Ok(ExitCode::SUCCESS)
}
