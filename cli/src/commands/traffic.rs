//! `ttlab traffic fit`: a scenario's `[traffic]` fitted to the team's own
//! access log or trace; `ttlab traffic log`: a scenario's traffic written as
//! such a log, which `fit` reads back.

use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use ttlab_loadgen::traffic_log::TrafficLog;
use ttlab_scenarios::{World, bounds};
use ttlab_traffic::fit::{self, FitOptions};
use ttlab_traffic::trace::{self, Columns, Format, Kind, Packing, Record, TimeUnit};

use crate::args::{TraceFormat, TraceTimeUnit, TrafficFitArgs, TrafficLogArgs};
use crate::exit::EXIT_BAD_INPUT;

/// The kind a `--format` names.
fn kind_of(format: TraceFormat) -> Kind {
    match format {
        TraceFormat::AccessLog => Kind::AccessLog,
        TraceFormat::Csv => Kind::Csv,
        TraceFormat::Tsv => Kind::Tsv,
        TraceFormat::Jsonl => Kind::JsonLines,
    }
}

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
    let kind = args
        .format
        .map_or_else(|| Kind::of_path(&args.log), kind_of);
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

/// Writes the requests of the scenario's traffic as a log: to `--out`
/// (through a hidden file renamed when complete, so an interrupted write
/// leaves no truncated log under the name), or to stdout.
pub fn log(args: &TrafficLogArgs) -> anyhow::Result<ExitCode> {
    let start_us = match trace::parse_time(&args.start, TimeUnit::Rfc3339) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --start: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let (shown, scenario) = match super::scenario_or_exit(&args.scenario) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let kind = args.format.map_or_else(
        || args.out.as_deref().map_or(Kind::AccessLog, Kind::of_path),
        kind_of,
    );
    let world = World::new(scenario);
    let pages = &world.scenario().content.pages;
    // The uids are derived; the log borrows them, so they are derived once
    // here (36 bytes a visitor, for the export only).
    let visitors: Vec<_> = (0..world.visitor_count()).map(|v| world.uid(v)).collect();
    let records = TrafficLog::new(&world).map(|r| Record {
        at_us: start_us.saturating_add(r.at.0 as i64),
        path: &pages[r.page as usize].path,
        visitor: visitors[r.visitor as usize].as_str(),
    });
    let duration = world.scenario().duration;
    match &args.out {
        Some(path) => {
            let lines = write_file(path, kind, records)?;
            eprintln!(
                "{shown}: {lines} requests over {duration} written to {}",
                path.display()
            );
        }
        None => {
            let out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            match trace::write(out, kind, Packing::Plain, records) {
                Ok(_) => {}
                // A reader that has seen enough (`| head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e).context("cannot write the log to stdout"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `records` to `path` as `kind`, packed as its name says, through a
/// hidden partial file beside it; gives the lines written.
fn write_file<'a>(
    path: &Path,
    kind: Kind,
    records: impl Iterator<Item = Record<'a>>,
) -> anyhow::Result<u64> {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temp = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::File::create(&temp)
        .and_then(|file| {
            trace::write(
                BufWriter::with_capacity(1 << 16, file),
                kind,
                Packing::of_path(path),
                records,
            )
        })
        .and_then(|lines| std::fs::rename(&temp, path).map(|()| lines));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}
