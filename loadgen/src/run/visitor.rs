//! The goose transaction: one page view of the visitor script, judged.

use std::sync::atomic::Ordering;

use goose::prelude::*;
use ttlab_scenarios::token;

use super::context::RunContext;
use crate::script::Session;

/// Sends the visitor's attribute changes that fell due, as the SDK's
/// `set()` does: `PATCH /user-attributes` with a JSON body and no
/// Content-Type. The mocks answer from the timeline either way; this makes
/// the calls the real system would see.
async fn send_attribute_changes(ctx: &RunContext, visitor: u32) {
    let now = ctx.clock_now();
    let changes = ctx.world.changes(visitor);
    let sent = &ctx.sent_changes[visitor as usize];
    let from = sent.load(Ordering::Relaxed) as usize;
    let due = changes[from..].iter().take_while(|c| c.at <= now).count();
    if due == 0 {
        return;
    }
    sent.store((from + due) as u32, Ordering::Relaxed);
    let attrs = &ctx.world.scenario().attributes;
    let mut body = serde_json::Map::new();
    for c in &changes[from..from + due] {
        let a = &attrs[c.attribute];
        body.insert(
            a.name.clone(),
            a.values[usize::from(c.value)].clone().into(),
        );
    }
    let result = ctx
        .http
        .patch(format!("{}/user-attributes", ctx.personalize_url))
        .header("x-project-uid", "ttlab-project")
        .header("x-cs-personalize-user-uid", ctx.world.uid(visitor).as_str())
        .body(serde_json::Value::Object(body).to_string())
        .send()
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "attribute update failed");
    }
    ctx.recorder.lock().expect("recorder").attribute_updates += 1;
}

/// One page view of a closed-loop user: its script's next page, judged,
/// then its think time.
pub(super) async fn page_view(ctx: &RunContext, user: &mut GooseUser) -> TransactionResult {
    if ctx.over() {
        // The scenario's time is up: the user's run is over.
        return Ok(());
    }
    if user.get_session_data::<Session>().is_none() {
        // The first user up starts the timeline; the others follow over
        // its first second, as the simulator starts them.
        if let Some(gate) = &ctx.gate {
            gate.start();
        }
        let global = ctx.share.user(user.weighted_users_index as u32);
        let session = Session::new(&ctx.world, global, ctx.users);
        user.set_session_data(session);
    }
    let (visitor, page, think) = user
        .get_session_data_mut::<Session>()
        .expect("set above")
        .next(&ctx.world, &ctx.pages);
    let result = view(ctx, user, visitor, page, None).await;
    // No think past the scenario's end: nothing is sent after it, and the
    // user's run ends there.
    let think = match ctx.stop_at {
        Some(end) => think.min(end.saturating_sub(ctx.clock_now())),
        None => think,
    };
    if think > ttlab_scenarios::Micros::ZERO {
        ctx.pause(think).await;
    }
    result
}

/// Visitor `visitor` views `page`: send the visitor's cookie, judge the
/// answer, record it. Latency counts from `planned` when given (an open
/// loop's planned instant, so a late send shows as latency), else from the
/// send. Returns when the answer is judged, with the instant it came.
pub(super) async fn view(
    ctx: &RunContext,
    user: &mut GooseUser,
    visitor: u32,
    page: u32,
    planned: Option<ttlab_scenarios::Micros>,
) -> TransactionResult {
    send_attribute_changes(ctx, visitor).await;
    let uid = ctx.world.uid(visitor).to_string();
    let path = ctx.world.scenario().content.pages[page as usize]
        .path
        .clone();
    // Several origin replicas: this visitor's own, by an absolute URL
    // (goose uses it as is).
    let url = match ctx.entry_urls.len() {
        0 | 1 => path.clone(),
        n => {
            let replica = ttlab_scenarios::model::replica_of(visitor, n as u32);
            format!("{}{path}", ctx.entry_urls[replica as usize])
        }
    };
    let rb = user
        .get_request_builder(&GooseMethod::Get, &url)?
        .header("cookie", format!("cs-personalize-user-uid={uid}"));
    let sent = ctx.clock_now();
    let mut goose = user
        .request(GooseRequest::builder().set_request_builder(rb).build())
        .await?;
    let (status, fallback, from_cache, body) = match goose.response {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let fallback = resp.headers().contains_key("x-ttlab-fallback");
            let from_cache = ctx.cache_layer.is_some_and(|layer| {
                if layer == "*" {
                    // An origin ttlab did not write: any HIT or STALE first in x-cache.
                    return resp
                        .headers()
                        .get("x-cache")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| {
                            let first = v.split(',').next().unwrap_or("").to_ascii_uppercase();
                            first.contains("HIT") || first.contains("STALE")
                        });
                }

                resp.headers()
                    .get("x-cache")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .is_some_and(|first| {
                        let first = first.trim();
                        first == format!("{layer}=HIT") || first == format!("{layer}=STALE")
                    })
            });
            if let (Some(tally), Some(layer)) = (&ctx.tally, ctx.cache_layer) {
                count_outcome(tally, layer, resp.headers());
            }
            let body = resp.text().await.unwrap_or_default();
            (status, fallback, from_cache, body)
        }
        Err(_) => (599, false, false, String::new()),
    };
    let received = ctx.clock_now();
    let tokens = token::parse(&body);
    let verdict = ctx.checker.judge(&crate::check::Observation {
        visitor,
        sent,
        received,
        status,
        fallback,
        tokens: &tokens,
    });
    ctx.recorder.lock().expect("recorder").record(
        (received.0 / 1_000_000) as usize,
        verdict.class,
        received.saturating_sub(planned.unwrap_or(sent).min(sent)).0,
        from_cache,
        verdict.staleness.map(|s| s.0),
    );
    if verdict.class == crate::check::Class::Fresh {
        Ok(())
    } else {
        let tag = format!(
            "{} {path}: {}",
            verdict.class.as_str(),
            verdict.detail.as_deref().unwrap_or("")
        );
        user.set_failure(&tag, &mut goose.request, None, None)
    }
}

/// Counts one answer of a cache that is not ttlab's (Varnish) by its
/// `x-cache` part for `layer`, as ttlab's layers count their own answers:
/// the counts come from what visitors were served.
fn count_outcome(
    tally: &ttlab_ssr_origin::cache::LayerCounters,
    layer: &str,
    headers: &reqwest::header::HeaderMap,
) {
    let outcome = headers
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|first| first.trim().strip_prefix(layer)?.strip_prefix('='))
        .and_then(ttlab_ssr_origin::cache::CacheOutcome::parse);
    if let Some(o) = outcome {
        tally.count(o);
    }
}
