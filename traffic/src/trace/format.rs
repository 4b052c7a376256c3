//! How a trace file is laid out: which format, and for tables, which
//! column holds what.

/// A trace's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// The common or combined log format of Apache, nginx and most CDNs:
    /// `host ident user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "ref" "agent"`.
    AccessLog,
    /// A table with a header row: CSV (`b','`) or TSV (`b'\t'`).
    Delimited {
        /// The field separator.
        delimiter: u8,
        /// Which columns hold what.
        columns: Columns,
    },
    /// One JSON object per line, with these keys.
    JsonLines(Columns),
}

/// A layout's kind, before its columns are known: what a file's name or a
/// scenario's `trace_format` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Common or combined log format.
    AccessLog,
    /// CSV with a header row.
    Csv,
    /// TSV with a header row.
    Tsv,
    /// One JSON object per line.
    JsonLines,
}

impl Kind {
    /// The kind a file's name says: `.csv`, `.tsv`, `.jsonl`/`.ndjson`,
    /// looking past `.gz` or `.zst`; anything else is an access log.
    pub fn of_path(path: &std::path::Path) -> Kind {
        let ext = |p: &std::path::Path| {
            p.extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
        };
        let mut path = path.to_path_buf();
        if matches!(ext(&path).as_deref(), Some("gz" | "zst")) {
            path.set_extension("");
        }
        match ext(&path).as_deref() {
            Some("csv") => Kind::Csv,
            Some("tsv") => Kind::Tsv,
            Some("jsonl" | "ndjson") => Kind::JsonLines,
            _ => Kind::AccessLog,
        }
    }

    /// The kind a name gives (`csv`, `tsv`, `jsonl`, `access-log`).
    pub fn named(name: &str) -> Option<Kind> {
        match name {
            "csv" => Some(Kind::Csv),
            "tsv" => Some(Kind::Tsv),
            "jsonl" | "json-lines" | "ndjson" => Some(Kind::JsonLines),
            "access-log" | "combined" | "common" => Some(Kind::AccessLog),
            _ => None,
        }
    }

    /// The full layout, with `columns` for the kinds that have them.
    pub fn with(self, columns: Columns) -> Format {
        match self {
            Kind::AccessLog => Format::AccessLog,
            Kind::Csv => Format::Delimited {
                delimiter: b',',
                columns,
            },
            Kind::Tsv => Format::Delimited {
                delimiter: b'\t',
                columns,
            },
            Kind::JsonLines => Format::JsonLines(columns),
        }
    }
}

impl TimeUnit {
    /// The unit a name gives (`s`, `ms`, `us`, `rfc3339`).
    pub fn named(name: &str) -> Option<TimeUnit> {
        match name {
            "s" => Some(TimeUnit::Seconds),
            "ms" => Some(TimeUnit::Millis),
            "us" | "µs" => Some(TimeUnit::Micros),
            "rfc3339" => Some(TimeUnit::Rfc3339),
            _ => None,
        }
    }
}

impl Format {
    /// Its name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Format::AccessLog => "an access log (common or combined format)",
            Format::Delimited {
                delimiter: b'\t', ..
            } => "TSV",
            Format::Delimited { .. } => "CSV",
            Format::JsonLines(_) => "JSON lines",
        }
    }
}

/// Which column (or JSON key) holds what: a table's columns are named by
/// its header, chosen in the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// When the request came.
    pub time: String,
    /// How [`Columns::time`] is written.
    pub time_unit: TimeUnit,
    /// The path, or a cache trace's object id.
    pub path: String,
    /// Who asked, if the trace says.
    pub visitor: Option<String>,
    /// Bytes of the answer, if the trace says.
    pub size: Option<String>,
}

/// The default names of the time, path and visitor columns: what
/// `ttlab traffic log` writes, so its tables read back with no flags.
pub const DEFAULT_COLUMNS: [&str; 3] = ["time", "path", "visitor"];

impl Default for Columns {
    fn default() -> Self {
        let [time, path, visitor] = DEFAULT_COLUMNS;
        Columns {
            time: time.to_owned(),
            time_unit: TimeUnit::Seconds,
            path: path.to_owned(),
            visitor: Some(visitor.to_owned()),
            size: None,
        }
    }
}

/// How a time column is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// A number of seconds (fractions allowed), e.g. a Unix time.
    Seconds,
    /// A number of milliseconds.
    Millis,
    /// A number of microseconds.
    Micros,
    /// RFC 3339 text (`2026-11-30T12:00:00.250Z`).
    Rfc3339,
}
