//! The one-screen summary `ttlab validate` prints: what the scenario holds and
//! how many cache keys each architecture will see, before anything runs.

use std::collections::HashSet;
use std::fmt::{self, Write as _};

use crate::model::{Architecture, Assignment, Backend, KeyScope, Load, Popularity};
use crate::time::Micros;
use crate::topology::KeyStrategy;
use crate::world::{EventKind, VariantSet, World};

/// Key count of one architecture at the start of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCardinality {
    /// Which architecture.
    pub arch: Architecture,
    /// Its variant-key scope, where it has variant keys.
    pub scope: Option<KeyScope>,
    /// Distinct cache keys the population produces at t = 0 (0: no cache).
    pub keys: u64,
    /// Where its cache lives in real runs, when not the embedded default:
    /// `redis, 3 origin replicas` (empty for memory and one origin).
    pub deployment: String,
}

/// What a scenario holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Seed.
    pub seed: u64,
    /// Run length.
    pub duration: Micros,
    /// Traffic, in words.
    pub traffic: String,
    /// Attribute names with their value counts.
    pub attributes: Vec<(String, usize)>,
    /// One line per experience.
    pub experiences: Vec<String>,
    /// Product over experiences of (variants + 1).
    pub possible_combinations: u128,
    /// Distinct variant sets among visitors at t = 0.
    pub combinations_at_start: usize,
    /// Pages.
    pub pages: usize,
    /// Entries.
    pub entries: usize,
    /// Entries that have variants.
    pub entries_with_variants: usize,
    /// Attribute changes, experience changes, publishes in the timeline.
    pub events: (usize, usize, usize),
    /// Key cardinality per architecture.
    pub keys: Vec<KeyCardinality>,
    /// What the stack export holds, when the scenario serves one.
    pub export: Option<String>,
    /// The team's app ttlab starts, when the scenario has `[app]`.
    pub app: Option<String>,
    /// What to look at before a run (see `export_notes`).
    pub warnings: Vec<String>,
}

/// Summarizes a world.
#[allow(clippy::too_many_lines)] // one field after another
pub fn summarize(world: &World) -> Summary {
    let s = world.scenario();
    let visitors = world.visitor_count();
    let start: Vec<VariantSet> = (0..visitors)
        .map(|v| world.variants_of(v, Micros::ZERO))
        .collect();
    let distinct: HashSet<VariantSet> = start.iter().copied().collect();
    let pages = s.content.pages.len() as u64;
    let per_page_distinct = |scope: KeyScope| -> u64 {
        match scope {
            KeyScope::All => pages * distinct.len() as u64,
            KeyScope::Page => (0..pages as u32)
                .map(|p| {
                    let mask = world.page_experience_mask(p);
                    distinct
                        .iter()
                        .map(|v| v.project(mask))
                        .collect::<HashSet<_>>()
                        .len() as u64
                })
                .sum(),
        }
    };
    let keys = s
        .architectures
        .iter()
        .map(|a| {
            let (scope, keys) = match a.topology().cache_key() {
                None => (None, 0),
                Some(KeyStrategy::Url) => (None, pages),
                Some(KeyStrategy::UrlVisitor) => (None, pages * u64::from(visitors)),
                Some(KeyStrategy::UrlVariants(scope)) => (Some(scope), per_page_distinct(scope)),
            };
            let deployment = match (&a.cache.backend, a.cache.origin_replicas) {
                (Backend::Memory, 1) => String::new(),
                (Backend::Memory, n) => format!("{n} origin replicas"),
                (Backend::Redis { .. }, 1) => "redis".to_owned(),
                (Backend::Redis { .. }, n) => format!("redis, {n} origin replicas"),
            };
            KeyCardinality {
                arch: a.arch,
                scope,
                keys,
                deployment,
            }
        })
        .collect();
    let t = &s.traffic;
    let mut traffic = format!("{} visitors", t.visitors);
    match &t.load {
        Load::Closed { users } => {
            let _ = write!(
                traffic,
                ", {users} closed-loop users, {} pages/session, think {} mean",
                t.pages_per_session,
                t.think_time.mean()
            );
        }
        Load::Sessions { rate } => {
            let _ = write!(
                traffic,
                ", open sessions at {}, {} pages/session, think {} mean",
                rate_text(rate, "sessions/s"),
                t.pages_per_session,
                t.think_time.mean()
            );
        }
        Load::Requests { rate } => {
            let _ = write!(traffic, ", open loop {}", rate_text(rate, "req/s"));
        }
        Load::Trace(r) => {
            let _ = write!(
                traffic,
                ", replay of {} ({} requests, speed {})",
                r.file,
                r.requests.len(),
                r.speed
            );
        }
    }
    let _ = match t.popularity {
        Popularity::Uniform => write!(traffic, ", uniform pages"),
        Popularity::Zipf { s } => write!(traffic, ", zipf s={s} pages"),
    };
    let experiences = s
        .experiences
        .iter()
        .map(|e| {
            let how = match &e.assignment {
                Assignment::Ab { splits, audience } => {
                    let parts: Vec<String> = e
                        .variants
                        .iter()
                        .zip(splits)
                        .map(|(v, p)| format!("{v}={p}%"))
                        .collect();
                    format!(
                        "a/b {}{}",
                        parts.join(" "),
                        if audience.is_some() {
                            ", with audience"
                        } else {
                            ""
                        }
                    )
                }
                Assignment::Segmented { .. } => format!(
                    "segmented, {} variant{}",
                    e.variants.len(),
                    if e.variants.len() == 1 { "" } else { "s" }
                ),
            };
            let name = if e.name.is_empty() {
                String::new()
            } else {
                format!(" {}", e.name)
            };
            let off = if e.active { "" } else { " (inactive at start)" };
            format!("\"{}\"{name}: {how}{off}", e.uid)
        })
        .collect();
    let mut events = (0, 0, 0);
    for e in world.events() {
        match e.kind {
            EventKind::AttributeChange { .. } => events.0 += 1,
            EventKind::SetActive { .. } | EventKind::SetSplits { .. } => events.1 += 1,
            EventKind::Publish { .. } => events.2 += 1,
        }
    }
    Summary {
        name: s.name.clone(),
        description: s.description.clone(),
        seed: s.seed,
        duration: s.duration,
        traffic,
        attributes: s
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.values.len()))
            .collect(),
        experiences,
        possible_combinations: s
            .experiences
            .iter()
            .map(|e| e.variants.len() as u128 + 1)
            .product(),
        combinations_at_start: distinct.len(),
        pages: s.content.pages.len(),
        entries: s.content.entries.len(),
        entries_with_variants: s
            .content
            .entries
            .iter()
            .filter(|e| !e.variants.is_empty())
            .count(),
        events,
        keys,
        export: s
            .content
            .export
            .as_deref()
            .map(crate::export_notes::describe),
        app: s.app.as_ref().map(|a| {
            format!(
                "`{}` in {}, at {} (ready when {} answers, within {}), {} environment variables of its own",
                a.command,
                a.dir.display(),
                a.url,
                a.ready,
                a.ready_timeout,
                a.env.len()
            )
        }),
        warnings: crate::export_notes::warnings(&s.content),
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} — {}", self.name, self.description)?;
        writeln!(f, "  seed {}, duration {}", self.seed, self.duration)?;
        writeln!(f, "  traffic      {}", self.traffic)?;
        let attrs: Vec<String> = self
            .attributes
            .iter()
            .map(|(n, k)| format!("{n} ({k} values)"))
            .collect();
        writeln!(
            f,
            "  attributes   {}",
            if attrs.is_empty() {
                "none".into()
            } else {
                attrs.join(", ")
            }
        )?;
        writeln!(f, "  experiences  {}", self.experiences.len())?;
        for e in &self.experiences {
            writeln!(f, "    {e}")?;
        }
        writeln!(
            f,
            "  variant combinations  {} possible, {} among visitors at start",
            self.possible_combinations, self.combinations_at_start
        )?;
        writeln!(
            f,
            "  content      {} pages, {} entries ({} with variants)",
            self.pages, self.entries, self.entries_with_variants
        )?;
        if let Some(x) = &self.export {
            writeln!(f, "  export       {x}")?;
        }
        if let Some(x) = &self.app {
            writeln!(f, "  app          {x}")?;
        }
        writeln!(
            f,
            "  timeline     {} attribute changes, {} experience changes, {} publishes",
            self.events.0, self.events.1, self.events.2
        )?;
        writeln!(f, "  cache keys at start, per architecture:")?;
        for k in &self.keys {
            let key = match (k.arch, k.scope) {
                (_, Some(KeyScope::All)) => "URL + variants (scope all)".to_owned(),
                (_, Some(KeyScope::Page)) => "URL + variants (scope page)".to_owned(),
                (a, None) => a.key_description().to_owned(),
            };
            if k.deployment.is_empty() || !k.arch.caches() {
                writeln!(f, "    {:<20} {:>10}  {key}", k.arch.as_str(), k.keys)?;
            } else {
                writeln!(
                    f,
                    "    {:<20} {:>10}  {key} ({})",
                    k.arch.as_str(),
                    k.keys,
                    k.deployment
                )?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// A rate curve in a few words: the rate if constant, else its range.
fn rate_text(rate: &crate::model::RateCurve, unit: &str) -> String {
    let low = rate
        .points
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min);
    if rate.is_constant() {
        format!("{} {unit}", rate.peak())
    } else {
        format!("{low} to {} {unit} (a curve)", rate.peak())
    }
}
