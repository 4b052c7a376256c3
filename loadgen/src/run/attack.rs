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
    // models them; an open pool starts within 10 ms, before its first visit.
    let per_second = if ctx.open.is_some() {
        users.max(1) * 100
    } else {
        users.max(1)
    };
    config.increase_rate = Some(per_second.to_string());
    // Each user's whole run is one goose iteration whenever the run has an
    // end of its own: `n` page views, or the scenario's duration on the
    // run's clock (which starts when the users are up). Goose then ends the
    // attack as the last user finishes, instead of idling out a run time
    // counted in whole seconds from before the users were up (two seconds
    // per architecture, measured). Goose refuses `run_time` and
    // `no_reset_metrics` with iterations; its metrics are unused.
    // A target's run (no stop on the clock) lasts the duration from the
    // users' start, which takes about a second.
    let whole_run = plan.page_views.is_some() || ctx.stop_at.is_some();
    if whole_run {
        config.iterations = Some(1);
    } else {
        let secs = plan.duration.as_secs();
        config.run_time = Some(secs.saturating_sub(1).max(1).to_string());
        config.no_reset_metrics = true;
    }

    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.no_autostart = false;
    let attack = GooseAttack::initialize_with_config(config)
        .map_err(|e| RunError::Goose(format!("{e:?}")))?;
    let attack = attack
        .register_scenario(scenario!("visitors").register_transaction(
            transaction(ctx, plan.page_views, whole_run).set_name("visitor"),
        ));
    Box::pin(attack.execute())
        .await
        .map_err(|e| RunError::Goose(format!("{e:?}")))?;
    Ok(())
}

/// The transaction of the run whose context is `ctx`: a closed-loop
/// user's page view, or an open pool's visit; with `whole_run`, the user's
/// whole run in one transaction: `page_views` of them when given, else
/// until the scenario's end, or until the run is stopped. A closure over
/// `ctx` (a goose transaction is any shared `Fn` returning a boxed future),
/// so each run's users reach their own run without a registry.
fn transaction(ctx: Arc<RunContext>, page_views: Option<u32>, whole_run: bool) -> Transaction {
    Transaction::new(Arc::new(move |user| {
        let ctx = ctx.clone();
        Box::pin(async move {
            if !whole_run {
                return step(&ctx, user).await;
            }
            let mut result = Ok(());
            let mut done = 0;
            while page_views.is_none_or(|n| done < n)
                && !ctx.over()
                && !goose::is_killswitch_triggered()
            {
                let outcome = step(&ctx, user).await;
                if result.is_ok() {
                    result = outcome;
                }
                done += 1;
            }
            result
        })
    }))
}

/// One step of a user: a closed-loop user's page view, or an open pool's
/// visit.
async fn step(ctx: &RunContext, user: &mut GooseUser) -> TransactionResult {
    if ctx.open.is_some() {
        open_visit(ctx, user).await
    } else {
        page_view(ctx, user).await
    }
}
