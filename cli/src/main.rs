//! The `ttlab` command: parses arguments and hands them to [`ttlab::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    ttlab::main_with_args(std::env::args_os())
}
