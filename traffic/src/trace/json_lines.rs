//! JSON-lines traces: one object a line, keys named by the scenario.

use std::io::BufRead;

use serde_json::Value;

use super::format::Columns;
use super::request::{Request, Trace};
use super::time;

/// Reads every line; bad ones are counted with their numbers.
pub(crate) fn read(reader: impl BufRead, columns: &Columns) -> std::io::Result<Trace> {
    let mut trace = Trace::default();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let n = i as u64 + 1;
        trace.lines = n;
        if line.trim().is_empty() {
            continue;
        }
        match parse(&line, columns) {
            Ok(r) => trace.requests.push(r),
            Err(e) => trace.bad_line(n, e),
        }
    }
    Ok(trace)
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
        Some(key) => {
            let s = text(key)?;
            Some(
                s.parse::<u64>()
                    .map_err(|_| format!("{key:?} {s:?} is not a number"))?,
            )
        }
        None => None,
    };
    Ok(Request {
        at_us,
        path,
        visitor,
        size,
    })
}
