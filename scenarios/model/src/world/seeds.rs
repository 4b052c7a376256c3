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
    let mut h = Xxh3::new();
    h.update(visitor_uid.as_bytes());
    h.update(&[0]);
    h.update(experience_uid.as_bytes());
    let x = h.digest();
    // 53 high bits as a fraction in [0, 1).
    (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0
}
