//! JSON-lines traces: one object a line, keys named by the scenario.

use std::fmt::Write as _;
use std::io::BufRead;

use serde_json::Value;

use super::format::{Columns, DEFAULT_COLUMNS};
use super::request::{Record, Request, Trace, parse_size, read_lines};
use super::time;

/// Reads every line; bad ones are counted with their numbers.
pub(crate) fn read(reader: impl BufRead, columns: &Columns) -> std::io::Result<Trace> {
    read_lines(reader, |line| parse(line, columns))
}

fn parse(line: &str, columns: &Columns) -> Result<Request, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let text = |key: &str| -> Result<String, String> {
        match v.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(_) => Err(format!("{key:?} is neither text nor a number")),
            None => Err(format!("no {key:?} key")),
        }
    };
    let at_us = time::parse(&text(&columns.time)?, columns.time_unit)?;
    let path = text(&columns.path)?;
    let visitor = columns.visitor.as_deref().map(text).transpose()?;
    let size = match columns.size.as_deref() {
        Some(key) => Some(parse_size(&format!("{key:?}"), &text(key)?)?),
        None => None,
    };
    Ok(Request {
        at_us,
        path,
        visitor,
        size,
    })
}

/// One object: `{"time":12.000250,"path":"/a","visitor":"…"}`, with the
/// default keys ([`Columns::default`]) so `traffic fit` reads it with no
/// flags; the time in Unix seconds with six decimals.
pub(crate) fn write_line(out: &mut String, r: &Record<'_>) {
    let [time_key, path_key, visitor_key] = DEFAULT_COLUMNS;
    let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let _ = write!(out, "{{\"{time_key}\":");
    time::format_seconds(out, r.at_us);
    let _ = writeln!(
        out,
        ",\"{path_key}\":{},\"{visitor_key}\":{}}}",
        text(r.path),
        text(r.visitor)
    );
}
