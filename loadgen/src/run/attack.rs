//! Goose, embedded: the load test of one run, its one transaction bound to
//! the run's context.

use std::sync::Arc;

use goose::config::GooseConfiguration;
use goose::prelude::*;

use super::context::RunContext;
use super::error::RunError;
use super::open::open_visit;
use super::options::Plan;
use super::visitor::page_view;

/// Seconds goose's run time gets beyond the scenario's duration, for its
/// users to start (about 1.2 s measured in debug builds; users idle once the
/// clock passes the duration).
const GOOSE_STARTUP_ALLOWANCE: u64 = 2;

/// The plan's users against `host` for its duration (or its page views
/// each), all started within the first second, no controllers, no report
/// of its own; every page view judged and recorded in `ctx`.
pub(super) async fn attack(host: &str, plan: Plan, ctx: Arc<RunContext>) -> Result<(), RunError> {
    let users = plan.users;
    let mut config = GooseConfiguration::default();
    config.host = Some(host.to_owned());
    config.users = Some(users as usize);
    // A closed loop's users start over the first second, as the simulator
    // models them; an open pool starts within 10 ms, before its first visit.
    let per_second = if ctx.open.is_some() {
        users.max(1) * 100
    } else {
        users.max(1)
    };
    config.increase_rate = Some(per_second.to_string());
    if let Some(n) = plan.page_views {
        // One iteration of the scenario is one page view; goose ends the
        // attack when every user has made its `n` (it refuses `run_time`
        // and `no_reset_metrics` with iterations; its metrics are unused).
        config.iterations = Some(n as usize);
    } else {
        // goose starts users over the first second and then runs `run_time`:
        // together they make the scenario's duration, as the simulator models it.
        // A local run's clock starts when its users are up (goose takes
        // about a second to start them) and its users stop sending at the
        // scenario's end on that clock; goose's run time, counted from
        // about the attack's start, only needs to outlast both.
        // A target's run (no stop on the clock) lasts the duration from
        // the users' start, which takes about a second.
        let secs = plan.duration.as_secs();
        let run_time = if ctx.stop_at.is_some() {
            secs + GOOSE_STARTUP_ALLOWANCE
        } else {
            secs.saturating_sub(1).max(1)
        };
        config.run_time = Some(run_time.to_string());
        config.no_reset_metrics = true;
    }

    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.no_autostart = false;
    let attack = GooseAttack::initialize_with_config(config)
        .map_err(|e| RunError::Goose(format!("{e:?}")))?;
    let attack = attack.register_scenario(
        scenario!("visitors").register_transaction(transaction(ctx).set_name("page view")),
    );
    Box::pin(attack.execute())
        .await
        .map_err(|e| RunError::Goose(format!("{e:?}")))?;
    Ok(())
}

/// The transaction of the run whose context is `ctx`: a closed-loop
/// user's page view, or an open pool's visit. A closure over `ctx` (a goose
/// transaction is any shared `Fn` returning a boxed future), so each run's
/// users reach their own run without a registry.
fn transaction(ctx: Arc<RunContext>) -> Transaction {
    if ctx.open.is_some() {
        return Transaction::new(Arc::new(move |user| {
            let ctx = ctx.clone();
            Box::pin(async move { open_visit(&ctx, user).await })
        }));
    }
    Transaction::new(Arc::new(move |user| {
        let ctx = ctx.clone();
        Box::pin(async move { page_view(&ctx, user).await })
    }))
}
