//! Exit statuses beyond success, in a module of their own so the
//! subcommands and the dispatch in the crate root that calls them can both
//! name them without depending on each other.

/// Exit status for bad input (an invalid scenario, a missing file), apart
/// from 1, which `ttlab check` keeps for breached thresholds.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Exit status of a `run` or `sim` stopped by Ctrl-C (or the dashboard's
/// `q`) after it wrote its report: 128 + SIGINT, as shells report a process
/// ended by Ctrl-C, so a script or CI step can tell a partial report from a
/// finished one.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit status of a `run` that could not be made for a reason outside its
/// input: the team's app (`[app]`) exited or did not answer in time.
pub const EXIT_RUN_FAILED: u8 = 1;
