//! What a run records per response: classes, latency and staleness in HDR
//! histograms (never a list of samples), attribute updates sent.

use hdrhistogram::Histogram;
use ttlab_reports::Histograms;
use ttlab_reports::hdr;

use crate::check::Class;
use crate::live::Tap;

/// The recorder of one architecture's run.
pub struct Recorder {
    /// Responses per class, in `Class::ALL` order.
    pub classes: [u64; 7],
    /// Latency of responses from the cache, µs.
    pub latency_hit: Histogram<u64>,
    /// Latency of responses that went upstream, µs.
    pub latency_miss: Histogram<u64>,
    /// Staleness of stale responses, µs.
    pub staleness: Histogram<u64>,
    /// Attribute updates sent to Personalize.
    pub attribute_updates: u64,
    /// Per second of the run.
    pub seconds: Vec<Second>,
    /// What the live view gets at the next frame; `None` (one branch per
    /// response) when nobody watches.
    pub tap: Option<Box<Tap>>,
    /// Seconds of warm-up: responses in them go to the per-second series
    /// and the live view only, not to the headline counts and histograms.
    pub warmup_s: usize,
}

/// What one second of the run recorded.
pub struct Second {
    /// Responses per class, in `Class::ALL` order.
    pub classes: [u64; 7],
    /// Responses from the cache.
    pub from_cache: u64,
    /// Latency, µs (2 significant digits: a series wants shape, not precision).
    pub latency: Histogram<u64>,
}

impl Default for Second {
    fn default() -> Self {
        Second {
            classes: [0; 7],
            from_cache: 0,
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds"),
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            classes: [0; 7],
            latency_hit: histogram(),
            latency_miss: histogram(),
            staleness: histogram(),
            attribute_updates: 0,
            seconds: Vec::new(),
            tap: None,
            warmup_s: 0,
        }
    }
}

impl Recorder {
    /// Records one judged response, received in second `second` of the run.
    pub fn record(
        &mut self,
        second: usize,
        class: Class,
        latency_us: u64,
        from_cache: bool,
        staleness_us: Option<u64>,
    ) {
        let l = latency_us.clamp(1, 3_600_000_000);
        if self.seconds.len() <= second {
            self.seconds.resize_with(second + 1, Second::default);
        }
        let s = &mut self.seconds[second];
        s.classes[class.index()] += 1;
        s.from_cache += u64::from(from_cache);
        s.latency.record(l).expect("clamped");

        if second >= self.warmup_s {
            self.classes[class.index()] += 1;
            if from_cache {
                self.latency_hit.record(l).expect("clamped");
            } else {
                self.latency_miss.record(l).expect("clamped");
            }
            if let Some(s) = staleness_us {
                self.staleness
                    .record(s.clamp(1, 3_600_000_000))
                    .expect("clamped");
            }
        }
        if let Some(tap) = &mut self.tap {
            tap.classes[class.index()] += 1;
            tap.from_cache += u64::from(from_cache);
            let h = if from_cache {
                &mut tap.latency_hit
            } else {
                &mut tap.latency_miss
            };
            h.record(l).expect("clamped");
            if let Some(s) = staleness_us {
                tap.staleness
                    .record(s.clamp(1, 3_600_000_000))
                    .expect("clamped");
            }
        }
    }

    /// The same recorder, leaving the first `seconds` out of the headline.
    #[must_use]
    pub fn warming(self, seconds: usize) -> Self {
        Recorder {
            warmup_s: seconds,
            ..self
        }
    }

    /// A recorder that gathers for the live view too when `tap` is set.
    pub fn tapped(tap: bool) -> Self {
        let mut r = Recorder::default();
        if tap {
            r.start_tap();
        }
        r
    }

    /// Starts gathering for the live view (see [`crate::live`]).
    pub fn start_tap(&mut self) {
        self.tap = Some(Box::default());
    }

    /// What was gathered since the last call (or [`Recorder::start_tap`]);
    /// gathering goes on afresh. `None` when not tapped.
    pub fn take_tap(&mut self) -> Option<Tap> {
        self.tap.as_mut().map(|t| *std::mem::take(t))
    }

    /// Latency of every response, µs: the hit and miss histograms added
    /// (one record per response on the hot path, not two).
    pub fn latency(&self) -> Histogram<u64> {
        let mut all = self.latency_hit.clone();
        all.add(&self.latency_miss).expect("same bounds");
        all
    }

    /// Responses recorded.
    pub fn requests(&self) -> u64 {
        self.classes.iter().sum()
    }

    /// The histograms, serialized for the report, so that the reports of
    /// several load machines merge exactly.
    pub fn histograms(&self) -> Histograms {
        Histograms {
            latency_hit: hdr::encode(&self.latency_hit),
            latency_miss: hdr::encode(&self.latency_miss),
            staleness: hdr::encode(&self.staleness),
        }
    }
}

/// Percentiles of a histogram of microseconds, in milliseconds (shared
/// with `ttlab merge`, which computes them from merged histograms).
pub use ttlab_reports::hdr::percentiles;
