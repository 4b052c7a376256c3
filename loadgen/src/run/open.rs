//! The arrival-rate executor's transaction: one planned visit of the
//! pool's (see [`super::pool`] for the schedule it shares and why visits
//! are dropped, not sent late).

use std::sync::atomic::Ordering;

use goose::prelude::*;
use ttlab_scenarios::Micros;

use super::context::RunContext;
use super::visitor::view;

/// One visit of the pool's: wait for its instant, browse its pages with
/// think time, each judged. When the schedule is done the user idles to the
/// end of the run (goose ends it).
pub(super) async fn open_visit(ctx: &RunContext, user: &mut GooseUser) -> TransactionResult {
    let open = ctx.open.as_ref().expect("an open run");
    if user.get_session_data::<bool>().is_none() {
        user.set_session_data(true);
        let n = open.started.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= u64::from(open.pool) {
            if let Some(gate) = &ctx.gate {
                gate.start();
            }
            open.ready_at.store(ctx.clock_now().0, Ordering::Relaxed);
        }
        // Visits are due on the clock the last user starts: wait for it.
        while ctx.gate.as_ref().is_some_and(|g| !g.started()) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
    let Some(visit) = open.take(&ctx.world, ctx.clock_now()) else {
        let end = ctx.world.scenario().duration;
        let left = end.saturating_sub(ctx.clock_now());
        ctx.pause(left.saturating_add(Micros::from_millis(100)))
            .await;
        return Ok(());
    };
    let wait = visit.at.saturating_sub(ctx.clock_now());
    if wait > Micros::ZERO {
        ctx.pause(wait).await;
    }
    if goose::is_killswitch_triggered() {
        return Ok(());
    }
    let mut session = visit.session;
    let mut planned = visit.at;
    let end = ctx.world.scenario().duration;
    let mut result = Ok(());
    loop {
        let (visitor, page, think) = session.next(&ctx.world, &ctx.pages);
        let outcome = view(ctx, user, visitor, page, Some(planned)).await;
        if result.is_ok() {
            result = outcome;
        }
        if session.left() == 0 {
            break;
        }
        planned = ctx.clock_now().saturating_add(think);
        if planned >= end {
            break;
        }
        ctx.pause(think).await;
        if goose::is_killswitch_triggered() {
            break;
        }
    }
    result
}
