//! What a run records per response: classes, latency and staleness in HDR
//! histograms (never a list of samples), attribute updates sent.

use hdrhistogram::Histogram;
use ttlab_reports::hdr;
use ttlab_reports::{Histograms, OriginLoad};

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
    /// Per second of the run, or per bucket of seconds for a long run:
    /// bounded whatever the run's length.
    pub series: Series,
    /// What the live view gets at the next frame; `None` (one branch per
    /// response) when nobody watches.
    pub tap: Option<Box<Tap>>,
    /// Seconds of warm-up: responses in them go to the per-second series
    /// and the live view only, not to the headline counts and histograms.
    pub warmup_s: usize,
}

/// A run's series: what each second recorded, or each bucket of
/// `2^shift` seconds once the run is longer than
/// [`ttlab_reports::series::MAX_POINTS`] seconds. When a second falls past
/// the bound, adjacent buckets merge pairwise and the width doubles (the
/// rule of [`ttlab_reports::series`]): counts add and histograms add
/// exactly, so the series' memory is bounded by design, not by the clock.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Buckets are `2^shift` seconds wide.
    shift: u32,
    buckets: Vec<Second>,
}

impl Series {
    /// The bucket that second `second` falls in, coarsening the series
    /// first when the second lies past its bound.
    #[inline]
    pub fn at(&mut self, second: usize) -> &mut Second {
        if !ttlab_reports::series::fits(second, self.shift) {
            self.coarsen_to(second);
        }
        let i = second >> self.shift;
        if self.buckets.len() <= i {
            self.buckets.resize_with(i + 1, Second::default);
        }
        &mut self.buckets[i]
    }

    #[cold]
    fn coarsen_to(&mut self, second: usize) {
        while !ttlab_reports::series::fits(second, self.shift) {
            let mut merged = Vec::with_capacity(self.buckets.len().div_ceil(2));
            let mut pairs = std::mem::take(&mut self.buckets).into_iter();
            while let Some(mut a) = pairs.next() {
                if let Some(b) = pairs.next() {
                    a.add(&b);
                }
                merged.push(a);
            }
            self.buckets = merged;
            self.shift += 1;
        }
    }

    /// Seconds each bucket covers.
    pub fn width_s(&self) -> u32 {
        1 << self.shift
    }

    /// The buckets, in time order; bucket `k` covers seconds
    /// `k * width_s .. (k + 1) * width_s`.
    pub fn buckets(&self) -> &[Second] {
        &self.buckets
    }

    /// Bytes the series holds in memory (the buckets, their histograms'
    /// counts), for measuring.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Second>()
            + self
                .buckets
                .iter()
                .map(|b| b.latency.distinct_values() * std::mem::size_of::<u64>())
                .sum::<usize>()
    }
}

/// What one second (or one bucket of seconds) of the run recorded.
#[derive(Clone, Debug)]
pub struct Second {
    /// Responses per class, in `Class::ALL` order.
    pub classes: [u64; 7],
    /// Responses from the cache.
    pub from_cache: u64,
    /// Latency, µs (2 significant digits: a series wants shape, not
    /// precision). Sized to the largest latency recorded rather than to
    /// the 1 h bound (about 27 KB), so a bucket costs what its latencies
    /// need; [`Second::latency_bounded`] is the same histogram at the bound,
    /// which the report encodes.
    pub latency: Histogram<u64>,
    /// Origin load in this second (or bucket).
    pub origin: OriginLoad,
}

impl Default for Second {
    fn default() -> Self {
        Second {
            classes: [0; 7],
            from_cache: 0,
            latency: Histogram::new(SECOND_SIGFIG).expect("valid precision"),
            origin: OriginLoad::default(),
        }
    }
}

/// Significant digits of a series point's latency histogram.
const SECOND_SIGFIG: u8 = 2;

impl Second {
    /// `other`, exactly: counts added, histograms added bucket by bucket.
    fn add(&mut self, other: &Second) {
        for (a, b) in self.classes.iter_mut().zip(other.classes) {
            *a += b;
        }
        self.from_cache += other.from_cache;
        self.latency.add(&other.latency).expect("auto-resizing");
        self.origin = self.origin.combine(&other.origin, |a, b| a + b);
    }

    /// The latency histogram with the range every report's series
    /// histogram has (1 µs .. 1 h): the same counts, so the same
    /// percentiles, and the encoding reports have always carried.
    pub fn latency_bounded(&self) -> Histogram<u64> {
        let mut h =
            Histogram::new_with_bounds(1, 3_600_000_000, SECOND_SIGFIG).expect("valid bounds");
        h.add(&self.latency)
            .expect("values are clamped to the bounds");
        h
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
            series: Series::default(),
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
        let s = self.series.at(second);
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
