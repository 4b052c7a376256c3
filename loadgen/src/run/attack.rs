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

/// The plan's users against `host` for its duration (or its page views
/// each), all started within the first second, no controllers, no report
/// of its own; every page view judged and recorded in `ctx`.
pub(super) async fn attack(host: &str, plan: Plan, ctx: Arc<RunContext>) -> Result<(), RunError> {
    let users = plan.users;
    let mut config = GooseConfiguration::default();
    config.host = Some(host.to_owned());
    config.users = Some(users as usize);
    // A closed loop's users start over the first second, as the simulator
    // models them; an open pool starts within 10 ms, as the schedule runs
    // from the start.
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
        // An open pool starts at once and runs the whole duration.
        let launch = u64::from(ctx.open.is_none());
        config.run_time = Some(
            plan.duration
                .as_secs()
                .saturating_sub(launch)
                .max(1)
                .to_string(),
        );
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
