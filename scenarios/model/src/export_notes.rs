//! What `ttlab validate` says of a scenario's stack export beyond its
//! errors: a line on what it holds, and the warnings a team should act on
//! before a run — a varied entry no page can be judged by (no text value to
//! carry a content token), and fields of types ttlab does not know (served
//! as stored, without tokens).

use serde_json::Value;
use ttlab_export::{Export, Field, FieldKind};

use crate::model::Content;

/// One line on what the export holds.
pub fn describe(export: &Export) -> String {
    let with_files = export.assets.iter().filter(|a| a.file.is_some()).count();
    format!(
        "{}: {} content types, {} entries in {} locales, {} assets ({with_files} with files)",
        export.source,
        export.content_types.len(),
        export.entries.len(),
        export.locales.len().max(1),
        export.assets.len(),
    )
}

/// Warnings on the export, in a stable order.
pub fn warnings(content: &Content) -> Vec<String> {
    let Some(export) = &content.export else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for u in &export.unsupported {
        out.push(format!(
            "{} field {} has data_type \"{}\", which ttlab does not know: the mock serves it as stored, with no content token",
            u.content_type, u.path, u.data_type
        ));
    }
    for e in content.entries.iter().filter(|e| !e.variants.is_empty()) {
        let Some(ct) = export.content_type(&e.content_type) else {
            continue;
        };
        let carried = export
            .entry_locales(&e.content_type, &e.uid)
            .any(|x| carries(&ct.schema, &Value::Object(x.doc.clone())));
        if !carried {
            out.push(format!(
                "entry {} ({}) varies but has no text value to carry a content token: a page showing it cannot be judged by which variant it shows",
                e.uid, e.content_type
            ));
        }
    }
    out
}

/// Whether `value` (an object of `schema`'s fields) has a non-empty string
/// in a field that carries a content token, at any depth.
fn carries(schema: &[Field], value: &Value) -> bool {
    let Value::Object(m) = value else {
        return false;
    };
    schema.iter().any(|f| {
        let Some(v) = m.get(&f.uid) else {
            return false;
        };
        let items: Vec<&Value> = match v {
            Value::Array(a) if f.multiple || matches!(f.kind, FieldKind::Blocks(_)) => {
                a.iter().collect()
            }
            other => vec![other],
        };
        items.into_iter().any(|v| match &f.kind {
            FieldKind::Text(_) => v.as_str().is_some_and(|s| !s.trim().is_empty()),
            FieldKind::JsonRte => has_text_leaf(v),
            FieldKind::Group(s) | FieldKind::Global { schema: s, .. } => carries(s, v),
            FieldKind::Blocks(blocks) => blocks
                .iter()
                .any(|b| v.get(&b.uid).is_some_and(|inner| carries(&b.schema, inner))),
            _ => false,
        })
    })
}

/// Whether a JSON RTE tree has a text leaf to append a token to.
fn has_text_leaf(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.get("text").is_some_and(Value::is_string)
                || m.get("children")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().any(has_text_leaf))
        }
        _ => false,
    }
}
