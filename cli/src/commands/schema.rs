//! `ttlab schema`: the scenario format as JSON Schema.

use std::process::ExitCode;

use anyhow::Context;

use crate::args::SchemaArgs;

/// Prints or writes the schema.
pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let text = serde_json::to_string_pretty(&ttlab_scenarios::json_schema())? + "\n";
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the schema to {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
