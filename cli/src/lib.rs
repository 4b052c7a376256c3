//! The `ttlab` command line: argument definitions ([`args`]) and one module
//! per subcommand ([`commands`]). `main.rs` only calls [`main_with_args`], so
//! tests can run the whole command in-process.

pub mod args;
pub mod commands;
pub mod exit;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
pub use exit::{EXIT_BAD_INPUT, EXIT_INTERRUPTED};

/// Runs the command line and returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Run(a) => commands::run::run(&a),
        Command::Sim(a) => commands::sim::run(&a),

        Command::Check(a) => commands::check::run(&a),
        Command::Compare(a) => commands::report::compare(&a),
        Command::Advise(a) => commands::report::advise(&a),
        Command::Report(a) => commands::report::render(&a),
        Command::Merge(a) => commands::merge::run(&a),
        Command::Validate(a) => commands::validate::run(&a),
        Command::Scenarios(a) => commands::scenarios::run(&a),
        Command::Schema(a) => commands::schema::run(&a),
        Command::Vcl(a) => commands::vcl::run(&a),
        Command::Deploy(args::DeployCommand::K8s(a)) => commands::deploy::k8s(&a),
        Command::Serve(args::ServeCommand::Mocks(a)) => commands::serve::mocks(&a),
        Command::Serve(args::ServeCommand::Origin(a)) => commands::serve::origin(&a),
        Command::Serve(args::ServeCommand::Stack(a)) => commands::serve::stack(&a),
        Command::Serve(args::ServeCommand::Cdn(a)) => commands::serve::cdn(&a),
        Command::Traffic(args::TrafficCommand::Fit(a)) => commands::traffic::fit(&a),
        Command::Traffic(args::TrafficCommand::Log(a)) => commands::traffic::log(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Logs go to stderr; `-v` raises the level, `RUST_LOG` overrides it.
fn init_logging(verbose: u8) {
    // goose narrates its own options at warn; ttlab sets them on purpose.
    let default = match verbose {
        0 => "warn,goose=error",
        1 => "info,goose=warn",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a terminal: escape codes in a log file or a CI log
    // are noise.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
