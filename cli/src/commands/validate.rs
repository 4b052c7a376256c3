//! `ttlab validate FILE...`: every problem of every file, or a summary of each.

use std::process::ExitCode;

use ttlab_scenarios::{World, summary};

use crate::args::ValidateArgs;
use crate::exit::EXIT_BAD_INPUT;

/// Validates each file; prints diagnostics to stderr and summaries to stdout.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut bad = 0usize;
    for (i, file) in args.files.iter().enumerate() {
        let (shown, result) = super::load_scenario(file);
        match result {
            Ok(scenario) => {
                if !args.quiet {
                    if i > 0 {
                        println!();
                    }
                    println!("{shown}: ok");
                    print!("{}", summary::summarize(&World::new(scenario)));
                }
            }
            Err(e) => {
                bad += 1;
                super::print_scenario_error(&shown, &e);
            }
        }
    }
    if bad > 0 {
        if args.files.len() > 1 {
            eprintln!("{bad} of {} files invalid", args.files.len());
        }
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
