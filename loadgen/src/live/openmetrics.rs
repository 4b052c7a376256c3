//! A real run's live metrics in the OpenMetrics text format, for
//! `ttlab run --metrics-addr`: per-architecture counters and latency
//! histograms that Prometheus scrapes while the run goes, for teams that
//! already watch load tests on a Grafana board (`docs/grafana-dashboard.json`
//! reads exactly these names).
//!
//! Fed from the live view's frames (one per second per architecture, see
//! [`super::Frame`]): the counters add each second's counts, so they are
//! as fresh as the dashboard and cost the run nothing per response. Every
//! series of every architecture exists from the start at 0, so a rate is
//! defined from the first scrape and an architecture that has not run yet
//! shows as a flat line rather than as no data.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use ttlab_scenarios::LayerCounts;

use super::buckets::Buckets;
use super::frame::Frame;
use crate::check::Class;

/// The content type of [`LiveMetrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ArchLabels {
    arch: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    arch: String,
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    arch: String,
    answer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    arch: String,
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServedLabels {
    arch: String,
    served: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    scenario: String,
    seed: String,
    warmup_seconds: String,
}

/// The counters with the architecture as their only label: name and help,
/// in the order of `LiveMetrics::arch_counters` and of the counts
/// `LiveMetrics::observe` adds to them.
const ARCH_COUNTERS: [(&str, &str); 5] = [
    ("responses_from_cache", "Responses a cache answered"),
    ("origin_requests", "Requests that reached the origin"),
    ("origin_renders", "Pages the origin rendered"),
    (
        "personalize_calls",
        "Personalize manifest calls the mocks answered",
    ),
    (
        "delivery_calls",
        "Delivery API calls the mocks answered (entries, content types, assets)",
    ),
];

/// The caching layer's answers, which partition its requests (the hit
/// rate is `hit` and `stale` over all four, as in the report).
const ANSWERS: [&str; 4] = ["hit", "stale", "miss", "bypass"];

/// The caching layer's other counters: what happened beside the answers.
const EVENTS: [&str; 10] = [
    "coalesced",
    "lock_timeout",
    "upstream_fetch",
    "refresh",
    "stale_if_error",
    "fill_error",
    "purged",
    "evicted",
    "store_error",
    "store_bypass",
];

fn answers(l: &LayerCounts) -> [u64; 4] {
    [l.hits, l.stale, l.misses, l.bypass]
}

fn events(l: &LayerCounts) -> [u64; 10] {
    [
        l.coalesced,
        l.lock_timeouts,
        l.upstream_fetches,
        l.refreshes,
        l.stale_if_error,
        l.fill_errors,
        l.purged,
        l.evicted,
        l.store_errors,
        l.store_bypass,
    ]
}

/// What a run is, for the `ttlab_run` info metric.
#[derive(Clone, Debug)]
pub struct RunFacts {
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// Its warm-up, whole seconds: a board can leave those out.
    pub warmup_s: u32,
    /// The architectures in run order (frames name them by index).
    pub archs: Vec<String>,
}

/// The registry of one run and the counters it holds.
#[derive(Debug)]
pub struct LiveMetrics {
    registry: Registry,
    archs: Vec<String>,
    responses: Family<ClassLabels, Counter>,
    /// In [`ARCH_COUNTERS`] order.
    arch_counters: [Family<ArchLabels, Counter>; 5],
    answers: Family<AnswerLabels, Counter>,
    events: Family<EventLabels, Counter>,
    latency: Family<ServedLabels, Buckets, fn() -> Buckets>,
    staleness: Family<ArchLabels, Buckets, fn() -> Buckets>,
    running: Family<ArchLabels, Gauge>,
    seconds: Family<ArchLabels, Gauge>,
    /// Index of the architecture marked running.
    current: Mutex<Option<usize>>,
}

impl LiveMetrics {
    /// Every series of `facts.archs`, at 0.
    pub fn new(facts: &RunFacts) -> Self {
        let mut m = LiveMetrics {
            registry: Registry::with_prefix("ttlab"),
            archs: facts.archs.clone(),
            responses: Family::default(),
            arch_counters: Default::default(),
            answers: Family::default(),
            events: Family::default(),
            latency: Family::new_with_constructor(Buckets::latency as fn() -> Buckets),
            staleness: Family::new_with_constructor(Buckets::staleness as fn() -> Buckets),
            running: Family::default(),
            seconds: Family::default(),
            current: Mutex::new(None),
        };
        m.registry.register(
            "run",
            "The run: scenario, seed and warm-up",
            Info::new(RunLabels {
                scenario: facts.scenario.clone(),
                seed: facts.seed.to_string(),
                warmup_seconds: facts.warmup_s.to_string(),
            }),
        );
        m.registry.register(
            "responses",
            "Responses judged, by architecture and class (fresh, stale_variant, stale_content, wrong_variant, leak, error, fallback)",
            m.responses.clone(),
        );
        for ((name, help), family) in ARCH_COUNTERS.iter().zip(&m.arch_counters) {
            m.registry.register(*name, *help, family.clone());
        }
        m.registry.register(
            "cache_answers",
            "The caching layer's answers: hit, stale, miss, bypass",
            m.answers.clone(),
        );
        m.registry.register(
            "cache_events",
            "The caching layer's other counts: coalesced waits, lock timeouts, upstream fetches, refreshes, stale-if-error answers, fill errors, purges, evictions, store errors and store bypasses",
            m.events.clone(),
        );
        m.registry.register_with_unit(
            "response_latency",
            "Response latency, by who answered (cache or upstream)",
            Unit::Seconds,
            m.latency.clone(),
        );
        m.registry.register_with_unit(
            "staleness",
            "How far behind the truth stale responses were",
            Unit::Seconds,
            m.staleness.clone(),
        );
        m.registry.register(
            "architecture_running",
            "1 while the architecture runs, else 0",
            m.running.clone(),
        );
        m.registry.register_with_unit(
            "run_elapsed",
            "Seconds of the architecture's run so far",
            Unit::Seconds,
            m.seconds.clone(),
        );
        for arch in &m.archs {
            m.touch(arch);
        }
        m
    }

    /// Makes every series of `arch`, at 0.
    fn touch(&self, arch: &str) {
        let a = || ArchLabels {
            arch: arch.to_owned(),
        };
        for class in Class::ALL {
            self.responses.get_or_create_owned(&ClassLabels {
                arch: arch.to_owned(),
                class: class.as_str().to_owned(),
            });
        }
        for f in &self.arch_counters {
            f.get_or_create_owned(&a());
        }
        for answer in ANSWERS {
            self.answers.get_or_create_owned(&AnswerLabels {
                arch: arch.to_owned(),
                answer: answer.to_owned(),
            });
        }
        for event in EVENTS {
            self.events.get_or_create_owned(&EventLabels {
                arch: arch.to_owned(),
                event: event.to_owned(),
            });
        }
        for served in ["cache", "upstream"] {
            self.latency.get_or_create_owned(&ServedLabels {
                arch: arch.to_owned(),
                served: served.to_owned(),
            });
        }
        self.staleness.get_or_create_owned(&a());
        self.running.get_or_create_owned(&a());
        self.seconds.get_or_create_owned(&a());
    }

    fn arch(&self, i: usize) -> String {
        self.archs
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("arch{i}"))
    }

    /// Architecture `arch` (its index) starts: it alone is marked running.
    pub fn start_arch(&self, arch: usize) {
        let mut current = self.current.lock().expect("current arch");
        if let Some(was) = current.replace(arch) {
            self.mark(was, 0);
        }
        self.mark(arch, 1);
    }

    /// The run is over: none is running.
    pub fn finish(&self) {
        if let Some(was) = self.current.lock().expect("current arch").take() {
            self.mark(was, 0);
        }
    }

    fn mark(&self, arch: usize, running: i64) {
        self.running
            .get_or_create(&ArchLabels {
                arch: self.arch(arch),
            })
            .set(running);
    }

    /// Adds one second of one architecture.
    pub fn observe(&self, f: &Frame) {
        let arch = self.arch(f.arch);
        let a = ArchLabels { arch: arch.clone() };
        for class in Class::ALL {
            let n = f.classes[class.index()];
            if n > 0 {
                self.responses
                    .get_or_create(&ClassLabels {
                        arch: arch.clone(),
                        class: class.as_str().to_owned(),
                    })
                    .inc_by(n);
            }
        }
        let counts = [
            f.from_cache,
            f.origin.requests,
            f.origin.renders,
            f.origin.personalize_calls,
            f.origin.delivery_calls,
        ];
        for (family, n) in self.arch_counters.iter().zip(counts) {
            family.get_or_create(&a).inc_by(n);
        }
        if let Some(layer) = &f.layer {
            for (answer, n) in ANSWERS.iter().zip(answers(layer)) {
                self.answers
                    .get_or_create(&AnswerLabels {
                        arch: arch.clone(),
                        answer: (*answer).to_owned(),
                    })
                    .inc_by(n);
            }
            for (event, n) in EVENTS.iter().zip(events(layer)) {
                self.events
                    .get_or_create(&EventLabels {
                        arch: arch.clone(),
                        event: (*event).to_owned(),
                    })
                    .inc_by(n);
            }
        }
        for (served, h) in [("cache", &f.latency_hit), ("upstream", &f.latency_miss)] {
            self.latency
                .get_or_create(&ServedLabels {
                    arch: arch.clone(),
                    served: served.to_owned(),
                })
                .add_micros(h);
        }
        self.staleness.get_or_create(&a).add_micros(&f.staleness);
        let elapsed = i64::from(f.second) + 1;
        let seconds = self.seconds.get_or_create(&a);
        if seconds.get() < elapsed {
            seconds.set(elapsed);
        }
    }

    /// The OpenMetrics text of every series now ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::frame::Frame;

    fn facts() -> RunFacts {
        RunFacts {
            scenario: "s".into(),
            seed: 7,
            warmup_s: 2,
            archs: vec!["ssr-nocache".into(), "ssr-cdn-shared".into()],
        }
    }

    fn value(text: &str, series: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} not in\n{text}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn every_series_of_every_architecture_exists_before_the_run() {
        let text = LiveMetrics::new(&facts()).encode();
        for arch in ["ssr-nocache", "ssr-cdn-shared"] {
            assert_eq!(
                value(
                    &text,
                    &format!("ttlab_responses_total{{arch=\"{arch}\",class=\"wrong_variant\"}}")
                ),
                0
            );
            assert_eq!(
                value(
                    &text,
                    &format!(
                        "ttlab_response_latency_seconds_count{{arch=\"{arch}\",served=\"cache\"}}"
                    )
                ),
                0
            );
            assert_eq!(
                value(
                    &text,
                    &format!("ttlab_architecture_running{{arch=\"{arch}\"}}")
                ),
                0
            );
        }
        assert!(text.contains("ttlab_run_info{scenario=\"s\",seed=\"7\",warmup_seconds=\"2\"} 1"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn seconds_add_up_and_only_the_current_architecture_runs() {
        let m = LiveMetrics::new(&facts());
        m.start_arch(0);
        m.start_arch(1);
        for second in 0..3 {
            let mut f = Frame::empty(1, second);
            f.classes[Class::Fresh.index()] = 10;
            f.classes[Class::StaleVariant.index()] = 2;
            f.from_cache = 9;
            f.origin.renders = 3;
            f.layer = Some(LayerCounts {
                hits: 8,
                stale: 1,
                misses: 3,
                ..LayerCounts::default()
            });
            f.latency_hit.record_n(400, 9).unwrap();
            f.latency_miss.record_n(30_000, 3).unwrap();
            f.staleness.record_n(4_000_000, 2).unwrap();
            m.observe(&f);
        }
        let text = m.encode();
        let arch = "arch=\"ssr-cdn-shared\"";
        assert_eq!(
            value(
                &text,
                &format!("ttlab_responses_total{{{arch},class=\"fresh\"}}")
            ),
            30
        );
        assert_eq!(
            value(
                &text,
                &format!("ttlab_responses_total{{{arch},class=\"stale_variant\"}}")
            ),
            6
        );
        assert_eq!(
            value(
                &text,
                &format!("ttlab_responses_from_cache_total{{{arch}}}")
            ),
            27
        );
        assert_eq!(
            value(&text, &format!("ttlab_origin_renders_total{{{arch}}}")),
            9
        );
        assert_eq!(
            value(
                &text,
                &format!("ttlab_cache_answers_total{{{arch},answer=\"hit\"}}")
            ),
            24
        );
        assert_eq!(
            value(
                &text,
                &format!(
                    "ttlab_response_latency_seconds_bucket{{le=\"0.05\",{arch},served=\"upstream\"}}"
                )
            ),
            9
        );
        assert_eq!(
            value(
                &text,
                &format!("ttlab_staleness_seconds_bucket{{le=\"5.0\",{arch}}}")
            ),
            6
        );
        assert_eq!(
            value(&text, &format!("ttlab_run_elapsed_seconds{{{arch}}}")),
            3
        );
        assert_eq!(
            value(&text, &format!("ttlab_architecture_running{{{arch}}}")),
            1
        );
        assert_eq!(
            value(&text, "ttlab_architecture_running{arch=\"ssr-nocache\"}"),
            0
        );
        m.finish();
        assert_eq!(
            value(
                &m.encode(),
                &format!("ttlab_architecture_running{{{arch}}}")
            ),
            0
        );
    }
}
