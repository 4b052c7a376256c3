//! The `ttlab` command: parses arguments and hands them to [`ttlab::run`].

use std::process::ExitCode;

// The servers of a run allocate per request on several threads; glibc's
// allocator serialized them on its arena locks (seen in perf), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ttlab::main_with_args(std::env::args_os())
}
