//! One module per subcommand; each `run` returns the exit code.

pub mod check;
pub mod deploy;
pub mod merge;
pub mod output;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod schema;
pub mod serve;
pub mod sim;
pub mod traffic;
pub mod validate;
pub mod vcl;

use ttlab_scenarios::{Scenario, ScenarioError, shipped};

/// Loads a scenario from a path, or a shipped scenario by name when no such
/// file exists. Returns the name to show in messages with the result. A
/// scenario that replays a trace with unreadable lines loads (they are
/// skipped), but says so on stderr: every command that loads one
/// (`validate`, `check`, `sim`, `run`, `serve`) passes here.
pub fn load_scenario(arg: &str) -> (String, Result<Scenario, ScenarioError>) {
    let path = std::path::Path::new(arg);
    let (shown, loaded) = if !path.exists()
        && let Some(s) = shipped::get(arg)
    {
        (
            s.path.to_owned(),
            ttlab_scenarios::parse_str(s.path, s.source),
        )
    } else {
        (arg.to_owned(), ttlab_scenarios::load(path))
    };
    if let Ok(s) = &loaded
        && let Some(warning) = skipped_trace_lines(&shown, s)
    {
        eprintln!("{warning}");
    }
    (shown, loaded)
}

/// The warning for a replayed trace that had lines it could not read: a
/// replay of fewer requests than the file holds should not pass unnoticed,
/// yet one bad line in a day's log should not stop the run either.
fn skipped_trace_lines(shown: &str, s: &Scenario) -> Option<String> {
    let ttlab_scenarios::model::Load::Trace(r) = &s.traffic.load else {
        return None;
    };
    let (line, why) = r.first_bad.as_ref()?;
    Some(format!(
        "warning: {shown}: trace {}: {} line{} could not be read and {} skipped; the first is line {line}: {why}",
        r.file,
        r.bad_lines,
        if r.bad_lines == 1 { "" } else { "s" },
        if r.bad_lines == 1 { "was" } else { "were" },
    ))
}

/// Why a scenario with the team's own app (`[app]`) cannot be simulated:
/// the simulator models ttlab's origin, and the app is not ttlab's, so
/// there is nothing to simulate; `ttlab run` starts and judges it.
pub fn refuse_app(scenario: &Scenario, shown: &str) -> Option<String> {
    scenario.app.as_ref().map(|app| {
        format!(
            "{shown} has an [app] (`{}`): the team's own app runs for real only — the simulator models ttlab's origin, not an app it did not write; run it with `ttlab run {shown}`",
            app.command
        )
    })
}

/// Loads the scenario a command is about, or prints why it cannot be loaded
/// and gives the exit code for bad input: the first step of every command
/// that runs one scenario.
pub fn scenario_or_exit(arg: &str) -> Result<(String, Scenario), std::process::ExitCode> {
    let (shown, loaded) = load_scenario(arg);
    match loaded {
        Ok(s) => Ok((shown, s)),
        Err(e) => {
            print_scenario_error(&shown, &e);
            Err(std::process::ExitCode::from(crate::exit::EXIT_BAD_INPUT))
        }
    }
}

/// Prints why a scenario could not be loaded: every problem with its source
/// line and a caret, then a count.
pub fn print_scenario_error(shown: &str, error: &ScenarioError) {
    match error {
        ScenarioError::Invalid(diags) => {
            for d in diags {
                eprintln!("{}", d.render_with_source());
            }
            eprintln!(
                "{shown}: {} problem{}",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            );
        }
        read @ ScenarioError::Read { .. } => eprintln!("{read}"),
    }
}

/// Sends stdout nowhere while the returned guard lives, for the length of a
/// goose attack: goose prints "All N users launched." to stdout, unasked
/// and with no switch to stop it, and stdout is ttlab's for the summary and
/// the report's path, which scripts read (`ttlab run -q`). Not while the
/// dashboard draws on stdout. `None` (and goose's line) if the descriptor
/// cannot be redirected.
pub fn hush_goose() -> Option<gag::Gag> {
    gag::Gag::stdout()
        .inspect_err(|e| tracing::debug!(error = %e, "stdout stays open to goose's messages"))
        .ok()
}

/// Says a run was interrupted: on stdout beside the summary, or on stderr
/// under `-q`, whose stdout is the report's path alone (scripts read it; the
/// exit status tells them).
pub fn say_interrupted(quiet: bool, what: &str) {
    if quiet {
        eprintln!("interrupted: {what}");
    } else {
        println!("interrupted: {what}");
    }
}

/// The exit status of a run that wrote its report: success, or
/// [`EXIT_INTERRUPTED`](crate::exit::EXIT_INTERRUPTED) when Ctrl-C cut it
/// short.
pub fn finished(report: &ttlab_reports::Report) -> std::process::ExitCode {
    if report.interrupted {
        std::process::ExitCode::from(crate::exit::EXIT_INTERRUPTED)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// The variable a Kubernetes Indexed Job sets in each pod to the pod's index.
pub const JOB_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// `flag` when given, else the pod's index from [`JOB_INDEX_VAR`] when it is
/// set, so the same command line serves every pod of an Indexed Job. A value
/// that is not a number is an error naming the variable, not a silent default.
pub fn index_or_job_index(flag: Option<u32>, what: &str) -> Result<Option<u32>, String> {
    if flag.is_some() {
        return Ok(flag);
    }
    match std::env::var(JOB_INDEX_VAR) {
        Ok(text) => text.trim().parse::<u32>().map(Some).map_err(|_| {
            format!("{JOB_INDEX_VAR}=\"{text}\" is not a number; it stands for {what} when that flag is absent")
        }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{JOB_INDEX_VAR} is not a number; it stands for {what} when that flag is absent"
        )),
    }
}
