//! What `ttlab` accepts: every subcommand, option and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Measure what caching does to personalized server-side-rendered pages.
///
/// ttlab runs a scenario (visitors, Personalize experiences, content and a
/// timeline of changes) against mock Contentstack APIs and a reference SSR
/// origin under several cache architectures, and reports origin load, hit
/// rate per layer, stale and wrong variants, and latency.
#[derive(Debug, Parser)]
#[command(
    name = "ttlab",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scenario files and print what each holds.
    Validate(ValidateArgs),
    /// List the scenarios ttlab ships, with the question each answers.
    Scenarios(ScenariosArgs),
    /// Print the JSON Schema of the scenario format (for editor completion).
    Schema(SchemaArgs),
}

/// `ttlab validate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every file is valid, 2 when any is not.\n\
Example: ttlab validate scenarios/*.toml"
)]
pub struct ValidateArgs {
    /// Scenario files, or names of shipped scenarios (see `ttlab scenarios`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Print only problems, no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `ttlab scenarios`.
#[derive(Debug, Args)]
pub struct ScenariosArgs {
    /// Print the named scenario's file instead of the list.
    #[arg(value_name = "NAME")]
    pub show: Option<String>,
}

/// `ttlab schema`.
#[derive(Debug, Args)]
#[command(
    after_help = "For editor completion with taplo (Even Better TOML), add to a scenario:\n\
#:schema ./ttlab-scenario.schema.json"
)]
pub struct SchemaArgs {
    /// Write the schema to this file instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}
