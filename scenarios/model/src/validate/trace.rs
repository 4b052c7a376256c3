//! `[traffic] trace`: the file read and mapped onto the scenario, once, so
//! that both engines replay the same requests.
//!
//! Paths that name a scenario page go to it (with or without their query
//! string); the others are ranked by how often the trace asks for them and
//! laid onto the pages in content order (the most asked on the first page,
//! the next on the second, wrapping), so the trace's popularity carries
//! over. Visitor ids are numbered as they first appear and laid onto the
//! population the same way; the population's rules draw their attributes,
//! so one id always plays one visitor. A trace without visitor ids gets a
//! visitor per request drawn from the seed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use toml::Spanned;
use ttlab_traffic::trace::{self, Columns, Kind, TimeUnit};

use crate::bounds::MAX_TRACE_REQUESTS;
use crate::model::{Content, PageIdx, Replay, ReplayRequest};
use crate::spec::TrafficSpec;
use crate::time::Micros;

use super::{Cx, fmt_num, sp};

impl Cx {
    /// Reads and maps the trace `file` names (relative to the scenario's
    /// folder); problems point at the key at fault.
    pub(super) fn replay(
        &mut self,
        t: &TrafficSpec,
        file: &Spanned<String>,
        content: &Content,
    ) -> Option<Arc<Replay>> {
        let speed = t.speed.as_ref().map_or(1.0, |s| {
            let v = *s.get_ref();
            if !(v.is_finite() && v > 0.0 && v <= 1e6) {
                self.err(
                    sp(s),
                    format!(
                        "speed must be above 0 and at most 1000000, got {}",
                        fmt_num(v)
                    ),
                );
            }
            v
        });
        let mut columns = Columns::default();
        if let Some(c) = &t.trace_columns {
            let c = c.get_ref();
            let set = |to: &mut String, from: &Option<String>| {
                if let Some(v) = from {
                    to.clone_from(v);
                }
            };
            set(&mut columns.time, &c.time);
            set(&mut columns.path, &c.path);
            if let Some(v) = &c.visitor {
                columns.visitor = (!v.is_empty()).then(|| v.clone());
            }
            columns.size.clone_from(&c.size);
            if let Some(u) = &c.time_unit {
                match TimeUnit::named(u) {
                    Some(unit) => columns.time_unit = unit,
                    None => self.err(
                        sp(t.trace_columns.as_ref()?),
                        format!(
                            "time_unit \"{u}\" is not one of \"s\", \"ms\", \"us\", \"rfc3339\""
                        ),
                    ),
                }
            }
        }
        let path = self.base.as_deref().map_or_else(
            || PathBuf::from(file.get_ref()),
            |base| base.join(file.get_ref()),
        );
        let kind = match &t.trace_format {
            None => Kind::of_path(Path::new(file.get_ref())),
            Some(f) => match Kind::named(f.get_ref()) {
                Some(k) => k,
                None => {
                    self.err(
                        sp(f),
                        format!(
                            "trace_format \"{}\" is not one of \"csv\", \"tsv\", \"jsonl\", \"access-log\"",
                            f.get_ref()
                        ),
                    );
                    return None;
                }
            },
        };
        if content.pages.is_empty() || self.problems_len() > 0 {
            // Nothing to map onto, or the file is already wrong: do not read.
            return None;
        }
        let read = match trace::read(&path, &kind.with(columns)) {
            Ok(r) => r,
            Err(e) => {
                self.err(sp(file), format!("trace: {e}"));
                return None;
            }
        };
        if read.requests.len() as u64 > MAX_TRACE_REQUESTS {
            self.err(
                sp(file),
                format!(
                    "trace: {} requests; a replay holds at most {MAX_TRACE_REQUESTS} (cut the file, or fit it with `ttlab traffic fit` and simulate the fit)",
                    read.requests.len()
                ),
            );
            return None;
        }
        Some(Arc::new(map(
            file.get_ref(),
            speed,
            read,
            content,
            self.visitors,
            self.seed,
            self.duration,
        )))
    }
}

/// The read trace onto `content`'s pages and `visitors`, in time order,
/// up to `duration`.
fn map(
    file: &str,
    speed: f64,
    mut read: trace::Trace,
    content: &Content,
    visitors: u32,
    seed: u64,
    duration: Micros,
) -> Replay {
    read.requests.sort_by_key(|r| r.at_us);
    let start = read.requests.first().map_or(0, |r| r.at_us);
    let by_path: HashMap<&str, PageIdx> = content
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.path.as_str(), i as PageIdx))
        .collect();
    let page_of = |path: &str| {
        by_path
            .get(path)
            .or_else(|| by_path.get(path.split('?').next().unwrap_or(path)))
            .copied()
    };
    // Unmatched paths by how often they are asked, then by first sight.
    let mut unmatched: HashMap<&str, (u64, usize)> = HashMap::new();
    for (i, r) in read.requests.iter().enumerate() {
        if page_of(&r.path).is_none() {
            unmatched.entry(&r.path).or_insert((0, i)).0 += 1;
        }
    }
    let mut ranked: Vec<(&str, (u64, usize))> = unmatched.into_iter().collect();
    ranked.sort_by_key(|(_, (n, first))| (std::cmp::Reverse(*n), *first));
    let pages = content.pages.len();
    let ranked: HashMap<&str, PageIdx> = ranked
        .iter()
        .enumerate()
        .map(|(rank, (p, _))| (*p, (rank % pages) as PageIdx))
        .collect();
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x7ace_0001);
    let mut requests = Vec::with_capacity(read.requests.len());
    for r in &read.requests {
        let at = Micros::from_secs_f64((r.at_us - start) as f64 / 1e6 / speed);
        if at >= duration {
            break;
        }
        let page = page_of(&r.path).unwrap_or_else(|| ranked[r.path.as_str()]);
        let visitor = match &r.visitor {
            Some(id) => {
                let n = ids.len() as u32;
                *ids.entry(id).or_insert(n) % visitors.max(1)
            }
            None => rng.random_range(0..visitors.max(1)),
        };
        requests.push(ReplayRequest { at, page, visitor });
    }
    Replay {
        file: file.to_owned(),
        speed,
        requests,
        bad_lines: read.bad_count,
        first_bad: read.bad.first().map(|b| (b.line, b.message.clone())),
        unmatched_paths: ranked.len() as u64,
        trace_visitors: ids.len() as u64,
    }
}
