//! `ttlab sim FILE`: simulated runs, with an optional sweep of one cache option.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ttlab_dashboard::{DashState, Facts, Mode};
use ttlab_loadgen::live::Live;
use ttlab_loadgen::sim::SimControl;
use ttlab_reports::Report;
use ttlab_scenarios::World;
use ttlab_scenarios::bounds::{self, MAX_CACHE_ENTRIES, MAX_SWEEP_VALUES};
use ttlab_scenarios::model::{KeyScope, Sweep};
use ttlab_scenarios::spec::HumanDuration;

use crate::args::SimArgs;
use crate::exit::EXIT_BAD_INPUT;

/// `sweep`, unless it is of `eviction` while an architecture keeps its
/// cache in Redis, which evicts by its own policy (as a scenario's `[sweep]`
/// is refused).
fn not_eviction_on_redis(
    scenario: &ttlab_scenarios::Scenario,
    sweep: Sweep,
) -> Result<Sweep, String> {
    let redis = scenario.architectures.iter().any(|a| {
        matches!(
            a.cache.backend,
            ttlab_scenarios::model::Backend::Redis { .. }
        )
    });
    if redis && matches!(sweep, Sweep::Eviction(_)) {
        return Err("--sweep eviction does not apply to a Redis store: Redis evicts by its own maxmemory-policy".to_owned());
    }
    Ok(sweep)
}

/// Parses `option=v1,v2,…` into a sweep.
pub fn parse_sweep(text: &str) -> Result<Sweep, String> {
    let (option, values) = text.split_once('=').ok_or_else(|| {
        format!("--sweep \"{text}\": expected OPTION=V1,V2,… such as ttl=0s,5s,30s")
    })?;
    let option = option.trim();
    let values: Vec<&str> = values.split(',').map(str::trim).collect();
    if let Some(i) = values.iter().position(|v| v.is_empty()) {
        return Err(format!(
            "--sweep {option}: value {} of {} is empty; give values separated by single commas, such as ttl=0s,5s,30s",
            i + 1,
            values.len()
        ));
    }
    if values.len() < 2 {
        return Err(format!(
            "--sweep {option}: give at least two values to compare"
        ));
    }
    if values.len() > MAX_SWEEP_VALUES {
        return Err(format!(
            "--sweep {option}: at most {MAX_SWEEP_VALUES} values, got {} (each is a simulation of every architecture)",
            values.len()
        ));
    }
    let durations = || {
        values
            .iter()
            .map(|v| {
                HumanDuration::parse(v)
                    .map(|d| d.0)
                    .map_err(|e| format!("--sweep {option}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let bools = || {
        values
            .iter()
            .map(|v| {
                v.parse::<bool>()
                    .map_err(|_| format!("--sweep {option}: \"{v}\" is not true or false"))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match option {
        "ttl" => Sweep::Ttl(durations()?),
        "stale_while_revalidate" => Sweep::StaleWhileRevalidate(durations()?),
        "stale_if_error" => Sweep::StaleIfError(durations()?),
        "coalesce" => Sweep::Coalesce(bools()?),
        "purge_on_publish" => Sweep::PurgeOnPublish(bools()?),
        "max_entries" => Sweep::MaxEntries(
            values
                .iter()
                .map(|v| {
                    let n = v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--sweep max_entries: \"{v}\" is not a positive number")
                    })?;
                    if n > MAX_CACHE_ENTRIES {
                        return Err(format!(
                            "--sweep max_entries: \"{v}\" is more than {MAX_CACHE_ENTRIES}, the most a bounded cache holds"
                        ));
                    }
                    Ok(n)
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        "key_scope" => Sweep::KeyScope(
            values
                .iter()
                .map(|v| match *v {
                    "all" => Ok(KeyScope::All),
                    "page" => Ok(KeyScope::Page),
                    other => Err(format!("--sweep key_scope: \"{other}\" is not all or page")),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        "eviction" => Sweep::Eviction(
            values
                .iter()
                .map(|v| {
                    ttlab_scenarios::model::Eviction::ALL
                        .into_iter()
                        .find(|e| e.name() == *v)
                        .ok_or_else(|| {
                            format!(
                                "--sweep eviction: \"{v}\" is not one of lru, fifo, clock, sieve, s3-fifo, w-tinylfu"
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        other => {
            return Err(format!(
                "--sweep: unknown cache option \"{other}\"; expected one of ttl, stale_while_revalidate, stale_if_error, coalesce, purge_on_publish, max_entries, key_scope, eviction"
            ));
        }
    })
}

/// Simulates, writes the report, prints the summary.
#[allow(clippy::too_many_lines)] // one refusal after another, in the order they are checked
pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let (shown, scenario) = match super::scenario_or_exit(&args.scenario) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    if let Some(e) = super::refuse_app(&scenario, &shown) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let Some(archs) = super::run::pick_archs(&scenario, &args.arch, &shown) else {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    };
    if scenario.cdn != ttlab_scenarios::model::CdnEngine::Ttlab {
        // The model is what is simulated; Varnish runs for real only.
        eprintln!(
            "note: {shown}: [cdn] engine = \"{}\" is for real runs (ttlab run); the simulator models ttlab's CDN and edge",
            scenario.cdn.as_str()
        );
    }
    let (sweep, point) = match choose_sweep(args, &scenario, &shown) {
        Ok(picked) => picked,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    // Last of the checks, as it makes the folder: bad flags leave none behind.
    super::output::check_out_dir(&args.out)?;
    let name = scenario.name.clone();
    let world = Arc::new(World::new(scenario));
    if !args.quiet {
        let points = sweep.as_ref().map_or(String::new(), |s| {
            format!(" × {} values of {}", s.len(), s.option())
        });
        eprintln!(
            "simulating {} architecture(s){points}, {} of virtual time each…",
            archs.len(),
            world.scenario().duration
        );
    }
    let started = std::time::Instant::now();
    // The dashboard only where someone watches: stdout a terminal, not asked away.
    let tui = !args.quiet && !args.no_tui && std::io::stdout().is_terminal();
    let live = tui.then(|| Arc::new(Live::new()));
    let control = Arc::new(match &live {
        Some(l) => SimControl::with_live(l.clone()),
        None => SimControl::default(),
    });
    stop_on_ctrl_c(&control);
    let total = ttlab_loadgen::sim::work(&world, &archs, sweep.as_ref());
    let done = AtomicBool::new(false);
    let (report, took) = std::thread::scope(|scope| {
        let sim = scope.spawn(|| {
            let report =
                ttlab_loadgen::sim::simulate_with(&world, &archs, sweep.as_ref(), &control);
            // Simulation time only, not the time spent looking at the dashboard after.
            let took = started.elapsed();
            done.store(true, Ordering::Relaxed);
            if let Some(l) = &live {
                l.finish();
            }
            (report, took)
        });
        match &live {
            Some(l) => {
                let names = archs.iter().map(|a| a.arch.as_str().to_owned()).collect();
                let facts = Facts::of_world(&world, names, Mode::Sim);
                if let Err(e) = ttlab_dashboard::run(l, DashState::new(facts), &*control) {
                    tracing::warn!("no dashboard ({e}); simulating without it");
                    show_progress(&control, total, &done);
                }
            }
            None if !args.quiet => show_progress(&control, total, &done),
            None => {}
        }
        sim.join().expect("the simulation does not panic")
    });
    let path =
        super::output::write_report(&args.out, &folder(&name, sweep.as_ref(), point), &report)?;
    if !args.quiet {
        let requests: u64 = report.architectures.iter().map(|a| a.requests).sum();
        eprintln!(
            "simulated {requests} requests in {:.2} s ({:.0} requests/s)",
            took.as_secs_f64(),
            requests as f64 / took.as_secs_f64().max(1e-9)
        );
        println!("{}", super::run::summary(&report));
        if let Some(s) = &report.sweep {
            println!("{}", sweep_table(&report, s));
        }
    }
    if report.interrupted {
        super::say_interrupted(
            args.quiet,
            "the report holds what was simulated before Ctrl-C",
        );
    }
    println!("report: {}", path.display());
    Ok(super::finished(&report))
}

/// The sweep to simulate: --sweep or the scenario's, cut to one point on one
/// of several machines (or pods of an Indexed Job), within bounds.
fn choose_sweep(
    args: &SimArgs,
    scenario: &ttlab_scenarios::Scenario,
    shown: &str,
) -> Result<Picked, String> {
    let flag = args
        .sweep
        .as_deref()
        .map(|t| parse_sweep(t).and_then(|s| not_eviction_on_redis(scenario, s)))
        .transpose()?;
    let picked = pick_point(flag.or_else(|| scenario.sweep.clone()), args.point, shown)?;
    // The scenario's own sweep was within bounds; another may not be.
    if let Some((_, why)) = bounds::estimate(scenario, picked.0.as_ref()).refusal() {
        return Err(format!("with --sweep, {why}"));
    }
    Ok(picked)
}

/// A sweep to simulate, with the point it was cut to and the whole sweep's length.
type Picked = (Option<Sweep>, Option<(u32, usize)>);

/// The sweep cut to the point `--point` (or `JOB_COMPLETION_INDEX`) names; a
/// point without a sweep is an error, the variable without one is ignored.
fn pick_point(sweep: Option<Sweep>, flag: Option<u32>, shown: &str) -> Result<Picked, String> {
    let Some(sweep) = sweep else {
        if flag.is_some() {
            return Err(format!(
                "--point picks a point of a sweep; {shown} has no [sweep] and no --sweep was given"
            ));
        }
        return Ok((None, None));
    };
    match super::index_or_job_index(flag, "--point")? {
        Some(i) => Ok((Some(one_point(&sweep, i)?), Some((i, sweep.len())))),
        None => Ok((Some(sweep), None)),
    }
}

/// The report's folder name: pods splitting a sweep write side by side, each
/// folder naming its point.
fn folder(name: &str, sweep: Option<&Sweep>, point: Option<(u32, usize)>) -> String {
    match (sweep, point) {
        (Some(s), Some((i, n))) => format!("{name}-sim-{}-point{i}of{n}", s.option()),
        _ => format!("{name}-sim"),
    }
}

/// The sweep of point `i` alone: its report is the sweep's report cut to that
/// point, so machines that split a sweep by point each write one point.
fn one_point(sweep: &Sweep, i: u32) -> Result<Sweep, String> {
    let n = sweep.len();
    let i = usize::try_from(i).unwrap_or(usize::MAX);
    if i >= n {
        return Err(format!(
            "point {i} is not one of the sweep's {n} points of {}: points go from 0 to {}",
            sweep.option(),
            n - 1
        ));
    }
    Ok(match sweep {
        Sweep::Ttl(v) => Sweep::Ttl(vec![v[i]]),
        Sweep::StaleWhileRevalidate(v) => Sweep::StaleWhileRevalidate(vec![v[i]]),
        Sweep::StaleIfError(v) => Sweep::StaleIfError(vec![v[i]]),
        Sweep::Coalesce(v) => Sweep::Coalesce(vec![v[i]]),
        Sweep::PurgeOnPublish(v) => Sweep::PurgeOnPublish(vec![v[i]]),
        Sweep::MaxEntries(v) => Sweep::MaxEntries(vec![v[i]]),
        Sweep::KeyScope(v) => Sweep::KeyScope(vec![v[i]]),
        Sweep::Eviction(v) => Sweep::Eviction(vec![v[i]]),
    })
}

/// Ctrl-C asks the simulation to stop; it then reports what it simulated.
fn stop_on_ctrl_c(control: &Arc<SimControl>) {
    let control = control.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            control.stop();
        }
    });
}

/// A progress bar of virtual time on a terminal; elsewhere (a log, CI) a
/// line a second once the simulation has run for a second.
fn show_progress(control: &SimControl, total_us: u64, done: &AtomicBool) {
    let total = total_us.max(1);
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = ProgressBar::new(total / 1000);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent}% of virtual time, eta {eta}",
            )
            .expect("a valid template"),
        );
        bar
    });
    let started = std::time::Instant::now();
    let mut last_line = started;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let at = control.progress_us().min(total);
        if let Some(bar) = &bar {
            bar.set_position(at / 1000);
        } else if last_line.elapsed() >= Duration::from_secs(1) {
            last_line = std::time::Instant::now();
            eprintln!(
                "sim: {:.0}% of virtual time after {:.0} s",
                at as f64 * 100.0 / total as f64,
                started.elapsed().as_secs_f64()
            );
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// Hit rate, stale and wrong shares and renders per sweep value and architecture.
fn sweep_table(_report: &Report, s: &ttlab_reports::SweepReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "sweep of {}: hit rate / stale (variant + content) / wrong / origin renders\n",
        s.option
    );
    for p in &s.points {
        let _ = write!(out, "  {:<8}", p.value);
        for a in &p.architectures {
            let hit = a.layer.as_ref().map_or(0.0, |l| l.hit_rate);
            let stale = a.rate("stale_variant") + a.rate("stale_content");
            let _ = write!(
                out,
                "  {}: {:.1}% / {:.2}% / {:.2}% / {}",
                a.name,
                hit * 100.0,
                stale * 100.0,
                a.rate("wrong_variant") * 100.0,
                a.origin.renders
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_sweep;
    use ttlab_scenarios::model::Sweep;

    #[test]
    fn a_sweep_takes_its_values_in_order() {
        let Ok(Sweep::Ttl(v)) = parse_sweep("ttl=0s, 5s,30s") else {
            panic!("ttl sweep parses");
        };
        assert_eq!(v.len(), 3);
        assert!(v[0] < v[1] && v[1] < v[2]);
    }

    #[test]
    fn an_empty_value_is_refused_not_skipped() {
        let e = parse_sweep("ttl=5s,,6s").unwrap_err();
        assert!(e.starts_with("--sweep ttl: value 2 of 3 is empty"), "{e}");
        let e = parse_sweep("ttl=5s,6s,").unwrap_err();
        assert!(e.contains("value 3 of 3 is empty"), "{e}");
    }

    #[test]
    fn an_eviction_sweep_takes_the_policies_by_name() {
        let Ok(Sweep::Eviction(v)) = parse_sweep("eviction=lru,sieve,w-tinylfu") else {
            panic!("an eviction sweep");
        };
        assert_eq!(
            v.iter().map(|e| e.name()).collect::<Vec<_>>(),
            ["lru", "sieve", "w-tinylfu"]
        );
        let e = parse_sweep("eviction=lru,arc").unwrap_err();
        assert!(e.contains("\"arc\" is not one of"), "{e}");
    }

    #[test]
    fn every_sweep_error_names_the_flag() {
        for bad in [
            "ttl",
            "ttl=5s",
            "ttl=5s,soon",
            "coalesce=true,maybe",
            "max_entries=10,0",
            "key_scope=all,none",
            "colour=red,blue",
        ] {
            let e = parse_sweep(bad).unwrap_err();
            assert!(e.starts_with("--sweep"), "{bad}: {e}");
        }
    }
}
