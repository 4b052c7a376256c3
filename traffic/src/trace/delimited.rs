//! CSV and TSV traces with a header row naming the columns.

use std::io::BufRead;

use super::format::{Columns, DEFAULT_COLUMNS};
use super::request::{Record, Request, Trace, parse_size};
use super::time;

/// Why a table could not be read at all.
pub(crate) enum Error {
    Io(std::io::Error),
    /// The header lacks a named column.
    Header(String),
}

/// Reads every row; bad ones are counted with their line numbers.
pub(crate) fn read(reader: impl BufRead, delimiter: u8, columns: &Columns) -> Result<Trace, Error> {
    let mut table = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(reader);
    let header = table.headers().map_err(csv_io)?.clone();
    let find = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            Error::Header(format!(
                "no column {name:?} in the header (it has {})",
                header
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    let at = find(&columns.time)?;
    let path = find(&columns.path)?;
    let visitor = columns.visitor.as_deref().map(find).transpose()?;
    let size = columns.size.as_deref().map(find).transpose()?;
    let mut trace = Trace::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = table.position().line();
        match table.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, csv::Position::line);
                trace.lines = line;
                match row(&record, at, path, visitor, size, columns) {
                    Ok(r) => trace.requests.push(r),
                    Err(e) => trace.bad_line(line, e),
                }
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(csv_io(e)),
                _ => {
                    let line = e.position().map_or(line, csv::Position::line);
                    trace.bad_line(line, e.to_string());
                }
            },
        }
    }
    Ok(trace)
}

fn csv_io(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::Io(e),
        other => Error::Header(format!("{other:?}")),
    }
}

fn row(
    record: &csv::StringRecord,
    at: usize,
    path: usize,
    visitor: Option<usize>,
    size: Option<usize>,
    columns: &Columns,
) -> Result<Request, String> {
    let field = |i: usize, name: &str| {
        record
            .get(i)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("no {name:?} value"))
    };
    let at_us = time::parse(field(at, &columns.time)?, columns.time_unit)?;
    let path = field(path, &columns.path)?.trim().to_owned();
    let visitor = visitor
        .map(|i| field(i, columns.visitor.as_deref().unwrap_or_default()))
        .transpose()?
        .map(|v| v.trim().to_owned());
    let size = match size {
        Some(i) => Some(parse_size(
            "size",
            field(i, columns.size.as_deref().unwrap_or_default())?,
        )?),
        None => None,
    };
    Ok(Request {
        at_us,
        path,
        visitor,
        size,
    })
}

/// The header [`write_row`]'s rows go under: the default column names
/// ([`Columns::default`]), so `traffic fit` reads the file with no flags.
pub(crate) fn write_header(out: &mut String, delimiter: u8) {
    let d = char::from(delimiter).to_string();
    out.push_str(&DEFAULT_COLUMNS.join(&d));
    out.push('\n');
}

/// One row: Unix seconds with six decimals, the path, the visitor.
pub(crate) fn write_row(out: &mut String, r: &Record<'_>, delimiter: u8) {
    let d = char::from(delimiter);
    time::format_seconds(out, r.at_us);
    out.push(d);
    field(out, r.path, d);
    out.push(d);
    field(out, r.visitor, d);
    out.push('\n');
}

/// A field, quoted as RFC 4180 says when it holds the separator, a quote
/// or a line break (the `csv` reader undoes exactly this).
fn field(out: &mut String, value: &str, delimiter: char) {
    if value.contains([delimiter, '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}
