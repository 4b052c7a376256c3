//! `ttlab report`, `ttlab compare` and `ttlab advise`: what is made of saved
//! reports.

use std::process::ExitCode;

use ttlab_reports::advise::{self, Budget};
use ttlab_reports::{compare as cmp, html, junit, markdown};

use super::output::{not_the_input, read_report, write};
use crate::args::{AdviseArgs, CompareArgs, ReportArgs};
use crate::exit::EXIT_BAD_INPUT;

fn bad(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Renders a saved report in the formats asked for (Markdown to stdout when none is).
pub fn render(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let report = match read_report(&args.report) {
        Ok(r) => r,
        Err(e) => return Ok(bad(&e)),
    };
    for out in [&args.html, &args.markdown, &args.junit]
        .into_iter()
        .flatten()
    {
        if let Err(e) = not_the_input(&args.report, out) {
            return Ok(bad(&e));
        }
    }
    if let Some(p) = &args.html {
        write(p, &html::render(&report))?;
    }
    if let Some(p) = &args.markdown {
        write(p, &markdown::render(&report))?;
    }
    if let Some(p) = &args.junit {
        write(p, &junit::render(std::slice::from_ref(&report)))?;
    }
    if args.html.is_none() && args.markdown.is_none() && args.junit.is_none() {
        print!("{}", markdown::render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Compares two reports; exit 1 when something regressed.
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let (base, new) = match (read_report(&args.base), read_report(&args.new)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => return Ok(bad(&e)),
    };
    if base.scenario != new.scenario {
        if !args.any_scenario {
            return Ok(bad(&format!(
                "{} is scenario \"{}\" and {} is scenario \"{}\": two scenarios differ by design, so no change between them is a regression; compare two runs of one scenario, or pass --any-scenario to see the table anyway",
                args.base.display(),
                base.scenario,
                args.new.display(),
                new.scenario
            )));
        }
        eprintln!(
            "warning: comparing scenario {} with scenario {} (--any-scenario)",
            base.scenario, new.scenario
        );
    }
    let c = cmp::compare(&base, &new);
    if c.changes.is_empty() {
        print!("{}", cmp::render(&c));
        let names = |r: &ttlab_reports::Report| {
            r.architectures
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Ok(bad(&if c.skipped.is_empty() {
            format!(
                "the two reports share no architecture to compare (base: {}; new: {})",
                names(&base),
                names(&new)
            )
        } else {
            "no architecture had requests in both reports: nothing to compare".to_owned()
        }));
    }
    print!("{}", cmp::render(&c));
    let n = c.regressions().count();
    if n == 0 {
        println!("no regressions beyond noise");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{n} regression(s)");
        Ok(ExitCode::from(1))
    }
}

/// Names the cheapest swept value within the stale budget.
pub fn advise(args: &AdviseArgs) -> anyhow::Result<ExitCode> {
    let report = match read_report(&args.report) {
        Ok(r) => r,
        Err(e) => return Ok(bad(&e)),
    };
    if !(0.0..=1.0).contains(&args.max_stale_rate) {
        return Ok(bad("--max-stale-rate is a share between 0 and 1"));
    }
    let Some(sweep) = &report.sweep else {
        return Ok(bad(&format!(
            "{}: the report has no sweep; run ttlab sim with --sweep (or a [sweep] in the scenario)",
            args.report.display()
        )));
    };
    let advice = advise::advise(&report, |a| Budget::from_thresholds(a, args.max_stale_rate))
        .unwrap_or_default();
    for line in advise::describe(&sweep.option, &advice) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
