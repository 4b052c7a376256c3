//! Entry-publish webhooks, shaped like Contentstack's, sent as the run clock
//! passes each publish of the scenario's timeline, so caches can purge by tag.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::{EntryIdx, VariantRef};
use ttlab_scenarios::world::EventKind;

use crate::export_render::{Ask, find, render};
use crate::render::{render_entry, served_environment_uid, variant_uid};
use crate::state::MockState;
use crate::webhooks::Webhook;

/// The payload of an entry-publish webhook. The entry is rendered as the
/// Delivery mock answers it — in full, from the export, when the scenario
/// serves one — and the content type is the export's.
pub fn publish_payload(
    state: &MockState,
    entry: EntryIdx,
    variant: Option<VariantRef>,
    at: Micros,
) -> Value {
    let world = &state.world;
    let e = &world.scenario().content.entries[entry as usize];
    let locale = &world.scenario().content.locale;
    let exported = state.export().and_then(|export| {
        let requested: Vec<VariantRef> = variant.into_iter().collect();
        let projections = BTreeMap::new();
        let ask = Ask {
            locale,
            fallback: false,
            includes: &[],
            projections: &projections,
            reference_content_type_uid: false,
            metadata: false,
            requested: &requested,
            t: at,
        };
        let found = find(state, export, &e.content_type, &e.uid, &ask)?;
        let content_type = export.content_type(&e.content_type)?.raw.clone();
        Some((render(state, export, found, &ask), content_type))
    });
    let (mut doc, content_type) = exported.unwrap_or_else(|| {
        (
            render_entry(state, entry, variant, at),
            json!({ "uid": e.content_type, "title": e.content_type }),
        )
    });
    if let Some(v) = variant {
        // A variant publish names the variant in the entry's publish details.
        let alias = world.alias(v);
        doc["publish_details"]["variants"] = json!({ variant_uid(&alias): { "alias": alias } });
    }
    json!({
        "module": "entry",
        "api_key": state.config.api_key,
        "event": "publish",
        "data": {
            "locale": locale,
            "status": "success",
            "action": "publish",
            "entry": doc,
            "content_type": content_type,
            "environment": { "uid": served_environment_uid(state), "name": state.config.environment },
        },
        "triggered_at": state.timestamp(at),
    })
}

/// Queues a webhook for every publish of the timeline at or before `now` not
/// yet sent; returns how many were queued. Called by the timeline ticker and
/// by the control surface.
pub fn deliver_due(state: &MockState, now: Micros) -> usize {
    let urls = state.webhook_urls.read().expect("webhook urls").clone();
    let mut cursor = state.timeline_cursor.lock().expect("timeline cursor");
    let events = state.world.events();
    let mut queued = 0;
    while *cursor < events.len() && events[*cursor].at <= now {
        let ev = &events[*cursor];
        *cursor += 1;
        if let EventKind::Publish { entry, variant } = ev.kind {
            queued += 1;
            if urls.is_empty() {
                continue;
            }
            let payload = publish_payload(state, entry, variant, ev.at);
            let _ = state.webhooks.send(Webhook {
                urls: urls.clone(),
                payload,
            });
        }
    }
    queued
}
