//! Derivation of independent, reproducible random streams from the seed.
//!
//! Every random draw of the world comes from a stream named by a purpose tag
//! and an index (a visitor, a timeline rule), so adding a timeline rule or a
//! visitor never shifts the draws of any other part: two scenarios that differ
//! in one rule still share every other event.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

/// The generator every stream uses: small, fast, and stable across releases.
pub type StreamRng = Pcg64Mcg;

/// Purpose tags of the world's streams.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Purpose {
    /// A visitor's uid.
    VisitorUid = 1,
    /// A visitor's initial attribute values.
    Attributes = 2,
    /// A timeline rule's event times and targets.
    TimelineRule = 3,
    /// The values a visitor's attribute changes draw.
    ChangeValues = 4,
}

/// A 64-bit key for (seed, purpose, index).
pub fn key(seed: u64, purpose: Purpose, index: u64) -> u64 {
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
    bytes[16..].copy_from_slice(&index.to_le_bytes());
    xxh3_64(&bytes)
}

/// The random stream for (seed, purpose, index).
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> StreamRng {
    StreamRng::seed_from_u64(key(seed, purpose, index))
}

/// Stable position in [0, 100) of a visitor in an experience's split.
///
/// Depends only on the two uids, so a visitor keeps its variant across runs,
/// seeds and processes, as a real A/B test keeps a visitor in its bucket.
pub fn split_position(visitor_uid: &str, experience_uid: &str) -> f64 {
    // The hash of `visitor uid ‖ 0 ‖ experience uid`, in one shot from a
    // stack buffer when it fits (the truth's hottest line), else streamed:
    // both give the same value.
    let (v, e) = (visitor_uid.as_bytes(), experience_uid.as_bytes());
    let mut buf = [0u8; 128];
    let x = if v.len() + 1 + e.len() <= buf.len() {
        buf[..v.len()].copy_from_slice(v);
        buf[v.len() + 1..v.len() + 1 + e.len()].copy_from_slice(e);
        xxh3_64(&buf[..v.len() + 1 + e.len()])
    } else {
        let mut h = Xxh3::new();
        h.update(v);
        h.update(&[0]);
        h.update(e);
        h.digest()
    };
    // 53 high bits as a fraction in [0, 1).
    (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_and_streamed_positions_agree() {
        let long = "x".repeat(200);
        for (v, e) in [
            ("a", "0"),
            ("6f1c0d2e-1b2a-4c3d-8e4f-0a1b2c3d4e5f", "g"),
            (long.as_str(), "1"),
        ] {
            let mut h = Xxh3::new();
            h.update(v.as_bytes());
            h.update(&[0]);
            h.update(e.as_bytes());
            let streamed = (h.digest() >> 11) as f64 / (1u64 << 53) as f64 * 100.0;
            assert_eq!(split_position(v, e).to_bits(), streamed.to_bits());
        }
    }
}
