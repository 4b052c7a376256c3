//! What a trace says of its traffic, in the terms of a scenario's
//! `[traffic]`: the arrival rate per time bucket ([`rate`]), page popularity
//! as a Zipf exponent fitted by maximum likelihood ([`zipf`]), and visitors'
//! sessions: how often they start, how many pages each, the think time
//! between pages ([`sessions`]); [`render`] writes it as a `[traffic]` table.

pub mod rate;
pub mod render;
pub mod sessions;
pub mod zipf;

use std::collections::HashMap;
use std::time::Duration;

use crate::trace::Request;

pub use rate::{Flatness, RateCurve, Span};
pub use sessions::{SessionFit, ThinkTime};
pub use zipf::ZipfFit;

/// How to cut a trace into buckets and sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FitOptions {
    /// Width of a rate bucket.
    pub bucket: Duration,
    /// A visitor's pause longer than this ends its session (web analytics
    /// use 30 minutes).
    pub session_gap: Duration,
    /// The most visitors a scenario may have (the command passes the
    /// scenario format's bound; this crate does not know it).
    pub max_visitors: u64,
    /// The longest run a scenario may have: a rate curve is written for
    /// at most this much of the log.
    pub max_span: Duration,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            bucket: Duration::from_secs(60),
            session_gap: Duration::from_secs(30 * 60),
            max_visitors: u64::MAX,
            max_span: Duration::MAX,
        }
    }
}

/// Everything fitted from one trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// Requests in the trace.
    pub requests: u64,
    /// Time from the first request to the last.
    pub span: Duration,
    /// Requests per second in each bucket.
    pub rate: RateCurve,
    /// Page popularity.
    pub zipf: ZipfFit,
    /// Distinct visitors (0 when the trace names none).
    pub visitors: u64,
    /// Sessions, when the trace names visitors.
    pub sessions: Option<SessionFit>,
    /// What it was fitted with.
    pub options: FitOptions,
}

/// Fits `requests` (any order).
pub fn fit(requests: &[Request], options: FitOptions) -> Fit {
    let first = requests.iter().map(|r| r.at_us).min().unwrap_or(0);
    let last = requests.iter().map(|r| r.at_us).max().unwrap_or(0);
    let mut per_path: HashMap<&str, u64> = HashMap::new();
    for r in requests {
        *per_path.entry(r.path.as_str()).or_default() += 1;
    }
    let mut counts: Vec<u64> = per_path.into_values().collect();
    let times: Vec<i64> = requests.iter().map(|r| r.at_us).collect();
    let span = Span {
        first_us: first,
        last_us: last,
    };
    let sessions = sessions::fit(requests, options.session_gap, span, options.bucket);
    Fit {
        requests: requests.len() as u64,
        span: Duration::from_micros(last.saturating_sub(first).max(0) as u64),
        rate: RateCurve::of(&times, span, options.bucket),
        zipf: zipf::fit(&mut counts),
        visitors: sessions.as_ref().map_or(0, |s| s.visitors),
        sessions,
        options,
    }
}
