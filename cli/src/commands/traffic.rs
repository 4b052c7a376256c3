//! `ttlab traffic fit`: a scenario's `[traffic]` fitted to the team's own
//! access log or trace.

use std::process::ExitCode;
use std::time::Duration;

use ttlab_scenarios::bounds;
use ttlab_traffic::fit::{self, FitOptions};
use ttlab_traffic::trace::{self, Columns, Format, Kind, TimeUnit};

use crate::args::{TraceFormat, TraceTimeUnit, TrafficFitArgs};
use crate::exit::EXIT_BAD_INPUT;

/// The layout the flags (or the file's name) say.
fn format_of(args: &TrafficFitArgs) -> Format {
    let columns = Columns {
        time: args.time.clone(),
        time_unit: match args.time_unit {
            TraceTimeUnit::S => TimeUnit::Seconds,
            TraceTimeUnit::Ms => TimeUnit::Millis,
            TraceTimeUnit::Us => TimeUnit::Micros,
            TraceTimeUnit::Rfc3339 => TimeUnit::Rfc3339,
        },
        path: args.path.clone(),
        visitor: (!args.visitor.is_empty()).then(|| args.visitor.clone()),
        size: args.size.clone(),
    };
    let kind = match args.format {
        Some(TraceFormat::AccessLog) => Kind::AccessLog,
        Some(TraceFormat::Csv) => Kind::Csv,
        Some(TraceFormat::Tsv) => Kind::Tsv,
        Some(TraceFormat::Jsonl) => Kind::JsonLines,
        None => Kind::of_path(&args.log),
    };
    kind.with(columns)
}

/// Reads the log, fits it, and writes the `[traffic]` table.
pub fn fit(args: &TrafficFitArgs) -> anyhow::Result<ExitCode> {
    if args.bucket < Duration::from_secs(1) || args.session_gap.is_zero() {
        eprintln!("error: --bucket must be at least 1s and --session-gap more than 0s");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let format = format_of(args);
    let trace = match trace::read(&args.log, &format) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let shown = args.log.display().to_string();
    for bad in &trace.bad {
        eprintln!("{shown}:{}: skipped: {}", bad.line, bad.message);
    }
    if trace.bad_count > trace.bad.len() as u64 {
        eprintln!(
            "{shown}: … and {} more lines skipped",
            trace.bad_count - trace.bad.len() as u64
        );
    }
    let fitted = fit::fit(
        &trace.requests,
        FitOptions {
            bucket: args.bucket,
            session_gap: args.session_gap,
            max_visitors: u64::from(bounds::MAX_VISITORS),
            max_span: bounds::MAX_RUN.to_duration(),
        },
    );
    if !fitted.zipf.good() {
        eprintln!(
            "warning: a Zipf law fits these pages badly (Kolmogorov-Smirnov distance {:.3}); zipf_s is a rough guide",
            fitted.zipf.ks
        );
    }
    let first = trace.bad.first().map(|b| (b.line, b.message.as_str()));
    let table = fit::render::render(&fitted, &shown, trace.bad_count, first);
    match &args.out {
        Some(p) => {
            super::output::write(p, &table)?;
            eprintln!(
                "{shown}: {} requests read, {} skipped; [traffic] written to {}",
                trace.requests.len(),
                trace.bad_count,
                p.display()
            );
        }
        None => print!("{table}"),
    }
    Ok(ExitCode::SUCCESS)
}
