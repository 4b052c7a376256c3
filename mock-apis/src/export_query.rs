//! What a Delivery API request asks, read from its query string the way the
//! Delivery SDK writes it (`docs/contentstack-wire.md` §2.3), and the lists
//! it asks for over a stack export: the entries of a content type in a
//! locale (following fallbacks when asked), filtered by `query` on the
//! export's values — never on the rendered text with its tokens —, ordered,
//! counted, paged; the same for assets.
//!
//! Parameters the mock does not act on are ignored, as the real API
//! ignores what it does not know; an operator in `query` it does not know
//! is an error naming it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use ttlab_export::{Entry, Export};
use ttlab_scenarios::Micros;
use ttlab_scenarios::model::VariantRef;

use crate::assets::render_asset;
use crate::export_render::{Ask, Projection, find, render};
use crate::query::{Filter, order, sort_key};
use crate::state::MockState;

/// Most entries one query returns, as the real API caps `limit`.
pub const MAX_LIMIT: usize = 250;
/// Entries returned without `limit`.
pub const DEFAULT_LIMIT: usize = 100;

/// Why a request's parameters cannot be answered.
#[derive(Debug, PartialEq, Eq)]
pub enum ParamError {
    /// A number parameter that is not a whole number.
    Number {
        /// Its name.
        key: String,
        /// What came.
        value: String,
    },
    /// `query` is not JSON.
    Json(String),
    /// `query` is JSON the mock does not understand (an unknown operator).
    Query(String),
}

/// A request's parameters.
// Each flag is one of the API's own `true`/`false` parameters.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Default)]
pub struct Params {
    /// `locale`.
    pub locale: Option<String>,
    /// `include_fallback=true`.
    pub fallback: bool,
    /// `include[]` (and the SDK's `include[][]`) paths.
    pub includes: Vec<String>,
    /// `only[KEY][]` / `except[KEY][]` by key (`BASE` or a reference path).
    pub projections: BTreeMap<String, Projection>,
    /// `include_count=true`.
    pub include_count: bool,
    /// `skip`.
    pub skip: usize,
    /// `limit`, capped at [`MAX_LIMIT`].
    pub limit: usize,
    /// `asc` / `desc`: the field path, and whether descending.
    pub order: Option<(Vec<String>, bool)>,
    /// `query`.
    pub filter: Option<Filter>,
    /// `include_content_type=true`.
    pub include_content_type: bool,
    /// `include_schema=true`.
    pub include_schema: bool,
    /// `include_reference_content_type_uid=true`.
    pub reference_content_type_uid: bool,
    /// `include_metadata=true`.
    pub metadata: bool,
}

/// `only[KEY][]` or `only[KEY][3]` → `KEY` (the same for `except`).
fn bracketed<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    let rest = key.strip_prefix(name)?.strip_prefix('[')?;
    let (inner, tail) = rest.split_once(']')?;
    let index = tail.strip_prefix('[')?.strip_suffix(']')?;
    index.bytes().all(|b| b.is_ascii_digit()).then_some(inner)
}

fn is_include(key: &str) -> bool {
    // `include[]`, the SDK's `include[][]`, and an indexed `include[0]`.
    key.strip_prefix("include[").is_some_and(|rest| {
        let rest = rest.trim_end_matches("[]");
        rest.strip_suffix(']')
            .is_some_and(|i| i.bytes().all(|b| b.is_ascii_digit()))
    })
}

impl Params {
    /// Reads the query string's pairs (repeated keys kept).
    pub fn parse(pairs: &[(String, String)]) -> Result<Params, ParamError> {
        let mut p = Params {
            limit: DEFAULT_LIMIT,
            ..Params::default()
        };
        let number = |key: &str, v: &str| {
            v.parse::<usize>().map_err(|_| ParamError::Number {
                key: key.to_owned(),
                value: v.to_owned(),
            })
        };
        for (k, v) in pairs {
            let on = v == "true";
            match k.as_str() {
                "locale" => p.locale = Some(v.clone()),
                "include_fallback" => p.fallback = on,
                "include_count" => p.include_count = on,
                "include_content_type" => p.include_content_type = on,
                "include_schema" => p.include_schema = on,
                "include_reference_content_type_uid" => p.reference_content_type_uid = on,
                "include_metadata" => p.metadata = on,
                "skip" => p.skip = number(k, v)?,
                "limit" => p.limit = number(k, v)?.min(MAX_LIMIT),
                "asc" | "desc" => {
                    p.order = Some((v.split('.').map(str::to_owned).collect(), k == "desc"));
                }
                "query" => {
                    let json: Value =
                        serde_json::from_str(v).map_err(|e| ParamError::Json(e.to_string()))?;
                    p.filter = Some(Filter::parse(&json).map_err(ParamError::Query)?);
                }
                key if is_include(key) => p.includes.push(v.clone()),
                key => {
                    if let Some(of) = bracketed(key, "only") {
                        p.projections
                            .entry(of.to_owned())
                            .or_default()
                            .only
                            .push(v.clone());
                    } else if let Some(of) = bracketed(key, "except") {
                        p.projections
                            .entry(of.to_owned())
                            .or_default()
                            .except
                            .push(v.clone());
                    }
                    // Anything else is ignored, as the real API ignores it.
                }
            }
        }
        Ok(p)
    }

    /// What a render needs from these parameters.
    pub fn ask<'a>(&'a self, locale: &'a str, requested: &'a [VariantRef], t: Micros) -> Ask<'a> {
        Ask {
            locale,
            fallback: self.fallback,
            includes: &self.includes,
            projections: &self.projections,
            reference_content_type_uid: self.reference_content_type_uid,
            metadata: self.metadata,
            requested,
            t,
        }
    }

    /// Whether an item's fields pass `query`.
    fn keeps(&self, doc: &Map<String, Value>, refs: crate::query::Refs<'_>) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(doc, refs))
    }

    /// Orders `items` by `asc` / `desc` (stable: ties keep their order;
    /// items without the field come last either way).
    fn sort<T>(&self, items: &mut [T], doc: impl Fn(&T) -> &Map<String, Value>) {
        let Some((path, desc)) = &self.order else {
            return;
        };
        items.sort_by(|a, b| {
            let (ka, kb) = (sort_key(doc(a), path), sort_key(doc(b), path));
            match (ka, kb, desc) {
                (Some(_), Some(_), true) => order(kb, ka),
                _ => order(ka, kb),
            }
        });
    }

    /// `skip` and `limit` applied.
    fn page<T>(&self, items: Vec<T>) -> Vec<T> {
        items.into_iter().skip(self.skip).take(self.limit).collect()
    }
}

/// The entries of content type `ct` a list asks for, rendered, and how many
/// matched before `skip` and `limit`.
pub fn entries(
    state: &MockState,
    export: &Export,
    ct: &str,
    params: &Params,
    ask: &Ask<'_>,
) -> (Vec<Value>, usize) {
    // Each entry once, in the export's order, as served in the asked locale.
    let mut seen = std::collections::HashSet::new();
    let mut served: Vec<&Entry> = export
        .entries
        .iter()
        .filter(|e| e.content_type == ct && seen.insert(e.uid.as_str()))
        .filter_map(|e| find(state, export, ct, &e.uid, ask))
        .collect();
    let refs = |r: &Value| -> Option<&Map<String, Value>> {
        let uid = r.get("uid")?.as_str()?;
        let ct = r
            .get("_content_type_uid")
            .and_then(Value::as_str)
            .or_else(|| export.content_type_of(uid))?;
        find(state, export, ct, uid, ask).map(|e| &e.doc)
    };
    served.retain(|e| params.keeps(&e.doc, &refs));
    params.sort(&mut served, |e| &e.doc);
    let count = served.len();
    let page = params
        .page(served)
        .into_iter()
        .map(|e| render(state, export, e, ask))
        .collect();
    (page, count)
}

/// The assets a list asks for, rendered, and how many matched.
pub fn assets(state: &MockState, export: &Export, params: &Params) -> (Vec<Value>, usize) {
    let no_refs = |_: &Value| None;
    let mut kept: Vec<_> = export
        .assets
        .iter()
        .filter(|a| params.keeps(&a.meta, &no_refs))
        .collect();
    params.sort(&mut kept, |a| &a.meta);
    let count = kept.len();
    let page = params
        .page(kept)
        .into_iter()
        .map(|a| render_asset(state, a))
        .collect();
    (page, count)
}

/// The content types a list asks for, as exported, and how many there are.
pub fn content_types(export: &Export, params: &Params) -> (Vec<Value>, usize) {
    let count = export.content_types.len();
    let page = params
        .page(export.content_types.iter().collect())
        .into_iter()
        .map(|c| c.raw.clone())
        .collect();
    (page, count)
}

/// The raw schema of content type `ct` (`include_schema`).
pub fn schema(export: &Export, ct: &str) -> Value {
    export
        .content_type(ct)
        .and_then(|c| c.raw.get("schema").cloned())
        .unwrap_or(Value::Array(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Params, ParamError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap();
        Params::parse(&pairs)
    }

    #[test]
    fn the_sdk_wire_forms_are_read() {
        let p = parse(
            "environment=production&include_count=true&limit=5&skip=10&include%5B%5D%5B%5D=authors\
             &include%5B%5D=box.author&only%5BBASE%5D%5B0%5D=title&only%5BBASE%5D%5B1%5D=url\
             &except%5Bauthors%5D%5B%5D=bio&asc=rank&locale=fr-fr&include_fallback=true&unknown=1",
        )
        .unwrap();
        assert!(p.include_count && p.fallback);
        assert_eq!((p.skip, p.limit), (10, 5));
        assert_eq!(p.includes, ["authors", "box.author"]);
        assert_eq!(p.projections["BASE"].only, ["title", "url"]);
        assert_eq!(p.projections["authors"].except, ["bio"]);
        assert_eq!(p.order, Some((vec!["rank".to_owned()], false)));
        assert_eq!(p.locale.as_deref(), Some("fr-fr"));
        assert_eq!(parse("limit=100000").unwrap().limit, MAX_LIMIT);
        assert_eq!(
            parse("skip=x").unwrap_err(),
            ParamError::Number {
                key: "skip".into(),
                value: "x".into()
            }
        );
        assert!(matches!(
            parse("query=%7B").unwrap_err(),
            ParamError::Json(_)
        ));
        assert_eq!(
            parse("query=%7B%22a%22%3A%7B%22%24near%22%3A1%7D%7D").unwrap_err(),
            ParamError::Query("unknown query operator $near".into())
        );
    }
}
