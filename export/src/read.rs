//! Reading each part of an export in the layout the CLI writes, from a
//! [`Tree`].

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::ExportError;
use crate::model::{Asset, ContentType, Entry, Environment, Export, Locale, Unsupported};
use crate::schema::{self, Field, FieldKind};
use crate::tree::Tree;

impl Export {
    /// Reads the export at `path`: a folder or a `.zip`.
    pub fn open(path: &Path) -> Result<Export, ExportError> {
        read(path)
    }
}

/// Reads the whole export at `path`.
fn read(path: &Path) -> Result<Export, ExportError> {
    let tree = Tree::open(path)?;
    let (master, mut locales) = locales(&tree)?;
    if let Some(m) = &master {
        // The master first: it is the default and the end of every fallback chain.
        locales.sort_by_key(|l| l.code != m.code);
    }
    let environments = environments(&tree)?;
    let globals_raw = json_opt(&tree, "global_fields/globalfields.json")?;
    let (content_types, unsupported) = content_types(&tree, globals_raw.as_ref())?;
    let entries = entries(&tree, &content_types)?;
    let assets = assets(&tree)?;
    Ok(Export {
        source: path.display().to_string(),
        master_locale: master.map(|m| m.code),
        locales,
        environments,
        content_types,
        entries,
        assets,
        unsupported,
        ..Export::default()
    }
    .indexed())
}

/// Parses `rel` as JSON; `None` when the file is not there.
fn json_opt(tree: &Tree, rel: &str) -> Result<Option<Value>, ExportError> {
    let Some(bytes) = tree.read(rel)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ExportError::json(&tree.shown(rel), &e))
}

/// Parses `rel`, which must be there.
fn json(tree: &Tree, rel: &str, what: &str) -> Result<Value, ExportError> {
    json_opt(tree, rel)?.ok_or_else(|| ExportError::Missing {
        file: tree.shown(rel),
        what: format!("missing: {what}"),
    })
}

/// The members of a JSON object file (`uid → item`), or the items of an
/// array file: the CLI writes both forms across versions.
fn items(value: Value, tree: &Tree, rel: &str) -> Result<Vec<Value>, ExportError> {
    match value {
        Value::Object(m) => Ok(m.into_iter().map(|(_, v)| v).collect()),
        Value::Array(a) => Ok(a),
        other => Err(ExportError::shape(
            &tree.shown(rel),
            format!(
                "expected a JSON object of uid → item or an array, found {}",
                kind(&other)
            ),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn locale_of(v: &Value, tree: &Tree, rel: &str) -> Result<Locale, ExportError> {
    let Value::Object(m) = v else {
        return Err(ExportError::shape(
            &tree.shown(rel),
            "a locale must be an object",
        ));
    };
    let code = string(m, "code")
        .ok_or_else(|| ExportError::shape(&tree.shown(rel), "a locale needs a string `code`"))?;
    Ok(Locale {
        name: string(m, "name").unwrap_or_else(|| code.clone()),
        fallback: string(m, "fallback_locale"),
        code,
    })
}

/// The master locale and every locale (the master included).
fn locales(tree: &Tree) -> Result<(Option<Locale>, Vec<Locale>), ExportError> {
    let master_rel = "locales/master-locale.json";
    let master = match json_opt(tree, master_rel)? {
        Some(v) => items(v, tree, master_rel)?
            .first()
            .map(|l| locale_of(l, tree, master_rel))
            .transpose()?,
        None => None,
    };
    let rel = "locales/locales.json";
    let mut out = Vec::new();
    if let Some(v) = json_opt(tree, rel)? {
        for l in items(v, tree, rel)? {
            out.push(locale_of(&l, tree, rel)?);
        }
    }
    if let Some(m) = master
        .as_ref()
        .filter(|m| !out.iter().any(|l| l.code == m.code))
    {
        out.push(m.clone());
    }
    Ok((master, out))
}

fn environments(tree: &Tree) -> Result<Vec<Environment>, ExportError> {
    let rel = "environments/environments.json";
    let Some(v) = json_opt(tree, rel)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in items(v, tree, rel)? {
        let Value::Object(m) = &e else {
            return Err(ExportError::shape(
                &tree.shown(rel),
                "an environment must be an object",
            ));
        };
        match (string(m, "uid"), string(m, "name")) {
            (Some(uid), Some(name)) => out.push(Environment { uid, name }),
            _ => {
                return Err(ExportError::shape(
                    &tree.shown(rel),
                    "an environment needs string `uid` and `name`",
                ));
            }
        }
    }
    Ok(out)
}

/// Global field `uid`'s fields, nested global fields resolved; a
/// depth past 16 is taken for a cycle (the CLI allows nesting, never a cycle).
fn resolve(globals: &HashMap<String, Value>, uid: &str, depth: usize) -> Option<Vec<Field>> {
    if depth > 16 {
        return None;
    }
    let raw = globals.get(uid)?;
    let lookup = |g: &str| resolve(globals, g, depth + 1);
    schema::fields(raw, &lookup, &format!("global field {uid}")).ok()
}

/// Content types with their schemas resolved, and the fields of unknown types.
fn content_types(
    tree: &Tree,
    globals_raw: Option<&Value>,
) -> Result<(Vec<ContentType>, Vec<Unsupported>), ExportError> {
    let gf_rel = "global_fields/globalfields.json";
    let mut globals: HashMap<String, Value> = HashMap::new();
    if let Some(v) = globals_raw {
        for g in items(v.clone(), tree, gf_rel)? {
            if let Some(uid) = g.get("uid").and_then(Value::as_str) {
                globals.insert(
                    uid.to_owned(),
                    g.get("schema").cloned().unwrap_or(Value::Array(Vec::new())),
                );
            }
        }
    }
    let lookup = |g: &str| resolve(&globals, g, 0);
    let mut unsupported = Vec::new();
    let mut gf_uids: Vec<&String> = globals.keys().collect();
    gf_uids.sort();
    for uid in gf_uids {
        let s = schema::fields(&globals[uid], &lookup, &format!("global field {uid}"))
            .map_err(|m| ExportError::shape(&tree.shown(gf_rel), m))?;
        list_unsupported(&s, &format!("global_fields/{uid}"), &mut unsupported);
    }
    let rel = "content_types/schema.json";
    let v = json(
        tree,
        rel,
        "every content type's schema (content_types/schema.json)",
    )?;
    let mut out = Vec::new();
    for ct in items(v, tree, rel)? {
        let Value::Object(m) = &ct else {
            return Err(ExportError::shape(
                &tree.shown(rel),
                "a content type must be an object",
            ));
        };
        let uid = string(m, "uid").ok_or_else(|| {
            ExportError::shape(&tree.shown(rel), "a content type needs a string `uid`")
        })?;
        let s = schema::fields(
            m.get("schema").unwrap_or(&Value::Array(Vec::new())),
            &lookup,
            &format!("content type {uid}"),
        )
        .map_err(|msg| ExportError::shape(&tree.shown(rel), msg))?;
        list_unsupported(&s, &uid, &mut unsupported);
        out.push(ContentType {
            title: string(m, "title").unwrap_or_else(|| uid.clone()),
            uid,
            schema: s,
            raw: ct.clone(),
        });
    }
    Ok((out, unsupported))
}

fn list_unsupported(schema: &[Field], owner: &str, out: &mut Vec<Unsupported>) {
    schema::walk(schema, "", &mut |path, f| {
        if let FieldKind::Unsupported(dt) = &f.kind {
            out.push(Unsupported {
                content_type: owner.to_owned(),
                path: path.to_owned(),
                data_type: dt.clone(),
            });
        }
    });
}

/// Every entry of every content type and locale: `entries/<ct>/<locale>/index.json`
/// naming chunk files of `uid → entry`, or the older `entries/<ct>/<locale>.json`.
fn entries(tree: &Tree, types: &[ContentType]) -> Result<Vec<Entry>, ExportError> {
    let mut out = Vec::new();
    for ct in types {
        let base = format!("entries/{}", ct.uid);
        for locale in tree.dirs(&base)? {
            let index_rel = format!("{base}/{locale}/index.json");
            let Some(index) = json_opt(tree, &index_rel)? else {
                continue;
            };
            let Value::Object(index) = index else {
                return Err(ExportError::shape(
                    &tree.shown(&index_rel),
                    "expected an object of chunk number → chunk file name",
                ));
            };
            let mut chunks: Vec<(u64, String)> = Vec::new();
            for (k, v) in index {
                let Some(file) = v.as_str() else {
                    return Err(ExportError::shape(
                        &tree.shown(&index_rel),
                        format!("chunk \"{k}\" must name a file"),
                    ));
                };
                chunks.push((k.parse().unwrap_or(u64::MAX), file.to_owned()));
            }
            chunks.sort();
            for (_, file) in chunks {
                let rel = format!("{base}/{locale}/{file}");
                let v = json(tree, &rel, &format!("a chunk file {index_rel} names"))?;
                push_entries(v, tree, &rel, &ct.uid, &locale, &mut out)?;
            }
        }
        // The layout of older CLI versions: one file per locale.
        for name in tree.files(&base) {
            let Some(locale) = name.strip_suffix(".json") else {
                continue;
            };
            let rel = format!("{base}/{name}");
            let v = json(tree, &rel, "entries")?;
            push_entries(v, tree, &rel, &ct.uid, locale, &mut out)?;
        }
    }
    Ok(out)
}

fn push_entries(
    v: Value,
    tree: &Tree,
    rel: &str,
    ct: &str,
    locale: &str,
    out: &mut Vec<Entry>,
) -> Result<(), ExportError> {
    for e in items(v, tree, rel)? {
        let Value::Object(doc) = e else {
            return Err(ExportError::shape(
                &tree.shown(rel),
                "an entry must be an object",
            ));
        };
        let Some(uid) = string(&doc, "uid") else {
            return Err(ExportError::shape(
                &tree.shown(rel),
                "an entry needs a string `uid`",
            ));
        };
        out.push(Entry {
            content_type: ct.to_owned(),
            locale: string(&doc, "locale").unwrap_or_else(|| locale.to_owned()),
            uid,
            doc,
        });
    }
    Ok(())
}

/// Assets. The CLI writes `assets/assets.json` as an index of chunk files
/// (`{"1": "<uuid>-assets.json"}`, each chunk `uid → metadata`) with the
/// files under `assets/files/<uid>/`; older versions wrote `assets.json` as
/// the metadata itself (`uid → metadata`) with the files under
/// `assets/<uid>/`. An object whose values are all file names is an index.
fn assets(tree: &Tree) -> Result<Vec<Asset>, ExportError> {
    let mut metas: Vec<Value> = Vec::new();
    for rel in ["assets/assets.json", "assets/index.json"] {
        let Some(v) = json_opt(tree, rel)? else {
            continue;
        };
        let index = match &v {
            Value::Object(m) if !m.is_empty() && m.values().all(Value::is_string) => Some(m),
            _ => None,
        };
        let Some(index) = index else {
            metas.extend(items(v, tree, rel)?);
            break;
        };
        let mut chunks: Vec<(u64, String)> = index
            .iter()
            .filter_map(|(k, v)| Some((k.parse().unwrap_or(u64::MAX), v.as_str()?.to_owned())))
            .collect();
        chunks.sort();
        for (_, file) in chunks {
            let chunk = format!("assets/{file}");
            metas.extend(items(
                json(tree, &chunk, &format!("a chunk file {rel} names"))?,
                tree,
                &chunk,
            )?);
        }
        break;
    }
    let mut out = Vec::with_capacity(metas.len());
    for m in metas {
        let Value::Object(meta) = m else {
            return Err(ExportError::shape(
                &tree.shown("assets"),
                "an asset must be an object",
            ));
        };
        let Some(uid) = string(&meta, "uid") else {
            return Err(ExportError::shape(
                &tree.shown("assets"),
                "an asset needs a string `uid`",
            ));
        };
        let filename = string(&meta, "filename").unwrap_or_else(|| uid.clone());
        let file = tree
            .file(&format!("assets/files/{uid}/{filename}"))
            .or_else(|| tree.file(&format!("assets/{uid}/{filename}")));
        out.push(Asset { uid, meta, file });
    }
    out.sort_by(|a, b| a.uid.cmp(&b.uid));
    Ok(out)
}
