//! Faults, cache options, architectures, thresholds and sweeps.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use crate::model::{
    Architecture, ArchitectureConfig, Backend, CONTENTSTACK_DELIVERY_MISS_RPS, CacheOptions,
    CachePolicy, Cmp, Dist, KeyScope, Measure, Outage, RateLimit, Sweep, Threshold, Unit,
    UpstreamFaults,
};
use crate::spec::{
    BackendSpec, BoundSpec, CachePolicySpec, CacheSpec, HumanDuration, KeyScopeSpec, RateLimitSpec,
    ScenarioFile, ThresholdsSpec, UpstreamFaultsSpec,
};
use crate::time::Micros;

use super::{Cx, sp};
use crate::bounds::{MAX_BURST, MAX_CACHE_ENTRIES, MAX_OUTAGES, MAX_RATE, MAX_SWEEP_VALUES};

/// The most origin replicas a real run starts: each is a server on
/// loopback in the one process, so more only measure the machine.
pub const MAX_ORIGIN_REPLICAS: u32 = 16;

/// `a, b, c or d`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The problem of a `max_entries` past [`MAX_CACHE_ENTRIES`].
pub(crate) fn over_max_entries(m: u64) -> String {
    format!(
        "max_entries must be at most {MAX_CACHE_ENTRIES} (a bounded cache reserves its table up front), got {m}"
    )
}

impl Cx {
    pub(super) fn upstream(&mut self, u: &UpstreamFaultsSpec) -> UpstreamFaults {
        let share = |cx: &mut Cx, v: &Option<Spanned<f64>>, what: &str, default: f64| -> f64 {
            match v {
                None => default,
                Some(r) => {
                    let x = *r.get_ref();
                    if !(0.0..=1.0).contains(&x) {
                        cx.err(
                            sp(r),
                            format!("{what} must be a share from 0 to 1, got {x}"),
                        );
                    }
                    x
                }
            }
        };
        let status = |cx: &mut Cx, v: &Option<Spanned<u16>>| -> u16 {
            match v {
                None => 503,
                Some(s) => {
                    let x = *s.get_ref();
                    if !(400..=599).contains(&x) {
                        cx.err(
                            sp(s),
                            format!("error_status must be a 4xx or 5xx status, got {x}"),
                        );
                    }
                    x
                }
            }
        };
        let error_rate = share(self, &u.error_rate, "error_rate", 0.0);
        let timeout_rate = share(self, &u.timeout_rate, "timeout_rate", 0.0);
        let rate_limit = u.rate_limit.as_ref().and_then(|r| self.rate_limit(r));
        if let Some(o) = u.outages.get(MAX_OUTAGES) {
            self.err(
                sp(o),
                format!("at most {MAX_OUTAGES} outages per upstream are supported"),
            );
        }
        let outages = u
            .outages
            .iter()
            .map(|o| {
                let s = o.get_ref();
                let from = self.when(&s.from, "from");
                let until = self.when(&s.until, "until");
                if from >= until {
                    self.err(
                        sp(&s.until),
                        format!("the outage is empty: from {from} is not before until {until}"),
                    );
                }
                Outage {
                    from,
                    until,
                    error_rate: share(self, &s.error_rate, "error_rate", 1.0),
                    error_status: status(self, &s.error_status),
                    timeout: s.timeout,
                }
            })
            .collect();
        UpstreamFaults {
            latency: u
                .latency
                .as_ref()
                .map_or(Dist::Fixed(Micros::ZERO), |d| self.dist(d)),
            error_rate,
            error_status: status(self, &u.error_status),
            timeout_rate,
            rate_limit,
            outages,
        }
    }

    /// A rate limit: a preset, or a rate within [`MAX_RATE`].
    fn rate_limit(&mut self, r: &Spanned<RateLimitSpec>) -> Option<RateLimit> {
        let s = r.get_ref();
        let rps = match (
            &s.preset,
            s.requests_per_second.as_ref().map(|x| *x.get_ref()),
        ) {
            (Some(p), None) if p == "contentstack-delivery" => CONTENTSTACK_DELIVERY_MISS_RPS,
            (Some(p), None) => {
                self.err(
                    sp(r),
                    format!("unknown rate limit preset \"{p}\"; known: \"contentstack-delivery\""),
                );
                return None;
            }
            (None, Some(x)) if x.is_finite() && x > 0.0 && x <= MAX_RATE => x,
            (None, Some(x)) if x.is_finite() && x > 0.0 => {
                let at = s.requests_per_second.as_ref().map_or(sp(r), sp);
                self.err(at, super::over_rate("requests_per_second", x));
                return None;
            }
            (None, Some(x)) => {
                self.err(
                    sp(r),
                    format!("requests_per_second must be positive, got {x}"),
                );
                return None;
            }
            _ => {
                self.err(
                    sp(r),
                    "rate_limit takes exactly one of `preset` or `requests_per_second`",
                );
                return None;
            }
        };
        if let Some(b) = &s.burst
            && *b.get_ref() > MAX_BURST
        {
            self.err(
                sp(b),
                format!("burst must be at most {MAX_BURST}, got {}", b.get_ref()),
            );
        }
        let burst = s
            .burst
            .as_ref()
            .map_or(rps.ceil() as u32, |b| *b.get_ref())
            .max(1);
        Some(RateLimit {
            requests_per_second: rps,
            burst,
        })
    }

    pub(super) fn cache(
        &mut self,
        base: Option<&Spanned<CacheSpec>>,
        over: Option<&Spanned<CacheSpec>>,
        arch_span: Range<usize>,
    ) -> CacheOptions {
        let empty = CacheSpec::default();
        let o = over.map_or(&empty, |s| s.get_ref());
        // Point backend problems at the table that sets the backend.
        let span = match over {
            Some(s) if o.backend.is_some() || o.redis_url.is_some() => sp(s),
            _ => base.map_or(arch_span, sp),
        };
        // Window problems point at the innermost cache table.
        let windows_span = over.or(base).map_or(span.clone(), sp);
        let base = base.map_or(&empty, |s| s.get_ref());
        let d = CacheOptions::default();
        let max_entries = o
            .max_entries
            .as_ref()
            .or(base.max_entries.as_ref())
            .map(|m| {
                if *m.get_ref() == 0 {
                    self.err(
                        sp(m),
                        "max_entries must be at least 1 (for no caching, name the architecture ssr-nocache, or set ttl, stale_while_revalidate and stale_if_error to \"0s\")",
                    );
                } else if *m.get_ref() > MAX_CACHE_ENTRIES {
                    self.err(sp(m), over_max_entries(*m.get_ref()));
                }
                *m.get_ref()
            });
        let (backend, origin_replicas) = self.backend(o, base, span);
        let policy = match o.policy.or(base.policy) {
            None | Some(CachePolicySpec::Scenario) => CachePolicy::Scenario,
            Some(CachePolicySpec::Http) => CachePolicy::Http,
        };
        let options = CacheOptions {
            ttl: o.ttl.or(base.ttl).map_or(d.ttl, |x| x.0),
            stale_while_revalidate: o
                .stale_while_revalidate
                .or(base.stale_while_revalidate)
                .map_or(d.stale_while_revalidate, |x| x.0),
            stale_if_error: o
                .stale_if_error
                .or(base.stale_if_error)
                .map_or(d.stale_if_error, |x| x.0),
            coalesce: o.coalesce.or(base.coalesce).unwrap_or(d.coalesce),
            purge_on_publish: o
                .purge_on_publish
                .or(base.purge_on_publish)
                .unwrap_or(d.purge_on_publish),
            max_entries,
            max_bytes: o.max_bytes.or(base.max_bytes).map(|b| b.0),
            eviction: o.eviction.or(base.eviction).map_or(d.eviction, Into::into),
            backend,
            origin_replicas,
            key_scope: match o.key_scope.or(base.key_scope) {
                None | Some(KeyScopeSpec::All) => KeyScope::All,
                Some(KeyScopeSpec::Page) => KeyScope::Page,
            },
            policy,
        };
        if policy == CachePolicy::Http {
            for (name, d) in [
                ("ttl", options.ttl),
                ("stale_while_revalidate", options.stale_while_revalidate),
                ("stale_if_error", options.stale_if_error),
            ] {
                self.whole_seconds(windows_span.clone(), name, d);
            }
        }
        options
    }

    /// With `policy = "http"` the origin states windows in HTTP headers,
    /// whose unit is the second: a window of `d` must be whole seconds.
    pub(super) fn whole_seconds(&mut self, span: Range<usize>, name: &str, d: Micros) {
        if !d.0.is_multiple_of(1_000_000) {
            self.err(
                span,
                format!(
                    "{name} = \"{d}\" is not whole seconds; with policy = \"http\" the origin states it in Cache-Control, whose unit is the second"
                ),
            );
        }
    }

    /// The backend and the origin replicas of a cache table over `base`;
    /// problems point at `span` (the table that sets the backend).
    fn backend(&mut self, o: &CacheSpec, base: &CacheSpec, span: Range<usize>) -> (Backend, u32) {
        let backend = match (
            o.backend.or(base.backend),
            o.redis_url.as_ref().or(base.redis_url.as_ref()),
        ) {
            (None | Some(BackendSpec::Memory), None) => Backend::Memory,
            (Some(BackendSpec::Redis), Some(url)) => Backend::Redis { url: url.clone() },
            (Some(BackendSpec::Redis), None) => {
                self.err(
                    span.clone(),
                    "backend = \"redis\" needs redis_url, e.g. \"redis://127.0.0.1:6379\"",
                );
                Backend::Memory
            }
            (_, Some(_)) => {
                self.err(
                    span.clone(),
                    "redis_url is set but backend is not \"redis\"",
                );
                Backend::Memory
            }
        };
        if let Backend::Redis { url } = &backend {
            const SCHEMES: [&str; 4] = ["redis://", "rediss://", "unix://", "redis+unix://"];
            if !SCHEMES.iter().any(|p| url.starts_with(p)) {
                self.err(
                    span.clone(),
                    format!(
                        "redis_url \"{url}\" is not a Redis URL; expected redis://HOST:PORT (or rediss://, unix://)"
                    ),
                );
            }
            if let Some(m) = o.max_entries.as_ref().or(base.max_entries.as_ref()) {
                self.err(
                    sp(m),
                    "max_entries does not bound a Redis store: bound Redis itself (maxmemory and an eviction policy)",
                );
            } else if o.max_bytes.or(base.max_bytes).is_some() {
                self.err(
                    span.clone(),
                    "max_bytes does not bound a Redis store: bound Redis itself (maxmemory and an eviction policy)",
                );
            }
            if let Some(e) = o.eviction.or(base.eviction)
                && e != crate::spec::EvictionSpec::Lru
            {
                self.err(
                    span.clone(),
                    format!(
                        "eviction = \"{}\" does not apply to a Redis store: Redis evicts by its own maxmemory-policy (set it on the Redis server)",
                        crate::model::Eviction::from(e)
                    ),
                );
            }
        }
        let origin_replicas = match o.origin_replicas.as_ref().or(base.origin_replicas.as_ref()) {
            None => 1,
            Some(r) => {
                let n = *r.get_ref();
                if n == 0 || n > MAX_ORIGIN_REPLICAS {
                    self.err(
                        sp(r),
                        format!("origin_replicas must be from 1 to {MAX_ORIGIN_REPLICAS}, got {n}"),
                    );
                } else if n > 1 && o.backend.or(base.backend) != Some(BackendSpec::Redis) {
                    self.err(
                        sp(r),
                        format!(
                            "origin_replicas = {n} needs backend = \"redis\" (and redis_url): replicas share their cache through Redis, and in-memory caches would not"
                        ),
                    );
                }
                n.clamp(1, MAX_ORIGIN_REPLICAS)
            }
        };
        (backend, origin_replicas)
    }

    pub(super) fn architectures(
        &mut self,
        f: &ScenarioFile,
        global: &[Threshold],
    ) -> Vec<ArchitectureConfig> {
        if f.architectures.get_ref().is_empty() {
            self.err(sp(&f.architectures), "name at least one architecture");
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for a in f.architectures.get_ref() {
            let spec = a.get_ref();
            let name = spec.name.get_ref();
            let Some(arch) = Architecture::parse(name) else {
                let known: Vec<_> = Architecture::ALL.iter().map(|a| a.as_str()).collect();
                self.err(
                    sp(&spec.name),
                    format!(
                        "unknown architecture \"{name}\"; expected one of {}",
                        known.join(", ")
                    ),
                );
                continue;
            };
            if !seen.insert(arch) {
                self.err(
                    sp(&spec.name),
                    format!("architecture \"{name}\" is listed twice"),
                );
            }
            if f.app.is_some() && !arch.takes_app() {
                self.err(
                    sp(&spec.name),
                    format!(
                        "{name} is a behaviour of ttlab's own origin; with [app] use {}",
                        or_list(&Architecture::with_app())
                    ),
                );
            } else if f.app.is_none() && arch.needs_app() {
                self.err(
                    sp(&spec.name),
                    format!("{name} judges the team's own app as it is: add an [app] table saying how to start it"),
                );
            }
            if !arch.caches()
                && let Some(c) = &spec.cache
            {
                self.err(
                    sp(c),
                    format!("{name} has no cache, so it takes no cache options"),
                );
            }
            let cache = self.cache(f.cache.as_ref(), spec.cache.as_ref(), sp(a));
            if f.app.is_some() {
                let replicas = spec
                    .cache
                    .as_ref()
                    .and_then(|c| c.get_ref().origin_replicas.as_ref())
                    .or(f
                        .cache
                        .as_ref()
                        .and_then(|c| c.get_ref().origin_replicas.as_ref()))
                    .filter(|r| *r.get_ref() > 1);
                if let Some(r) = replicas {
                    self.err(
                        sp(r),
                        "origin_replicas starts copies of ttlab's origin; with [app] ttlab starts one copy of your app per architecture",
                    );
                }
            }
            let mut thresholds = global.to_vec();
            if let Some(t) = &spec.thresholds {
                for own in self.thresholds(t) {
                    thresholds.retain(|g| g.measure != own.measure);
                    thresholds.push(own);
                }
            }
            thresholds.sort_by_key(|t| t.measure);
            out.push(ArchitectureConfig {
                arch,
                cache,
                thresholds,
            });
        }
        out
    }

    pub(super) fn thresholds(&mut self, t: &ThresholdsSpec) -> Vec<Threshold> {
        let all = [
            (Measure::WrongVariant, &t.wrong_variant),
            (Measure::WrongVariantRate, &t.wrong_variant_rate),
            (Measure::Leak, &t.leak),
            (Measure::LeakRate, &t.leak_rate),
            (Measure::StaleVariant, &t.stale_variant),
            (Measure::StaleVariantRate, &t.stale_variant_rate),
            (Measure::StaleContent, &t.stale_content),
            (Measure::StaleContentRate, &t.stale_content_rate),
            (Measure::Error, &t.error),
            (Measure::ErrorRate, &t.error_rate),
            (Measure::Fallback, &t.fallback),
            (Measure::FallbackRate, &t.fallback_rate),
            (Measure::Offload, &t.offload),
            (Measure::HitRate, &t.hit_rate),
            (Measure::P50, &t.p50),
            (Measure::P90, &t.p90),
            (Measure::P99, &t.p99),
            (Measure::P999, &t.p999),
            (Measure::MaxLatency, &t.max_latency),
            (Measure::StalenessP99, &t.staleness_p99),
        ];
        all.into_iter()
            .filter_map(|(m, b)| b.as_ref().and_then(|b| self.bound(m, b)))
            .collect()
    }

    pub(super) fn bound(&mut self, measure: Measure, b: &Spanned<BoundSpec>) -> Option<Threshold> {
        let name = measure.as_str();
        let (cmp, value) = match b.get_ref() {
            BoundSpec::Number(n) => {
                if measure.unit() == Unit::Duration {
                    self.err(
                        sp(b),
                        format!("{name} is a duration: write a bound such as \"<= 50ms\""),
                    );
                    return None;
                }
                (
                    if measure.higher_is_better() {
                        Cmp::Ge
                    } else {
                        Cmp::Le
                    },
                    *n,
                )
            }
            BoundSpec::Text(text) => {
                let s = text.trim();
                let ops = [
                    ("<=", Cmp::Le),
                    (">=", Cmp::Ge),
                    ("==", Cmp::Eq),
                    ("<", Cmp::Lt),
                    (">", Cmp::Gt),
                ];
                let Some((op, rest)) = ops
                    .iter()
                    .find_map(|(p, c)| s.strip_prefix(p).map(|r| (*c, r.trim())))
                else {
                    self.err(sp(b), format!("bound \"{text}\" of {name} needs a comparison first: <=, <, >=, > or ==, e.g. \"<= 0.01\""));
                    return None;
                };
                let value = if measure.unit() == Unit::Duration {
                    match HumanDuration::parse(rest) {
                        Ok(d) => d.0.as_secs_f64(),
                        Err(e) => {
                            self.err(sp(b), format!("{name}: {e}"));
                            return None;
                        }
                    }
                } else if let Ok(v) = rest.parse::<f64>() {
                    v
                } else {
                    self.err(sp(b), format!("bound \"{text}\" of {name} needs a number after the comparison, e.g. \"<= 0.01\""));
                    return None;
                };
                (op, value)
            }
        };
        match measure.unit() {
            Unit::Rate if !(0.0..=1.0).contains(&value) => {
                self.err(sp(b), format!("{name} is a share from 0 to 1, got {value}"));
                return None;
            }
            Unit::Count if value < 0.0 || !value.is_finite() => {
                self.err(sp(b), format!("{name} is a count, got {value}"));
                return None;
            }
            _ => {}
        }
        Some(Threshold {
            measure,
            cmp,
            value,
        })
    }

    /// A sweep of a window when an architecture has `policy = "http"`:
    /// every value whole seconds.
    pub(super) fn sweep_whole_seconds(
        &mut self,
        s: &Sweep,
        span: Range<usize>,
        architectures: &[ArchitectureConfig],
    ) {
        if !architectures
            .iter()
            .any(|a| a.cache.policy == CachePolicy::Http)
        {
            return;
        }
        if let Sweep::Ttl(v) | Sweep::StaleWhileRevalidate(v) | Sweep::StaleIfError(v) = s {
            for d in v {
                self.whole_seconds(span.clone(), s.option(), *d);
            }
        }
    }

    /// A sweep of `eviction` when an architecture keeps its cache in Redis:
    /// refused, as the option is (Redis evicts by its own policy).
    pub(super) fn sweep_eviction_on_redis(
        &mut self,
        s: &Sweep,
        span: Range<usize>,
        architectures: &[ArchitectureConfig],
    ) {
        if matches!(s, Sweep::Eviction(_))
            && architectures
                .iter()
                .any(|a| matches!(a.cache.backend, crate::model::Backend::Redis { .. }))
        {
            self.err(
                span,
                "a sweep of eviction does not apply to a Redis store: Redis evicts by its own maxmemory-policy",
            );
        }
    }

    pub(super) fn sweep(&mut self, s: &Spanned<crate::spec::SweepSpec>) -> Option<Sweep> {
        let v = s.get_ref();
        let us = |d: &Vec<HumanDuration>| d.iter().map(|x| x.0).collect::<Vec<_>>();
        let mut found: Vec<Sweep> = Vec::new();
        if let Some(x) = &v.ttl {
            found.push(Sweep::Ttl(us(x)));
        }
        if let Some(x) = &v.stale_while_revalidate {
            found.push(Sweep::StaleWhileRevalidate(us(x)));
        }
        if let Some(x) = &v.stale_if_error {
            found.push(Sweep::StaleIfError(us(x)));
        }
        if let Some(x) = &v.coalesce {
            found.push(Sweep::Coalesce(x.clone()));
        }
        if let Some(x) = &v.purge_on_publish {
            found.push(Sweep::PurgeOnPublish(x.clone()));
        }
        if let Some(x) = &v.max_entries {
            if x.iter().any(|m| *m.get_ref() == 0) {
                self.err(sp(s), "max_entries values must be at least 1");
            }
            for m in x {
                if *m.get_ref() > MAX_CACHE_ENTRIES {
                    self.err(sp(m), over_max_entries(*m.get_ref()));
                }
            }
            found.push(Sweep::MaxEntries(x.iter().map(|m| *m.get_ref()).collect()));
        }
        if let Some(x) = &v.eviction {
            found.push(Sweep::Eviction(x.iter().map(|&e| e.into()).collect()));
        }
        if let Some(x) = &v.key_scope {
            found.push(Sweep::KeyScope(
                x.iter()
                    .map(|k| match k {
                        KeyScopeSpec::All => KeyScope::All,
                        KeyScopeSpec::Page => KeyScope::Page,
                    })
                    .collect(),
            ));
        }
        if found.len() != 1 {
            self.err(
                sp(s),
                "a sweep varies exactly one cache option, e.g. ttl = [\"0s\", \"5s\", \"30s\"]",
            );
            return None;
        }
        let sweep = found.pop().expect("one");
        if sweep.len() > MAX_SWEEP_VALUES {
            self.err(
                sp(s),
                format!(
                    "a sweep compares at most {MAX_SWEEP_VALUES} values, got {} (each is a simulation of every architecture)",
                    sweep.len()
                ),
            );
            return None;
        }
        if sweep.len() < 2 {
            self.err(
                sp(s),
                format!(
                    "a sweep of {} needs at least two values to compare",
                    sweep.option()
                ),
            );
            return None;
        }
        Some(sweep)
    }
}
