//! Writing requests as a trace: the other way from reading, so that
//! `ttlab traffic log` gives a file every reader here takes back (and that
//! other tools read as a site's log). One line writer per format lives
//! beside that format's reader; this module streams records through them
//! into plain, gzip or zstd output without holding the file in memory.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::path::Path;

use super::format::Kind;
use super::request::Record;
use super::{access_log, delimited, json_lines};

/// How the written bytes are packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// As they are.
    Plain,
    /// gzip, as log rotation packs logs.
    Gzip,
    /// zstd (ruzstd's fastest level, roughly zstd's level 1).
    Zstd,
}

impl Packing {
    /// The packing a file's name asks for: `.gz` gzip, `.zst` zstd, else plain.
    pub fn of_path(path: &Path) -> Packing {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("gz") => Packing::Gzip,
            Some("zst") => Packing::Zstd,
            _ => Packing::Plain,
        }
    }
}

/// Writes `records` (in the order given) to `out` as `kind`, packed as
/// `packing`, and gives the number of lines of requests written (a CSV/TSV
/// header not counted). `out` is flushed.
///
/// # Errors
///
/// The first error writing to `out`; what was written before it stays.
pub fn write<'a>(
    out: impl Write,
    kind: Kind,
    packing: Packing,
    records: impl Iterator<Item = Record<'a>>,
) -> io::Result<u64> {
    let failed: RefCell<Option<io::Error>> = RefCell::new(None);
    let mut lines = Lines {
        kind,
        records,
        text: String::new(),
        pos: 0,
        header: matches!(kind, Kind::Csv | Kind::Tsv),
        stamp: access_log::Stamp::default(),
        written: 0,
        failed: &failed,
    };
    match packing {
        Packing::Plain => {
            let mut out = out;
            io::copy(&mut lines, &mut out)?;
            out.flush()?;
        }
        Packing::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            io::copy(&mut lines, &mut gz)?;
            gz.finish()?.flush()?;
        }
        Packing::Zstd => {
            // ruzstd's encoder pulls from a reader and panics on a failed
            // write: the drain keeps the first error and tells the lines to
            // end, so a full disk is an error here, not a panic.
            let mut drain = Caught {
                out,
                failed: &failed,
            };
            ruzstd::encoding::compress(
                &mut lines,
                &mut drain,
                ruzstd::encoding::CompressionLevel::Fastest,
            );
            if let Some(e) = failed.borrow_mut().take() {
                return Err(e);
            }
            drain.out.flush()?;
        }
    }
    Ok(lines.written)
}

/// The records as the bytes of their lines, formatted a batch at a time
/// as they are read.
struct Lines<'f, I> {
    kind: Kind,
    records: I,
    /// Formatted and not yet read, from `pos`.
    text: String,
    pos: usize,
    /// A CSV/TSV header is still to come.
    header: bool,
    stamp: access_log::Stamp,
    written: u64,
    /// Set by a zstd drain that could not write: read as the end.
    failed: &'f RefCell<Option<io::Error>>,
}

/// Lines are formatted in batches of about this many bytes.
const BATCH: usize = 1 << 16;

impl<'a, I: Iterator<Item = Record<'a>>> Lines<'_, I> {
    /// Formats the next batch; false when there is nothing left.
    fn fill(&mut self) -> bool {
        self.text.clear();
        self.pos = 0;
        if self.failed.borrow().is_some() {
            return false;
        }
        if std::mem::take(&mut self.header) {
            let d = if self.kind == Kind::Tsv { b'\t' } else { b',' };
            delimited::write_header(&mut self.text, d);
        }
        while self.text.len() < BATCH {
            let Some(r) = self.records.next() else { break };
            match self.kind {
                Kind::AccessLog => access_log::write_line(&mut self.text, &r, &mut self.stamp),
                Kind::Csv => delimited::write_row(&mut self.text, &r, b','),
                Kind::Tsv => delimited::write_row(&mut self.text, &r, b'\t'),
                Kind::JsonLines => json_lines::write_line(&mut self.text, &r),
            }
            self.written += 1;
        }
        !self.text.is_empty()
    }
}

impl<'a, I: Iterator<Item = Record<'a>>> Read for Lines<'_, I> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.text.len() && !self.fill() {
            return Ok(0);
        }
        let bytes = &self.text.as_bytes()[self.pos..];
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// A writer that never fails: it keeps the first error of `out` and drops
/// what comes after it.
struct Caught<'f, W> {
    out: W,
    failed: &'f RefCell<Option<io::Error>>,
}

impl<W: Write> Write for Caught<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed.borrow().is_none()
            && let Err(e) = self.out.write_all(buf)
        {
            *self.failed.borrow_mut() = Some(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
