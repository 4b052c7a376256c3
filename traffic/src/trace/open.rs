//! Compressed traces, told apart by their first bytes, not their names:
//! gzip (`1f 8b`), zstd (`28 b5 2f fd`), else plain text.

use std::io::{BufRead, BufReader, Read};

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// `file`, unpacked if it is gzip or zstd.
pub(crate) fn unpacked(file: impl Read + 'static) -> std::io::Result<Box<dyn BufRead>> {
    let mut plain = BufReader::with_capacity(1 << 16, file);
    let head = plain.fill_buf()?;
    Ok(if head.starts_with(GZIP) {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(plain),
        ))
    } else if head.starts_with(ZSTD) {
        let decoder = ruzstd::decoding::StreamingDecoder::new(plain).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("zstd: {e}"))
        })?;
        Box::new(BufReader::with_capacity(1 << 16, decoder))
    } else {
        Box::new(plain)
    })
}
