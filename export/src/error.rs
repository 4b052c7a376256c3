//! Why an export could not be read: every problem names the file inside the
//! export (as a path the user can open) and, for JSON, the line and column.

use thiserror::Error;

/// One problem with an export.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The export folder or archive, or a file it must have, is not there.
    #[error("{file}: {what}")]
    Missing {
        /// The path as the user can find it.
        file: String,
        /// What was expected there.
        what: String,
    },
    /// A file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The path.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON file is not valid JSON.
    #[error("{file}:{line}:{column}: {message}")]
    Json {
        /// The path.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// Valid JSON, but not in the shape the CLI writes.
    #[error("{file}: {message}")]
    Shape {
        /// The path.
        file: String,
        /// What was found and what was expected.
        message: String,
    },
    /// A zip archive that cannot be read, or is larger than ttlab takes.
    #[error("{file}: {message}")]
    Zip {
        /// The archive.
        file: String,
        /// Why.
        message: String,
    },
}

impl ExportError {
    /// A JSON parse error of `file`, at the parser's line and column.
    pub(crate) fn json(file: &str, e: &serde_json::Error) -> ExportError {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the location is ours to say.
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m)
            .to_owned();
        ExportError::Json {
            file: file.to_owned(),
            line: e.line().max(1),
            column: e.column().max(1),
            message,
        }
    }

    /// The shape problem `message` in `file`.
    pub(crate) fn shape(file: &str, message: impl Into<String>) -> ExportError {
        ExportError::Shape {
            file: file.to_owned(),
            message: message.into(),
        }
    }
}
