//! Reading a trace: one [`Request`] per good line, every bad line counted
//! with its number and why, never fatal unless every line is bad.
//!
//! One job per module: [`format`] says how a file is laid out, `request`
//! what a read trace holds, `access_log`
//! parses the common and combined log formats, `delimited` CSV/TSV,
//! `json_lines` JSON lines, `time` the time columns, and `open` unpacks
//! gzip and zstd by their magic bytes. [`write`] goes the other way: requests
//! out as any of these formats (each format's line writer beside its reader),
//! plain, gzip or zstd.

mod access_log;
mod delimited;
pub mod format;
mod json_lines;
mod open;
mod request;
mod time;
pub mod write;

use std::io::BufRead;
use std::path::Path;

use thiserror::Error;

pub use format::{Columns, DEFAULT_COLUMNS, Format, Kind, TimeUnit};
pub use request::{BAD_LINES_KEPT, BadLine, Record, Request, Trace};
pub use write::{Packing, write};

/// Why a trace could not be read at all.
#[derive(Debug, Error)]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not one line could be read: the format is probably not the one given.
    #[error("{path}: none of its {bad} lines could be read as {format}; line {}: {}", first.line, first.message)]
    AllBad {
        /// The file.
        path: String,
        /// The format expected.
        format: String,
        /// Bad lines.
        bad: u64,
        /// The first of them.
        first: BadLine,
    },
    /// The file holds no requests.
    #[error("{path}: no requests in it")]
    Empty {
        /// The file.
        path: String,
    },
    /// A CSV/TSV header lacks a column the scenario names.
    #[error("{path}:1: {message}")]
    Header {
        /// The file.
        path: String,
        /// What is missing.
        message: String,
    },
}

/// A time written as a trace's time column in `unit` holds it, as µs (since
/// the Unix epoch for RFC 3339): one reading of times for traces and for
/// the command line (`traffic log --start`).
///
/// # Errors
///
/// What is wrong with `text`.
pub fn parse_time(text: &str, unit: TimeUnit) -> Result<i64, String> {
    time::parse(text, unit)
}

/// Reads the trace at `path` laid out as `format` (plain, gzip or zstd).
pub fn read(path: &Path, format: &Format) -> Result<Trace, TraceError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| TraceError::Read {
        path: shown.clone(),
        source,
    })?;
    let reader = open::unpacked(file).map_err(|source| TraceError::Read {
        path: shown.clone(),
        source,
    })?;
    read_from(&shown, reader, format)
}

/// Reads a trace from `reader` (already unpacked); `name` names it in errors.
pub fn read_from(name: &str, reader: impl BufRead, format: &Format) -> Result<Trace, TraceError> {
    let io = |source| TraceError::Read {
        path: name.to_owned(),
        source,
    };
    let trace = match format {
        Format::AccessLog => access_log::read(reader).map_err(io)?,
        Format::JsonLines(columns) => json_lines::read(reader, columns).map_err(io)?,
        Format::Delimited { delimiter, columns } => delimited::read(reader, *delimiter, columns)
            .map_err(|e| match e {
                delimited::Error::Io(source) => io(source),
                delimited::Error::Header(message) => TraceError::Header {
                    path: name.to_owned(),
                    message,
                },
            })?,
    };
    if trace.requests.is_empty() {
        return Err(match trace.bad.first() {
            Some(first) => TraceError::AllBad {
                path: name.to_owned(),
                format: format.name().to_owned(),
                bad: trace.bad_count,
                first: first.clone(),
            },
            None => TraceError::Empty {
                path: name.to_owned(),
            },
        });
    }
    Ok(trace)
}
