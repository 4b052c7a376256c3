//! An entry of a stack export as the Delivery API (CDA) answers it: the
//! export stores the management API's shape; clients get the delivery
//! shape, every field walked with its content type's schema.
//!
//! - System fields as the CDA answers them: `uid`, `_version`, `locale`,
//!   `tags`, `ACL`, `_in_progress`, `created_*`, `updated_*`, and
//!   `publish_details` as one object for the served environment
//!   (`render::publish_details`, shared with the synthetic render); the
//!   management API's own fields (`_workflow`, the list of publish details)
//!   are not answered.
//! - Files: the asset uid stored becomes the asset (`assets::render_asset`),
//!   its `url` on this mock. References: `[{uid, _content_type_uid}]`, or
//!   the referenced entries rendered the same way when `include[]` names
//!   their path.
//! - Content tokens (`ttlab_scenarios::token`) appended to every non-empty
//!   string a page shows — text of every style and the last text leaf of a
//!   JSON rich text document — in groups, global fields and modular blocks
//!   too; never to a URL, a select or a custom field
//!   (`ttlab_export::Field::carries_token`).
//! - A variant is a partial override of the base entry: each top-level text
//!   field reads `"<base> (<variant name>)"`, the rest is the base's.
//! - `_version` is the export's plus the publishes the run has passed (the
//!   world's version − 1); tokens carry the world's version.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use ttlab_export::{Entry, Export, Field, FieldKind};
use ttlab_scenarios::model::{EntryIdx, VariantRef};
use ttlab_scenarios::token::EntryToken;
use ttlab_scenarios::{Micros, World};

use crate::assets::render_asset;
use crate::render::{
    EntryText, applied_variant, publish_details, served_environment_uid, token, variant_name,
};
use crate::state::MockState;

/// How many levels of references `include[]` expands at most; deeper
/// paths stay references. Paths come from the request, so rendering must
/// not recurse as deep as a client asks.
pub const MAX_INCLUDE_DEPTH: usize = 5;

/// Fields of the management API's shape the CDA does not answer.
const MANAGEMENT_ONLY: [&str; 3] = ["_workflow", "publish_details", "_rules"];

/// Which fields of an entry to answer: the `only[...][]` or `except[...][]`
/// paths for one entry (the base, or the entries of one reference path).
#[derive(Clone, Debug, Default)]
pub struct Projection {
    /// `only`: these paths (and `uid`), nothing else.
    pub only: Vec<String>,
    /// `except`: every field but these paths.
    pub except: Vec<String>,
}

/// What a client asked of a render.
#[derive(Debug)]
pub struct Ask<'a> {
    /// The locale asked for.
    pub locale: &'a str,
    /// `include_fallback`: follow the locale's fallback chain for an entry
    /// it lacks.
    pub fallback: bool,
    /// `include[]` paths, from the asked entry.
    pub includes: &'a [String],
    /// Projections by key: `BASE` for the asked entries, a reference path
    /// (`authors`, `box.author`) for the entries included there.
    pub projections: &'a BTreeMap<String, Projection>,
    /// `include_reference_content_type_uid`: included entries carry
    /// `_content_type_uid`.
    pub reference_content_type_uid: bool,
    /// `include_metadata`: keep `_metadata`.
    pub metadata: bool,
    /// Variants from `x-cs-variant-uid`, in the client's order.
    pub requested: &'a [VariantRef],
    /// Run time the answer is for.
    pub t: Micros,
}

/// The locales to look in for an entry asked in `locale`: that one and,
/// with `fallback`, its fallback chain, ending at the master locale (where
/// Contentstack's chain ends when a fallback lacks the entry too).
pub fn locale_chain<'x>(
    export: &'x Export,
    master: &'x str,
    locale: &'x str,
    fallback: bool,
) -> Vec<&'x str> {
    let mut chain = vec![locale];
    if !fallback {
        return chain;
    }
    let mut at = locale;
    // A chain never visits a locale twice; a cycle in the export ends here.
    while let Some(next) = export.locale(at).and_then(|l| l.fallback.as_deref()) {
        if chain.contains(&next) {
            break;
        }
        chain.push(next);
        at = next;
    }
    if !chain.contains(&master) {
        chain.push(master);
    }
    chain
}

/// Entry `uid` of `ct` as served in `ask.locale`: its own version there or,
/// with fallback, the nearest along the chain.
pub fn find<'x>(
    state: &MockState,
    export: &'x Export,
    ct: &str,
    uid: &str,
    ask: &Ask<'_>,
) -> Option<&'x Entry> {
    let master = master_locale(state, export);
    locale_chain(export, master, ask.locale, ask.fallback)
        .into_iter()
        .find_map(|l| export.entry(ct, uid, l))
}

/// The export's master locale (the scenario's locale when the export does
/// not say).
pub fn master_locale<'x>(state: &'x MockState, export: &'x Export) -> &'x str {
    export
        .master_locale
        .as_deref()
        .unwrap_or(&state.world.scenario().content.locale)
}

/// One entry being rendered.
struct Render<'a> {
    state: &'a MockState,
    export: &'a Export,
    ask: &'a Ask<'a>,
    /// ` [[ttlab:…]]`, for entries of the world.
    token: Option<String>,
    /// ` (<variant name>)`, on top-level text when a variant is served.
    label: Option<String>,
    /// `include[]` paths from this entry.
    includes: Vec<String>,
    /// This entry's path from the asked entry (`""` for it), naming its
    /// references' projections.
    at: String,
    depth: usize,
}

/// `e` as the CDA answers it for `ask`, `BASE` projection applied.
pub fn render(state: &MockState, export: &Export, e: &Entry, ask: &Ask<'_>) -> Value {
    let mut out = render_at(
        state,
        export,
        e,
        ask,
        ask.includes.to_vec(),
        String::new(),
        0,
    );
    if let Some(p) = ask.projections.get("BASE") {
        project(&mut out, p);
    }
    Value::Object(out)
}

fn render_at(
    state: &MockState,
    export: &Export,
    e: &Entry,
    ask: &Ask<'_>,
    includes: Vec<String>,
    at: String,
    depth: usize,
) -> Map<String, Value> {
    let world = &state.world;
    let idx = state.entry_index(&e.content_type, &e.uid);
    let variant = idx.and_then(|i| applied_variant(world, i, ask.requested));
    let r = Render {
        state,
        export,
        ask,
        token: idx.map(|i| format!(" {}", token(world, i, variant, ask.t))),
        label: variant.map(|v| format!(" ({})", variant_name(world, v))),
        includes,
        at,
        depth,
    };
    let schema = export
        .content_type(&e.content_type)
        .map_or(&[][..], |ct| ct.schema.as_slice());
    let mut out = r.fields(schema, &e.doc, "", true);
    for key in MANAGEMENT_ONLY {
        out.remove(key);
    }
    if !ask.metadata {
        out.remove("_metadata");
    }
    system_fields(state, e, idx, variant, ask.t, &mut out);
    out
}

/// The system fields, as the CDA answers them.
fn system_fields(
    state: &MockState,
    e: &Entry,
    idx: Option<EntryIdx>,
    variant: Option<VariantRef>,
    t: Micros,
    out: &mut Map<String, Value>,
) {
    let world = &state.world;
    let published = idx.map(|i| world.entry_version(i, None, t));
    out.insert("uid".to_owned(), json!(e.uid));
    out.insert("locale".to_owned(), json!(e.locale));
    out.insert(
        "_version".to_owned(),
        json!(e.version() + published.map_or(0, |v| v.saturating_sub(1))),
    );
    let author = json!("blt-ttlab-author");
    for (key, default) in [
        ("tags", json!([])),
        ("ACL", json!({})),
        ("_in_progress", json!(false)),
        ("created_at", json!(state.timestamp(Micros::ZERO))),
        ("created_by", author.clone()),
        ("updated_at", json!(state.timestamp(Micros::ZERO))),
        ("updated_by", author),
    ] {
        out.entry(key).or_insert(default);
    }
    let env = served_environment_uid(state);
    let in_run = idx.and_then(|i| world.last_publish(i, variant, t));
    let mut details = match idx {
        Some(i) => publish_details(state, i, variant, t, &e.locale),
        None => json!({ "environment": env, "locale": e.locale, "user": "blt-ttlab-publisher" }),
    };
    if let Some(at) = in_run {
        // Published during the run: updated then.
        out.insert("updated_at".to_owned(), json!(state.timestamp(at)));
    } else {
        // Not since the run began: when and by whom the export says.
        let exported = exported_publish(e, &env);
        details["time"] = exported
            .and_then(|p| p.get("time").cloned())
            .or_else(|| out.get("updated_at").cloned())
            .unwrap_or(Value::Null);
        if let Some(user) = exported.and_then(|p| p.get("user")) {
            details["user"] = user.clone();
        }
    }
    out.insert("publish_details".to_owned(), details);
}

/// The export's publish details of `e` for environment `env` (the
/// management API lists one per environment and locale).
fn exported_publish<'e>(e: &'e Entry, env: &str) -> Option<&'e Map<String, Value>> {
    let matches = |d: &&Map<String, Value>| {
        d.get("environment").and_then(Value::as_str) == Some(env)
            && d.get("locale")
                .and_then(Value::as_str)
                .is_none_or(|l| l == e.locale)
    };
    match e.doc.get("publish_details")? {
        Value::Array(list) => list.iter().filter_map(Value::as_object).find(matches),
        Value::Object(one) => Some(one).filter(matches),
        _ => None,
    }
}

/// A text value with the variant's label (` (<name>)`, top level only) and
/// the token (` [[ttlab:…]]`); an empty one stays empty, so a page that
/// hides empty fields still does.
fn mark(s: &str, top: bool, label: Option<&str>, token: Option<&str>) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = s.to_owned();
    if top && let Some(l) = label {
        out.push_str(l);
    }
    if let Some(t) = token {
        out.push_str(t);
    }
    out
}

/// What the CDA answers for string `s` stored in field `f` of an entry
/// (`None`: a key the schema lacks, answered as stored), or `None` when it
/// answers no string for it (a file naming one of the export's assets
/// answers the asset, a reference a list). A text field's string is marked
/// (see [`mark`]); any other is answered as stored.
///
/// The one rule for strings, used by the render and by [`entry_text`].
fn string_answer(
    export: &Export,
    f: Option<&Field>,
    s: &str,
    top: bool,
    label: Option<&str>,
    token: Option<&str>,
) -> Option<String> {
    let Some(f) = f else {
        return Some(s.to_owned());
    };
    match &f.kind {
        // A field named `uid` is an identifier, whatever its type says.
        FieldKind::Text(_) if f.uid != "uid" => Some(mark(s, top, label, token)),
        FieldKind::File if export.asset(s).is_some() => None,
        FieldKind::Reference(_) => None,
        _ => Some(s.to_owned()),
    }
}

/// The `title` and `body` the Delivery mock answers for world entry
/// `entry` of `export`, served as `variant` with content token `token`, to a
/// client that asks it in the scenario's locale without fallback (as ttlab's
/// origin does): each the top-level string the render answers there (by
/// `string_answer`, the rule the render follows for strings), or empty
/// where it answers none (no such field, a number, a list, an object).
/// Empty both when the export lacks the entry in that locale (the mock
/// answers an error, so no page is built).
pub fn entry_text(
    world: &World,
    export: &Export,
    entry: EntryIdx,
    variant: Option<VariantRef>,
    token: &EntryToken,
) -> EntryText {
    let scenario = world.scenario();
    let w = &scenario.content.entries[entry as usize];
    let master = export
        .master_locale
        .as_deref()
        .unwrap_or(&scenario.content.locale);
    let Some(e) = locale_chain(export, master, &scenario.content.locale, false)
        .into_iter()
        .find_map(|l| export.entry(&w.content_type, &w.uid, l))
    else {
        return EntryText::default();
    };
    let schema = export
        .content_type(&e.content_type)
        .map_or(&[][..], |ct| ct.schema.as_slice());
    let label = variant.map(|v| format!(" ({})", variant_name(world, v)));
    let token = format!(" {token}");
    let text = |key: &str| match e.doc.get(key) {
        Some(Value::String(s)) => string_answer(
            export,
            schema.iter().find(|f| f.uid == key),
            s,
            true,
            label.as_deref(),
            Some(&token),
        )
        .unwrap_or_default(),
        _ => String::new(),
    };
    EntryText {
        title: text("title"),
        body: text("body"),
    }
}

fn child(prefix: &str, uid: &str) -> String {
    if prefix.is_empty() {
        uid.to_owned()
    } else {
        format!("{prefix}.{uid}")
    }
}

impl Render<'_> {
    /// The fields of `src` by `schema`; keys the schema lacks are kept as
    /// stored (system fields, a block's `_metadata`).
    fn fields(
        &self,
        schema: &[Field],
        src: &Map<String, Value>,
        path: &str,
        top: bool,
    ) -> Map<String, Value> {
        src.iter()
            .map(|(k, v)| {
                let value = match schema.iter().find(|f| &f.uid == k) {
                    Some(f) => self.value(f, v, &child(path, k), top),
                    None => v.clone(),
                };
                (k.clone(), value)
            })
            .collect()
    }

    /// One field's value (each item of a multiple field alike).
    fn value(&self, f: &Field, v: &Value, path: &str, top: bool) -> Value {
        if let Value::Array(items) = v
            && !matches!(f.kind, FieldKind::Blocks(_) | FieldKind::Reference(_))
        {
            return Value::Array(items.iter().map(|x| self.value(f, x, path, top)).collect());
        }
        if let Value::String(s) = v
            && let Some(out) = string_answer(
                self.export,
                Some(f),
                s,
                top,
                self.label.as_deref(),
                self.token.as_deref(),
            )
        {
            return Value::String(out);
        }
        match &f.kind {
            // A field named `uid` is an identifier, whatever its type says.
            FieldKind::Text(_) if f.uid == "uid" => v.clone(),
            FieldKind::Text(_) => match v {
                Value::String(s) => Value::String(self.mark(s, top)),
                other => other.clone(),
            },
            FieldKind::JsonRte => {
                let mut doc = v.clone();
                if let Some(t) = &self.token {
                    mark_last_text(&mut doc, t);
                }
                doc
            }
            FieldKind::File => self.file(v),
            FieldKind::Group(schema) | FieldKind::Global { schema, .. } => match v {
                Value::Object(m) => Value::Object(self.fields(schema, m, path, false)),
                other => other.clone(),
            },
            FieldKind::Blocks(blocks) => match v {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|item| match item {
                            Value::Object(m) => Value::Object(
                                m.iter()
                                    .map(|(b, fields)| {
                                        let value =
                                            match (blocks.iter().find(|x| &x.uid == b), fields) {
                                                (Some(block), Value::Object(fm)) => {
                                                    Value::Object(self.fields(
                                                        &block.schema,
                                                        fm,
                                                        &child(path, b),
                                                        false,
                                                    ))
                                                }
                                                _ => fields.clone(),
                                            };
                                        (b.clone(), value)
                                    })
                                    .collect(),
                            ),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            FieldKind::Reference(_) => self.references(v, path),
            FieldKind::Select
            | FieldKind::Url
            | FieldKind::Number
            | FieldKind::Boolean
            | FieldKind::Date
            | FieldKind::Link
            | FieldKind::Taxonomy
            | FieldKind::Custom
            | FieldKind::Unsupported(_) => v.clone(),
        }
    }

    /// A text value with the variant's label (top level) and the token.
    fn mark(&self, s: &str, top: bool) -> String {
        mark(s, top, self.label.as_deref(), self.token.as_deref())
    }

    /// A file field's value: the asset it names, as the CDA answers it.
    fn file(&self, v: &Value) -> Value {
        let uid = match v {
            Value::String(s) => s.as_str(),
            Value::Object(m) => match m.get("uid").and_then(Value::as_str) {
                Some(u) => u,
                None => return v.clone(),
            },
            other => return other.clone(),
        };
        self.export
            .asset(uid)
            .map_or_else(|| v.clone(), |a| render_asset(self.state, a))
    }

    /// A reference field's value: `[{uid, _content_type_uid}]`, or, when
    /// `include[]` names `path`, the entries rendered (those the locale
    /// lacks left out, as the CDA leaves out what is not published).
    fn references(&self, v: &Value, path: &str) -> Value {
        let refs: Vec<(String, String)> = match v {
            Value::Array(items) => items.iter().filter_map(|r| self.reference(r)).collect(),
            single => self.reference(single).into_iter().collect(),
        };
        let prefix = format!("{path}.");
        let included = self
            .includes
            .iter()
            .any(|i| i == path || i.starts_with(&prefix));
        if !included || self.depth >= MAX_INCLUDE_DEPTH {
            return Value::Array(
                refs.into_iter()
                    .map(|(uid, ct)| json!({ "uid": uid, "_content_type_uid": ct }))
                    .collect(),
            );
        }
        let deeper: Vec<String> = self
            .includes
            .iter()
            .filter_map(|i| i.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        let at = child(&self.at, path);
        let projection = self.ask.projections.get(&at);
        Value::Array(
            refs.into_iter()
                .filter_map(|(uid, ct)| {
                    let e = find(self.state, self.export, &ct, &uid, self.ask)?;
                    let mut out = render_at(
                        self.state,
                        self.export,
                        e,
                        self.ask,
                        deeper.clone(),
                        at.clone(),
                        self.depth + 1,
                    );
                    if self.ask.reference_content_type_uid {
                        out.insert("_content_type_uid".to_owned(), json!(ct));
                    }
                    if let Some(p) = projection {
                        project(&mut out, p);
                    }
                    Some(Value::Object(out))
                })
                .collect(),
        )
    }

    /// One stored reference as `(uid, content type)`: an object with
    /// `uid` and `_content_type_uid`, or a bare uid (older exports).
    fn reference(&self, r: &Value) -> Option<(String, String)> {
        match r {
            Value::Object(m) => {
                let uid = m.get("uid")?.as_str()?;
                let ct = m
                    .get("_content_type_uid")
                    .and_then(Value::as_str)
                    .or_else(|| self.export.content_type_of(uid))?;
                Some((uid.to_owned(), ct.to_owned()))
            }
            Value::String(uid) => Some((uid.clone(), self.export.content_type_of(uid)?.to_owned())),
            _ => None,
        }
    }
}

/// Appends `token` to the last text leaf of a JSON rich text document (the
/// last node, depth first, with a string `text`); `false` when it has none.
fn mark_last_text(node: &mut Value, token: &str) -> bool {
    if let Some(Value::Array(children)) = node.get_mut("children") {
        for c in children.iter_mut().rev() {
            if mark_last_text(c, token) {
                return true;
            }
        }
    }
    match node.get_mut("text") {
        Some(Value::String(s)) if !s.is_empty() => {
            s.push_str(token);
            true
        }
        _ => false,
    }
}

/// A tree of dotted paths: an empty node means the whole value.
#[derive(Default)]
struct Paths(BTreeMap<String, Paths>);

impl Paths {
    fn of(paths: &[String]) -> Paths {
        let mut root = Paths::default();
        for p in paths {
            let mut at = &mut root;
            for part in p.split('.') {
                at = at.0.entry(part.to_owned()).or_default();
            }
        }
        root
    }
}

/// Applies `only` (keeping `uid`) then `except` to a rendered entry.
pub fn project(entry: &mut Map<String, Value>, p: &Projection) {
    if !p.only.is_empty() {
        let mut keep = Paths::of(&p.only);
        keep.0.entry("uid".to_owned()).or_default();
        keep.0.entry("_content_type_uid".to_owned()).or_default();
        keep_only(entry, &keep);
    }
    if !p.except.is_empty() {
        remove(entry, &Paths::of(&p.except));
    }
}

fn keep_only(m: &mut Map<String, Value>, keep: &Paths) {
    m.retain(|k, _| keep.0.contains_key(k));
    for (k, sub) in &keep.0 {
        if !sub.0.is_empty()
            && let Some(v) = m.get_mut(k)
        {
            keep_in(v, sub);
        }
    }
}

fn keep_in(v: &mut Value, keep: &Paths) {
    match v {
        Value::Object(m) => keep_only(m, keep),
        Value::Array(items) => items.iter_mut().for_each(|x| keep_in(x, keep)),
        _ => {}
    }
}

fn remove(m: &mut Map<String, Value>, drop: &Paths) {
    for (k, sub) in &drop.0 {
        if sub.0.is_empty() {
            m.remove(k);
        } else if let Some(v) = m.get_mut(k) {
            remove_in(v, sub);
        }
    }
}

fn remove_in(v: &mut Value, drop: &Paths) {
    match v {
        Value::Object(m) => remove(m, drop),
        Value::Array(items) => items.iter_mut().for_each(|x| remove_in(x, drop)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_text_leaf_carries_the_token() {
        let mut doc = json!({ "type": "doc", "children": [
            { "type": "p", "children": [{ "text": "one" }] },
            { "type": "p", "children": [{ "text": "two" }, { "type": "a", "children": [{ "text": "link" }] }, { "text": "" }] },
            { "type": "hr", "children": [] }
        ]});
        assert!(mark_last_text(&mut doc, " T"));
        assert_eq!(
            doc["children"][1]["children"][1]["children"][0]["text"],
            "link T"
        );
        assert_eq!(doc["children"][0]["children"][0]["text"], "one");
        let mut empty = json!({ "type": "doc", "children": [] });
        assert!(!mark_last_text(&mut empty, " T"));
    }

    #[test]
    fn only_and_except_walk_dotted_paths() {
        let entry = json!({ "uid": "a", "title": "t", "seo": { "meta_title": "m", "keywords": ["k"] },
                            "box": [{ "label": "l", "n": 1 }, { "label": "m", "n": 2 }] });
        let mut only = entry.as_object().unwrap().clone();
        project(
            &mut only,
            &Projection {
                only: vec!["seo.meta_title".into(), "box.n".into()],
                except: vec![],
            },
        );
        assert_eq!(
            Value::Object(only),
            json!({ "uid": "a", "seo": { "meta_title": "m" }, "box": [{ "n": 1 }, { "n": 2 }] })
        );
        let mut except = entry.as_object().unwrap().clone();
        project(
            &mut except,
            &Projection {
                only: vec![],
                except: vec!["title".into(), "box.label".into()],
            },
        );
        assert_eq!(
            Value::Object(except),
            json!({ "uid": "a", "seo": { "meta_title": "m", "keywords": ["k"] }, "box": [{ "n": 1 }, { "n": 2 }] })
        );
    }
}
