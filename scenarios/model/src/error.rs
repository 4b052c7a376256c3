//! Errors a person can act on: every problem in a scenario file names the
//! file, line and column and says what was expected.

use std::fmt;
use std::ops::Range;

use thiserror::Error;

/// One problem at one place in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
    /// The text of the line, for a caret display.
    pub source_line: String,
}

impl Diagnostic {
    /// Locates byte offset `span.start` in `source`.
    pub fn at(file: &str, source: &str, span: Range<usize>, message: String) -> Diagnostic {
        let start = span.start.min(source.len());
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        let source_line = source[line_start..].lines().next().unwrap_or("").to_owned();
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            message,
            source_line,
        }
    }

    /// The diagnostic with the offending line and a caret under the column,
    /// as a compiler shows it.
    pub fn render_with_source(&self) -> String {
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_pad: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{self}\n{pad} |\n{num} | {}\n{pad} | {caret_pad}^\n",
            self.source_line
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read the scenario file: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid scenario; every problem found is listed.
    #[error("{}", list(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ScenarioError {
    /// The problems, if the file was read but is invalid.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Invalid(d) => d,
            ScenarioError::Read { .. } => &[],
        }
    }
}

fn list(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column_in_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        let off = src.find("\"x\"").unwrap();
        let d = Diagnostic::at("f.toml", src, off..off + 3, "bad".into());
        assert_eq!((d.line, d.column), (2, 6));
        assert_eq!(d.to_string(), "f.toml:2:6: bad");
        assert_eq!(d.source_line, "bé = \"x\"");
        assert!(
            d.render_with_source()
                .contains("2 | bé = \"x\"\n  |      ^")
        );
    }

    #[test]
    fn span_past_the_end_points_at_the_last_line() {
        let d = Diagnostic::at("f.toml", "x", 10..12, "eof".into());
        assert_eq!((d.line, d.column), (1, 2));
    }
}
