//! `ttlab schema`: the scenario format as JSON Schema.

use std::process::ExitCode;

use crate::args::SchemaArgs;

/// Prints or writes the schema (written whole or not at all).
pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let text = serde_json::to_string_pretty(&ttlab_scenarios::json_schema())? + "\n";
    match &args.output {
        Some(path) => super::output::write(path, &text)?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
