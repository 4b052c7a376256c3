//! `ttlab scenarios`: the shipped scenarios and the question each answers.

use std::process::ExitCode;

use anyhow::bail;
use ttlab_scenarios::shipped::{self, SHIPPED};

use crate::args::ScenariosArgs;

/// Lists shipped scenarios, or prints one.
pub fn run(args: &ScenariosArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.show {
        let Some(s) = shipped::get(name) else {
            let names: Vec<_> = SHIPPED.iter().map(|s| s.name).collect();
            bail!(
                "no shipped scenario \"{name}\"; shipped: {}",
                names.join(", ")
            );
        };
        print!("{}", s.source);
        return Ok(ExitCode::SUCCESS);
    }
    let width = SHIPPED.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in SHIPPED {
        let description = ttlab_scenarios::parse_str(s.path, s.source)
            .map_or_else(|e| format!("(invalid: {e})"), |sc| sc.description);
        println!("{:<width$}  {description}", s.name);
    }
    println!();
    println!(
        "Run one with `ttlab validate NAME` to see what it holds, or `ttlab scenarios NAME` to print it."
    );
    Ok(ExitCode::SUCCESS)
}
