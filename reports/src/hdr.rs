//! HDR histograms as they travel in a report: the `HdrHistogram` V2
//! encoding (the one every HDR implementation reads), in standard base64.
//!
//! Percentiles cannot be added, histograms can: a report carries its
//! histograms so that the reports of several load machines (`ttlab run
//! --worker-id K --workers N`) merge into exactly the report one machine
//! would have written (`ttlab merge`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use thiserror::Error;

use crate::model::Percentiles;

/// Why a serialized histogram could not be read.
#[derive(Debug, Error)]
pub enum HdrError {
    /// Not base64.
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Base64, but not a V2 histogram.
    #[error("not an HDR histogram (V2 encoding): {0}")]
    Decode(String),
    /// Two histograms whose ranges do not fit together.
    #[error("histograms with different ranges cannot be added: {0}")]
    Add(String),
}

/// `h` in the V2 encoding, base64.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        // Writing to a Vec fails only when usize cannot hold the length.
        .expect("a histogram serializes into memory");
    STANDARD.encode(bytes)
}

/// The histogram [`encode`] wrote.
pub fn decode(text: &str) -> Result<Histogram<u64>, HdrError> {
    let bytes = STANDARD.decode(text.trim())?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| HdrError::Decode(e.to_string()))
}

/// `into` + `other`, exactly (every count of every bucket).
pub fn add(into: &mut Histogram<u64>, other: &Histogram<u64>) -> Result<(), HdrError> {
    into.add(other).map_err(|e| HdrError::Add(format!("{e:?}")))
}

/// Percentiles of a histogram of microseconds, in milliseconds.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |v: u64| v as f64 / 1000.0;
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_encoding() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [1, 7, 1_000, 1_234_567, 3_600_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.sigfig(), 3);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode("%%%"), Err(HdrError::Base64(_))));
        assert!(matches!(decode("aGVsbG8="), Err(HdrError::Decode(_))));
    }
}
