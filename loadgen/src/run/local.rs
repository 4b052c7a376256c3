//! One architecture of a real run: the mocks and the architecture's
//! servers on loopback, the load against them, and its report.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ttlab_mock_apis::MockConfig;
use ttlab_reports::{ArchReport, LayerCounts, LayerReport, StoreOutage};
use ttlab_scenarios::model::ArchitectureConfig;
use ttlab_scenarios::{GateClock, Micros, World};
use ttlab_ssr_origin::stack::{StackView, start_stack};
use ttlab_ssr_origin::upstream::UpstreamConfig;

use super::context::RunContext;
use super::error::RunError;
use super::generate::generate;
use super::live_tick::LiveTick;
use super::options::{Plan, RunOptions};
use super::pool::OpenState;
use super::sampler::{Sampler, after_warmup, origin_load};
use crate::check::Checker;
use crate::live::Live;
use crate::record::Recorder;
use crate::report::arch_report;
use crate::script::{PagePicker, Share};

/// Runs architecture `arch` of the world's scenario on loopback with the
/// plan's users; `live` gets a frame a second as architecture `live.1`.
pub(super) async fn run_arch(
    world: Arc<World>,
    arch: &ArchitectureConfig,
    users: u32,
    opts: &RunOptions,
    plan: Plan,
    live: Option<(Arc<Live>, usize)>,
) -> Result<ArchReport, RunError> {
    let s = world.scenario();
    let warmup_s = ttlab_reports::markers::warmup_seconds(s.warmup);
    // The timeline starts when goose's users are up: the users start it.
    let gate = Arc::new(GateClock::default());
    let shared_clock: Arc<dyn ttlab_scenarios::Clock> = gate.clone();
    let mocks =
        ttlab_mock_apis::start(world.clone(), shared_clock.clone(), MockConfig::default()).await?;
    let upstream =
        UpstreamConfig::for_mocks(&mocks.personalize_url, &mocks.delivery_url, &s.origin);
    let stack = start_stack(
        world.clone(),
        shared_clock.clone(),
        arch,
        upstream,
        "127.0.0.1".parse().expect("loopback"),
    )
    .await?;
    if let Some(url) = &stack.webhook_url {
        mocks.state.webhook_urls_add(url);
    }
    let cache_layer = stack.topology.cache_name();
    let ctx = Arc::new(RunContext {
        world: world.clone(),
        clock: shared_clock.clone(),
        gate: Some(gate.clone()),
        checker: Checker::new(world.clone()),
        pages: PagePicker::new(s),
        recorder: Mutex::new(Recorder::tapped(live.is_some()).warming(warmup_s)),
        sent_changes: (0..s.traffic.visitors)
            .map(|_| AtomicUsize::new(0))
            .collect(),
        personalize_url: mocks.personalize_url.clone(),
        cache_layer,
        entry_urls: stack.entry_urls.clone(),
        users,
        share: opts.share.unwrap_or(Share::ALL),
        http: reqwest::Client::new(),
        open: OpenState::of(&world, plan.users, opts.share.unwrap_or(Share::ALL)),
        stop_at: plan.page_views.is_none().then_some(s.duration),
    });
    // The live view's frames come from the sampler's tick: the recorder's
    // tap, the origin load and the layer's answers since the previous one.
    let tick_live = Arc::new(LiveTick {
        live,
        ctx: ctx.clone(),
        view: stack.view.clone(),
        before: Mutex::default(),
    });
    tick_live.start();
    // Origin load sampled each second, cumulative, for the series; and
    // the layer's counters when warm-up ended, to take off the headline.
    let sampler = Sampler::spawn(
        stack.view.clone(),
        mocks.state.clone(),
        tick_live.clone(),
        gate.clone(),
        warmup_s,
    );
    let generated = generate(stack.entry_url.clone(), plan, ctx.clone()).await;
    let (outcome, cpu) = (generated.outcome, generated.cpu);
    // The run's length on its clock (from when the users were up), as the
    // simulator counts it: goose idles a little past the end, and a
    // `--page-views` run ends when its users are done.
    let elapsed = match ctx.stop_at {
        Some(end) => ctx.clock_now().min(end).to_duration(),
        None => ctx.clock_now().to_duration(),
    };

    sampler.task.abort();
    // Let in-flight webhook deliveries and refreshes settle before reading counters.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let origin = origin_load(&stack.view, &mocks.state);
    {
        let mut samples = sampler.samples.lock().expect("samples");
        tick_live.tick(&samples, &origin);
        samples.push(origin.clone());
    }
    let warm_layer = sampler
        .warm_layer
        .lock()
        .expect("warm layer")
        .unwrap_or_default();
    let layer = stack_layer_report(&stack.view, cache_layer.unwrap_or("origin"), &warm_layer);
    let replicas = stack.origin_urls.len() as u32;
    stack.shutdown().await;
    mocks.shutdown().await;
    outcome?;
    let rec = ctx.recorder.lock().expect("recorder");
    let samples = sampler.of_run(elapsed);
    let origin = after_warmup(origin, &samples, warmup_s);
    let mut report = arch_report(
        arch.arch.as_str(),
        &rec,
        origin,
        layer,
        elapsed,
        Some(cpu),
        &samples,
    );
    report.origin_replicas = replicas;
    if let Some(open) = &ctx.open {
        let counts = open.finish(&world, ctx.clock_now());
        if let Some(w) = super::pool::drop_warning(&counts) {
            report.warnings.push(w);
        }
        report.arrivals = Some(counts);
    }
    Ok(report)
}

/// The caching layer's part of the report (none for `ssr-nocache`): its
/// counters over every replica since `warm` (the end of warm-up), its
/// backend and the store's outages.
fn stack_layer_report(view: &StackView, name: &str, warm: &LayerCounts) -> Option<LayerReport> {
    let c = view.cache_counters()?;
    let mut l = LayerReport::new(name, c.snapshot().since(warm));
    l.backend = view.backend().filter(|b| *b != "memory").map(str::to_owned);
    l.store_outages = view
        .store_outages()
        .iter()
        .map(|o| StoreOutage {
            from_s: o.from.as_secs_f64(),
            until_s: o.until.map(Micros::as_secs_f64),
        })
        .collect();
    Some(l)
}
