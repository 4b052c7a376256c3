//! One architecture of a real run: the mocks and the architecture's
//! servers on loopback, the load against them, and its report.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ttlab_mock_apis::MockConfig;
use ttlab_mock_apis::metrics::{Api, Endpoint};
use ttlab_reports::{ArchReport, LayerReport, OriginLoad, StoreOutage};
use ttlab_scenarios::model::ArchitectureConfig;
use ttlab_scenarios::{Micros, SystemClock, World};
use ttlab_ssr_origin::stack::{StackView, start_stack};
use ttlab_ssr_origin::upstream::UpstreamConfig;

use super::context::RunContext;
use super::error::RunError;
use super::generate::generate;
use super::live_tick::LiveTick;
use super::open::OpenState;
use super::options::{Plan, RunOptions};
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
    let clock = SystemClock::starting_now();
    let shared_clock = Arc::new(clock);
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
        clock,
        checker: Checker::new(world.clone()),
        pages: PagePicker::new(s),
        recorder: Mutex::new(Recorder::tapped(live.is_some())),
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
    });
    // Origin load sampled each second, cumulative, for the series.
    let samples: Arc<Mutex<Vec<OriginLoad>>> = Arc::default();
    // The live view's frames come from the same tick: the recorder's tap,
    // the origin load and the layer's answers since the previous one.
    let tick_live = Arc::new(LiveTick {
        live,
        ctx: ctx.clone(),
        view: stack.view.clone(),
        before: Mutex::default(),
    });
    tick_live.start();
    let sampler = {
        let (view, mock_state, samples) =
            (stack.view.clone(), mocks.state.clone(), samples.clone());
        let tick_live = tick_live.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let load = origin_load(&view, &mock_state);
                let mut samples = samples.lock().expect("samples");
                tick_live.tick(&samples, &load);
                samples.push(load);
            }
        })
    };
    let generated = generate(stack.entry_url.clone(), plan, ctx.clone()).await;
    let (outcome, elapsed, cpu) = (generated.outcome, generated.elapsed, generated.cpu);

    sampler.abort();
    // Let in-flight webhook deliveries and refreshes settle before reading counters.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let origin = origin_load(&stack.view, &mocks.state);
    {
        let mut samples = samples.lock().expect("samples");
        tick_live.tick(&samples, &origin);
        samples.push(origin.clone());
    }
    let layer = stack_layer_report(&stack.view, cache_layer.unwrap_or("origin"));
    let replicas = stack.origin_urls.len() as u32;
    stack.shutdown().await;
    mocks.shutdown().await;
    outcome?;
    let rec = ctx.recorder.lock().expect("recorder");
    let samples = samples.lock().expect("samples").clone();
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
        let counts = open.counts();
        if let Some(w) = super::open::drop_warning(&counts) {
            report.warnings.push(w);
        }
        report.arrivals = Some(counts);
    }
    Ok(report)
}

/// The caching layer's part of the report (none for `ssr-nocache`): its
/// counters over every replica, its backend and the store's outages.
fn stack_layer_report(view: &StackView, name: &str) -> Option<LayerReport> {
    let c = view.cache_counters()?;
    let mut l = LayerReport::new(name, c.snapshot());
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

/// Origin load so far: the origin's counters and the mocks' answers.
fn origin_load(stack: &StackView, mocks: &ttlab_mock_apis::MockState) -> OriginLoad {
    let m = &mocks.metrics;
    OriginLoad {
        requests: stack.origin_requests(),
        renders: stack.origin_renders(),
        personalize_calls: m.requests(Api::Personalize, Endpoint::Manifest),
        delivery_calls: m.requests(Api::Delivery, Endpoint::Entry)
            + m.requests(Api::Delivery, Endpoint::Entries),
    }
}
