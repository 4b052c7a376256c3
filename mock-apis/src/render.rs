//! An entry as the Delivery API (CDA) renders it, with content tokens in its
//! text fields: what the Delivery handlers answer and what a publish webhook
//! carries, so both render an entry the same way.
//!
//! Every entry carries content tokens in its text fields (see
//! `ttlab_scenarios::token`), naming entry, served variant and version, so
//! that any origin that renders the fields makes pages ttlab can judge.

use serde_json::{Map, Value, json};
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::{EntryIdx, VariantRef};
use ttlab_scenarios::token::EntryToken;
use xxhash_rust::xxh3::xxh3_64;

use crate::state::MockState;

/// The variant uid of an alias: stable, shaped like Contentstack's (`cs…`).
pub fn variant_uid(alias: &str) -> String {
    format!("cs{:016x}", xxh3_64(alias.as_bytes()))
}

/// An entry as the CDA returns it, with `variant`'s fields over the base
/// entry's and content tokens in its text fields.
pub fn render_entry(
    state: &MockState,
    entry: EntryIdx,
    variant: Option<VariantRef>,
    t: Micros,
) -> Value {
    let world = &state.world;
    let e = &world.scenario().content.entries[entry as usize];
    let locale = &world.scenario().content.locale;
    let base_version = world.entry_version(entry, None, t);
    let version = world.entry_version(entry, variant, t);
    let alias = variant.map(|v| world.alias(v));
    let token = EntryToken {
        entry: e.uid.clone(),
        variant: alias.clone(),
        version,
    };
    let label = alias
        .as_deref()
        .map_or(String::new(), |a| format!(" ({a})"));
    let env_uid = environment_uid(&state.config.environment);
    let published = state.timestamp(
        world
            .last_publish(entry, variant, t)
            .unwrap_or(Micros::ZERO),
    );
    let mut publish_details = json!({
        "environment": env_uid,
        "locale": locale,
        "time": published,
        "user": "blt-ttlab-publisher",
    });
    if let Some(a) = &alias {
        let mut variants = Map::new();
        variants.insert(
            variant_uid(a),
            json!({ "alias": a, "environment": env_uid, "locale": locale, "time": published, "version": version }),
        );
        publish_details["variants"] = Value::Object(variants);
    }
    json!({
        "uid": e.uid,
        "_version": base_version,
        "locale": locale,
        "title": format!("{} {}{label} v{version} {token}", e.content_type, e.uid),
        "body": format!("<p>Content of {} {}{label}, version {version}. {token}</p>", e.content_type, e.uid),
        "tags": [],
        "ACL": {},
        "_in_progress": false,
        "created_at": state.timestamp(Micros::ZERO),
        "created_by": "blt-ttlab-author",
        "updated_at": published,
        "updated_by": "blt-ttlab-author",
        "publish_details": publish_details,
    })
}

/// The environment's uid, as publish details carry it.
pub fn environment_uid(name: &str) -> String {
    format!("blt{:016x}", xxh3_64(name.as_bytes()))
}
