//! An entry as the Delivery API (CDA) renders it, with content tokens in its
//! text fields: what the Delivery handlers answer and what a publish webhook
//! carries, so both render an entry the same way.
//!
//! Every entry carries content tokens in its text fields (see
//! `ttlab_scenarios::token`), naming entry, served variant and version, so
//! that any origin that renders the fields makes pages ttlab can judge.
//!
//! Two renders share the rules here — which variant applies, the token, the
//! variant's label, `publish_details` and the uids: [`render_entry`] for a
//! scenario's synthetic entries (`title` and `body` only), and
//! `export_render` for the entries of a stack export in their full shapes.

use serde_json::{Map, Value, json};
use ttlab_scenarios::model::{EntryIdx, VariantRef};
use ttlab_scenarios::token::EntryToken;
use ttlab_scenarios::{Micros, World};
use xxhash_rust::xxh3::xxh3_64;

use crate::state::MockState;

/// The variant uid of an alias: stable, shaped like Contentstack's (`cs…`).
pub fn variant_uid(alias: &str) -> String {
    format!("cs{:016x}", xxh3_64(alias.as_bytes()))
}

/// The environment's uid, as publish details carry it, for an environment
/// the scenario does not describe (without an export, or one the export
/// lacks): made from its name, stable across runs.
pub fn environment_uid(name: &str) -> String {
    format!("blt{:016x}", xxh3_64(name.as_bytes()))
}

/// The uid of the environment the mocks serve: the export's, when it has an
/// environment of that name (as the real API answers it), else
/// [`environment_uid`] of the name.
pub fn served_environment_uid(state: &MockState) -> String {
    let name = &state.config.environment;
    state
        .export()
        .and_then(|x| x.environments.iter().find(|e| &e.name == name))
        .map_or_else(|| environment_uid(name), |e| e.uid.clone())
}

/// The variant whose variant uid (see [`variant_uid`]) is `uid`.
pub fn variant_of_uid(world: &World, uid: &str) -> Option<VariantRef> {
    world
        .scenario()
        .experiences
        .iter()
        .enumerate()
        .find_map(|(e, exp)| {
            (0..exp.variants.len()).find_map(|v| {
                let r = VariantRef {
                    experience: e as u16,
                    variant: v as u16,
                };
                (variant_uid(&world.alias(r)) == uid).then_some(r)
            })
        })
}

/// The entry's variant that applies: the first requested one the entry has.
pub fn applied_variant(
    world: &World,
    entry: EntryIdx,
    requested: &[VariantRef],
) -> Option<VariantRef> {
    let has = &world.scenario().content.entries[entry as usize].variants;
    requested.iter().find(|r| has.contains(r)).copied()
}

/// The content token of `entry` served as `variant` at `t`.
pub fn token(world: &World, entry: EntryIdx, variant: Option<VariantRef>, t: Micros) -> EntryToken {
    EntryToken {
        entry: world.scenario().content.entries[entry as usize].uid.clone(),
        variant: variant.map(|v| world.alias(v)),
        version: world.entry_version(entry, variant, t),
    }
}

/// How a variant is named in the text of an export entry's variant: its
/// name in the scenario, or its alias when it has none (A/B variants).
pub fn variant_name(world: &World, v: VariantRef) -> String {
    let exp = &world.scenario().experiences[usize::from(v.experience)];
    match exp.variant_names.get(usize::from(v.variant)) {
        Some(name) if !name.is_empty() => name.clone(),
        _ => world.alias(v),
    }
}

/// `publish_details` of `entry` served as `variant` at `t`, in `locale`:
/// one object for the served environment, as the CDA answers it, with
/// `variants` (keyed by variant uid, each with its `alias`) when a variant
/// is served.
pub fn publish_details(
    state: &MockState,
    entry: EntryIdx,
    variant: Option<VariantRef>,
    t: Micros,
    locale: &str,
) -> Value {
    let world = &state.world;
    let env_uid = served_environment_uid(state);
    let published = state.timestamp(
        world
            .last_publish(entry, variant, t)
            .unwrap_or(Micros::ZERO),
    );
    let mut details = json!({
        "environment": env_uid,
        "locale": locale,
        "time": published,
        "user": "blt-ttlab-publisher",
    });
    if let Some(v) = variant {
        let alias = world.alias(v);
        let version = world.entry_version(entry, variant, t);
        let mut variants = Map::new();
        variants.insert(
            variant_uid(&alias),
            json!({ "alias": alias, "environment": env_uid, "locale": locale, "time": published, "version": version }),
        );
        details["variants"] = Value::Object(variants);
    }
    details
}

/// What a page prints of an entry: the `title` and `body` strings the
/// Delivery mock answers for it (empty where it answers no string there).
///
/// One rule for the servers and the simulator: the mock answers these
/// fields, the origin prints them into its page, and the simulator sizes a
/// page for a store's `max_bytes` from the same text, so its pages weigh in
/// a simulated store what they weigh in a real one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryText {
    /// The entry's `title`.
    pub title: String,
    /// The entry's `body`.
    pub body: String,
}

/// Synthetic entry `entry`'s `title` and `body` for its content token: its content
/// type and uid, the served variant's alias and the version, and the token.
pub fn synthetic_text(world: &World, entry: EntryIdx, token: &EntryToken) -> EntryText {
    let e = &world.scenario().content.entries[entry as usize];
    let version = token.version;
    let label = token
        .variant
        .as_deref()
        .map_or(String::new(), |a| format!(" ({a})"));
    EntryText {
        title: format!("{} {}{label} v{version} {token}", e.content_type, e.uid),
        body: format!(
            "<p>Content of {} {}{label}, version {version}. {token}</p>",
            e.content_type, e.uid
        ),
    }
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
    let text = synthetic_text(world, entry, &token(world, entry, variant, t));
    let published = state.timestamp(
        world
            .last_publish(entry, variant, t)
            .unwrap_or(Micros::ZERO),
    );
    json!({
        "uid": e.uid,
        "_version": base_version,
        "locale": locale,
        "title": text.title,
        "body": text.body,
        "tags": [],
        "ACL": {},
        "_in_progress": false,
        "created_at": state.timestamp(Micros::ZERO),
        "created_by": "blt-ttlab-author",
        "updated_at": published,
        "updated_by": "blt-ttlab-author",
        "publish_details": publish_details(state, entry, variant, t, locale),
    })
}
