//! What the dashboard knows, apart from how it is drawn: the scenario's
//! facts, every second of every architecture folded in from [`Frame`]s, and
//! what the user chose to look at.
//!
//! Views read only this. "Now" is the data's latest second, never the wall
//! clock, so the same frames always draw the same screen (snapshot tests,
//! and a simulation replayed at any speed).

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use ttlab_loadgen::live::{Frame, LayerCounts, second_histogram};
use ttlab_reports::OriginLoad;
use ttlab_scenarios::World;
use ttlab_scenarios::world::EventKind;

/// Seconds of per-second latency histograms kept for "the last seconds"
/// figures: a ring, so memory stays bounded on hour-long simulations.
pub const RING: usize = 60;

/// The window of the "recent" latency figures, in seconds.
pub const RECENT: usize = 10;

/// Visitors changing an attribute at one instant that make a storm marker.
pub const STORM: usize = 10;

/// Class names in `Class::ALL` order (the order of a frame's counts).
pub const CLASSES: [&str; 7] = [
    "fresh",
    "stale_variant",
    "stale_content",
    "wrong_variant",
    "leak",
    "error",
    "fallback",
];

/// A real run or a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Real servers on loopback, wall-clock time.
    Real,
    /// The simulator, virtual time.
    Sim,
}

/// What kind of change a timeline marker stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkerKind {
    /// An entry was published.
    Publish,
    /// An experience was switched on or off, or its splits changed.
    Experience,
    /// Many visitors changed an attribute at one instant.
    Storm,
}

impl MarkerKind {
    /// The legend's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Publish => "publish",
            MarkerKind::Experience => "experience",
            MarkerKind::Storm => "storm",
        }
    }
}

/// A change in the truth at a second of the run, for the charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Marker {
    /// The second it happened in.
    pub second: u32,
    /// What it was.
    pub kind: MarkerKind,
}

/// What does not change during a run.
#[derive(Clone, Debug)]
pub struct Facts {
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// Real or simulated.
    pub mode: Mode,
    /// Seconds per architecture.
    pub duration_s: u32,
    /// Page views per user when the run is bounded by count
    /// (`ttlab run --page-views N`): it then lasts as long as they take,
    /// and `duration_s` is no end to count toward.
    pub page_views: Option<u32>,
    /// The architectures, in run order.
    pub archs: Vec<String>,
    /// The timeline's markers, one per second and kind.
    pub markers: Vec<Marker>,
}

impl Facts {
    /// The facts of a run of `archs` of the world's scenario.
    pub fn of_world(world: &World, archs: Vec<String>, mode: Mode) -> Self {
        let s = world.scenario();
        Facts {
            scenario: s.name.clone(),
            seed: s.seed,
            mode,
            duration_s: s.duration.as_secs_f64().ceil() as u32,
            page_views: None,
            archs,
            markers: markers(world),
        }
    }

    /// How far a run is, as every view shows it: "6/60 s" toward the
    /// scenario's length, or "6 s" for a run bounded by page views, which
    /// has no length to count toward.
    pub fn clock(&self, now_s: u32) -> String {
        if self.page_views.is_some() {
            format!("{now_s} s")
        } else {
            format!("{now_s}/{} s", self.duration_s)
        }
    }
}

/// The timeline's markers: publishes and experience changes grouped per
/// second; attribute changes only as storms (single visitors are noise).
pub fn markers(world: &World) -> Vec<Marker> {
    let mut out = Vec::new();
    let mut changes_at: Vec<u64> = Vec::new();
    for e in world.events() {
        let second = (e.at.0 / 1_000_000) as u32;
        let kind = match e.kind {
            EventKind::Publish { .. } => MarkerKind::Publish,
            EventKind::SetActive { .. } | EventKind::SetSplits { .. } => MarkerKind::Experience,
            EventKind::AttributeChange { .. } => {
                changes_at.push(e.at.0);
                continue;
            }
        };
        out.push(Marker { second, kind });
    }
    changes_at.sort_unstable();
    for run in changes_at.chunk_by(|a, b| a == b) {
        if run.len() >= STORM {
            out.push(Marker {
                second: (run[0] / 1_000_000) as u32,
                kind: MarkerKind::Storm,
            });
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// One second of one architecture, as scalars for the charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecondStats {
    /// Responses per class.
    pub classes: [u64; 7],
    /// Responses from the cache.
    pub from_cache: u64,
    /// Origin load in the second.
    pub origin: OriginLoad,
    /// The caching layer's answers in the second.
    pub layer: Option<LayerCounts>,
}

impl SecondStats {
    /// Visitor responses in the second.
    pub fn requests(&self) -> u64 {
        self.classes.iter().sum()
    }

    /// Share of the layer's answers that came from the cache (hit or stale).
    pub fn hit_rate(&self) -> Option<f64> {
        let l = self.layer?;
        (l.requests() > 0).then(|| l.hit_rate())
    }

    /// 1 − origin requests / visitor requests.
    pub fn offload(&self) -> Option<f64> {
        let r = self.requests();
        (r > 0).then(|| self.origin.offload(r))
    }
}

/// Percentiles of a latency histogram, µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quantiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
}

impl Quantiles {
    /// The percentiles of `h`.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Quantiles::default();
        }
        Quantiles {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
        }
    }
}

/// Everything seen of one architecture.
#[derive(Debug)]
pub struct ArchState {
    /// Per second, index = second of the run.
    pub seconds: Vec<SecondStats>,
    /// Totals over the run.
    pub total: SecondStats,
    /// Latency of cache answers over the run, µs.
    pub latency_hit: Histogram<u64>,
    /// Latency of upstream answers over the run, µs.
    pub latency_miss: Histogram<u64>,
    /// Staleness over the run, µs.
    pub staleness: Histogram<u64>,
    /// Latency of the last [`RING`] seconds, one histogram each, newest last.
    recent: VecDeque<Histogram<u64>>,
}

impl Default for ArchState {
    fn default() -> Self {
        ArchState {
            seconds: Vec::new(),
            total: SecondStats::default(),
            latency_hit: second_histogram(),
            latency_miss: second_histogram(),
            staleness: second_histogram(),
            recent: VecDeque::with_capacity(RING),
        }
    }
}

impl ArchState {
    /// Folds one second in.
    pub fn apply(&mut self, f: Frame) {
        let i = f.second as usize;
        if self.seconds.len() <= i {
            self.seconds.resize_with(i + 1, SecondStats::default);
        }
        let s = &mut self.seconds[i];
        for (a, b) in s.classes.iter_mut().zip(f.classes) {
            *a += b;
        }
        s.from_cache += f.from_cache;
        add_load(&mut s.origin, &f.origin);
        if let Some(l) = f.layer {
            s.layer.get_or_insert_default().add(&l);
            self.total.layer.get_or_insert_default().add(&l);
        }
        for (a, b) in self.total.classes.iter_mut().zip(f.classes) {
            *a += b;
        }
        self.total.from_cache += f.from_cache;
        add_load(&mut self.total.origin, &f.origin);
        self.latency_hit.add(&f.latency_hit).expect("same bounds");
        self.latency_miss.add(&f.latency_miss).expect("same bounds");
        self.staleness.add(&f.staleness).expect("same bounds");
        let mut second = f.latency_hit;
        second.add(&f.latency_miss).expect("same bounds");
        if self.recent.len() == RING {
            self.recent.pop_front();
        }
        self.recent.push_back(second);
    }

    /// Seconds seen: the data's "now" for this architecture.
    pub fn now_s(&self) -> u32 {
        self.seconds.len() as u32
    }

    /// Whether any second arrived.
    pub fn started(&self) -> bool {
        !self.seconds.is_empty()
    }

    /// The last complete second, if any.
    pub fn last(&self) -> Option<&SecondStats> {
        self.seconds.last()
    }

    /// Latency over the run, every outcome.
    pub fn latency_all(&self) -> Histogram<u64> {
        let mut h = self.latency_hit.clone();
        h.add(&self.latency_miss).expect("same bounds");
        h
    }

    /// Latency of the last `n` seconds (at most [`RING`]).
    pub fn latency_recent(&self, n: usize) -> Histogram<u64> {
        let mut h = second_histogram();
        for s in self.recent.iter().rev().take(n) {
            h.add(s).expect("same bounds");
        }
        h
    }

    /// Share of all responses in class `c` (index in [`CLASSES`]).
    pub fn rate(&self, c: usize) -> f64 {
        let all = self.total.requests();
        if all == 0 {
            0.0
        } else {
            self.total.classes[c] as f64 / all as f64
        }
    }
}

fn add_load(a: &mut OriginLoad, b: &OriginLoad) {
    a.requests += b.requests;
    a.renders += b.renders;
    a.personalize_calls += b.personalize_calls;
    a.delivery_calls += b.delivery_calls;
}

/// The screens `tab` cycles through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// One architecture: charts and tables.
    Overview,
    /// One architecture: the charts over the whole run, large.
    Charts,
    /// Every architecture side by side.
    Compare,
}

impl View {
    /// The next view (`tab`).
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            View::Overview => View::Charts,
            View::Charts => View::Compare,
            View::Compare => View::Overview,
        }
    }

    /// The view's name in the footer.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Overview => "overview",
            View::Charts => "charts",
            View::Compare => "compare",
        }
    }
}

/// How the run is going, as the app last saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Status {
    /// The architecture running now.
    pub current: Option<usize>,
    /// Simulated seconds per wall second (simulations only).
    pub speedup: Option<f64>,
    /// The user paused the simulation.
    pub paused: bool,
    /// The user asked to stop; the run is winding down.
    pub stopping: bool,
    /// No more frames will come.
    pub finished: bool,
}

/// What the user asked for (see [`crate::input`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stop the run (the report is still written) and leave.
    Quit,
    /// Pause or resume a simulation.
    Pause,
    /// Next view.
    NextView,
    /// Next architecture.
    NextArch,
    /// Previous architecture.
    PrevArch,
    /// Architecture number n (from 0).
    Arch(usize),
    /// Show or hide the help.
    Help,
}

/// The dashboard's whole state.
#[derive(Debug)]
pub struct DashState {
    /// The run's facts.
    pub facts: Facts,
    /// Per architecture, in run order.
    pub archs: Vec<ArchState>,
    /// The run's status.
    pub status: Status,
    /// The screen shown.
    pub view: View,
    /// The architecture the one-architecture views show.
    pub selected: usize,
    /// Follow the running architecture until the user picks one.
    pub follow: bool,
    /// The help overlay is open.
    pub help: bool,
}

impl DashState {
    /// A dashboard with no data yet.
    pub fn new(facts: Facts) -> Self {
        let archs = facts.archs.iter().map(|_| ArchState::default()).collect();
        DashState {
            facts,
            archs,
            status: Status::default(),
            view: View::Overview,
            selected: 0,
            follow: true,
            help: false,
        }
    }

    /// Folds frames in.
    pub fn apply(&mut self, frames: impl IntoIterator<Item = Frame>) {
        for f in frames {
            if let Some(a) = self.archs.get_mut(f.arch) {
                a.apply(f);
            }
        }
    }

    /// Sets what the run reports about itself; the selection follows the
    /// running architecture unless the user picked one.
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
        if self.follow
            && let Some(c) = status.current
        {
            self.selected = c.min(self.archs.len().saturating_sub(1));
        }
    }

    /// Applies a view action; `Quit` and `Pause` are the app's to carry out
    /// and only change what is shown here.
    pub fn act(&mut self, action: Action) {
        let n = self.archs.len().max(1);
        match action {
            Action::Quit => self.status.stopping = true,
            Action::Pause => self.status.paused = !self.status.paused,
            Action::NextView => self.view = self.view.next(),
            Action::NextArch => {
                self.follow = false;
                self.selected = (self.selected + 1) % n;
            }
            Action::PrevArch => {
                self.follow = false;
                self.selected = (self.selected + n - 1) % n;
            }
            Action::Arch(i) if i < self.archs.len() => {
                self.follow = false;
                self.selected = i;
            }
            Action::Arch(_) => {}
            Action::Help => self.help = !self.help,
        }
    }

    /// The architecture the one-architecture views show.
    pub fn selected(&self) -> &ArchState {
        &self.archs[self.selected]
    }

    /// The x range of the charts, seconds: the whole run, or further when
    /// responses came after its end.
    pub fn x_max(&self) -> u32 {
        let seen = self.archs.iter().map(ArchState::now_s).max().unwrap_or(0);
        self.facts.duration_s.max(seen).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(arch: usize, second: u32, fresh: u64, hit_us: &[u64]) -> Frame {
        let mut f = Frame::empty(arch, second);
        f.classes[0] = fresh;
        f.classes[3] = 1;
        f.from_cache = hit_us.len() as u64;
        f.origin.requests = 2;
        f.layer = Some(LayerCounts {
            hits: 3,
            stale: 1,
            misses: 4,
            ..LayerCounts::default()
        });
        for v in hit_us {
            f.latency_hit.record(*v).unwrap();
        }
        f
    }

    fn facts() -> Facts {
        Facts {
            scenario: "t".into(),
            seed: 1,
            mode: Mode::Sim,
            duration_s: 10,
            page_views: None,
            archs: vec!["a".into(), "b".into()],
            markers: vec![],
        }
    }

    #[test]
    fn a_run_bounded_by_page_views_has_no_length_to_count_toward() {
        let timed = facts();
        assert_eq!(timed.clock(6), "6/10 s");
        let counted = Facts {
            page_views: Some(5),
            ..facts()
        };
        assert_eq!(counted.clock(12), "12 s", "never 12/10 s");
        let mut s = DashState::new(counted);
        s.apply((0..12).map(|t| frame(0, t, 1, &[100])));
        s.set_status(Status {
            current: Some(0),
            ..Status::default()
        });
        let line = crate::plain::line(&s);
        assert!(line.starts_with("  a 12 s: visitor"), "{line}");
    }

    #[test]
    fn frames_fold_into_seconds_and_totals() {
        let mut s = DashState::new(facts());
        s.apply([frame(0, 0, 9, &[100, 200]), frame(0, 2, 4, &[300])]);
        let a = &s.archs[0];
        assert_eq!(a.now_s(), 3);
        assert_eq!(a.seconds[1], SecondStats::default());
        assert_eq!(a.total.requests(), 15);
        assert_eq!(a.total.origin.requests, 4);
        assert_eq!(a.total.layer.unwrap().requests(), 16);
        assert_eq!(a.seconds[0].hit_rate(), Some(0.5));
        assert_eq!(a.seconds[0].offload(), Some(0.8));
        assert_eq!(a.latency_all().len(), 3);
        assert_eq!(a.latency_recent(1).len(), 1);
        assert!((a.rate(3) - 2.0 / 15.0).abs() < 1e-12);
        assert!(!s.archs[1].started());
    }

    #[test]
    fn the_ring_keeps_the_last_seconds_only() {
        let mut a = ArchState::default();
        for i in 0..(RING as u32 + 5) {
            a.apply(frame(0, i, 1, &[1000]));
        }
        assert_eq!(a.latency_recent(RING + 10).len(), RING as u64);
        assert_eq!(a.latency_all().len(), RING as u64 + 5);
    }

    #[test]
    fn selection_follows_the_run_until_the_user_picks() {
        let mut s = DashState::new(facts());
        s.set_status(Status {
            current: Some(1),
            ..Status::default()
        });
        assert_eq!(s.selected, 1);
        s.act(Action::NextArch);
        assert_eq!(s.selected, 0);
        s.set_status(Status {
            current: Some(1),
            ..Status::default()
        });
        assert_eq!(s.selected, 0, "the user's pick stays");
        s.act(Action::Arch(7));
        assert_eq!(s.selected, 0);
        s.act(Action::NextView);
        assert_eq!(s.view, View::Charts);
        s.act(Action::NextView);
        s.act(Action::NextView);
        assert_eq!(s.view, View::Overview);
    }
}
