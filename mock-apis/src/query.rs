//! The CDA `query` parameter: a MongoDB-like JSON filter over entry fields,
//! parsed once per request into a [`Filter`] (so an operator ttlab does not
//! know is refused before any entry is looked at, never silently matching
//! nothing) and then matched against each entry.
//!
//! What the Delivery SDK builds (`docs/contentstack-wire.md` §2.3): field
//! equality, `$ne`, `$in`, `$nin`, `$lt`, `$lte`, `$gt`, `$gte`, `$exists`,
//! `$regex` with `$options`, `$and`, `$or`, `$in_query` / `$nin_query` over
//! referenced entries, and `tags: [..]`. Field paths are dotted and walk
//! into objects and, as `MongoDB` does, into every element of an array
//! (groups, modular blocks, references); a value that is an array matches a
//! condition when the array or any element of it does.

use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

/// Largest compiled `$regex` (bytes of the regex engine's program): a
/// pattern from a request must not cost the mock unbounded memory.
const MAX_REGEX_BYTES: usize = 1 << 20;

/// How deep `$and` / `$or` / `$in_query` may nest: a query is client
/// input, and parsing and matching recurse.
const MAX_NESTING: usize = 32;

/// A parsed `query`.
#[derive(Debug)]
pub struct Filter {
    clauses: Vec<Clause>,
}

#[derive(Debug)]
enum Clause {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Field { path: Vec<String>, cond: Vec<Cond> },
}

#[derive(Debug)]
enum Cond {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Cmp(Ordering, bool, Value),
    Regex(Regex),
    InQuery(Filter),
    NinQuery(Filter),
}

/// Resolves a reference (`{uid, _content_type_uid}`) to the fields of the
/// entry it names, for `$in_query` / `$nin_query`.
pub type Refs<'a> = &'a dyn Fn(&Value) -> Option<&'a Map<String, Value>>;

impl Filter {
    /// Parses a `query` value; the error names what is wrong (an unknown
    /// operator by name).
    pub fn parse(query: &Value) -> Result<Filter, String> {
        parse(query, 0)
    }

    /// Whether the entry with fields `doc` satisfies the filter; references
    /// are resolved by `refs`.
    pub fn matches(&self, doc: &Map<String, Value>, refs: Refs<'_>) -> bool {
        self.clauses.iter().all(|c| match c {
            Clause::And(parts) => parts.iter().all(|p| p.matches(doc, refs)),
            Clause::Or(parts) => parts.iter().any(|p| p.matches(doc, refs)),
            Clause::Field { path, cond } => {
                let mut found = Vec::new();
                collect_in(doc, path, &mut found);
                cond.iter().all(|c| c.holds(&found, refs))
            }
        })
    }
}

fn parse(query: &Value, depth: usize) -> Result<Filter, String> {
    if depth > MAX_NESTING {
        return Err(format!("a query may nest at most {MAX_NESTING} levels"));
    }
    let Value::Object(clauses) = query else {
        return Err("a query must be a JSON object".to_owned());
    };
    let mut out = Vec::with_capacity(clauses.len());
    for (key, cond) in clauses {
        out.push(match key.as_str() {
            "$and" | "$or" => {
                let Value::Array(parts) = cond else {
                    return Err(format!("{key} takes an array of queries"));
                };
                let parts = parts
                    .iter()
                    .map(|p| parse(p, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                if key == "$and" {
                    Clause::And(parts)
                } else {
                    Clause::Or(parts)
                }
            }
            k if k.starts_with('$') => return Err(format!("unknown query operator {k}")),
            field => Clause::Field {
                path: field.split('.').map(str::to_owned).collect(),
                cond: conditions(cond, depth)?,
            },
        });
    }
    Ok(Filter { clauses: out })
}

/// The conditions on one field: a plain value is equality; an object whose
/// keys are operators is those operators; an object without operators is
/// equality with that object.
fn conditions(cond: &Value, depth: usize) -> Result<Vec<Cond>, String> {
    let Value::Object(ops) = cond else {
        return Ok(vec![Cond::Eq(cond.clone())]);
    };
    if !ops.keys().any(|k| k.starts_with('$')) {
        return Ok(vec![Cond::Eq(cond.clone())]);
    }
    let mut out = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        let list = || match arg {
            Value::Array(list) => Ok(list.clone()),
            _ => Err(format!("{op} takes an array")),
        };
        out.push(match op.as_str() {
            "$ne" => Cond::Ne(arg.clone()),
            "$in" => Cond::In(list()?),
            "$nin" => Cond::Nin(list()?),
            "$exists" => Cond::Exists(arg.as_bool().unwrap_or(true)),
            "$lt" => Cond::Cmp(Ordering::Less, false, arg.clone()),
            "$lte" => Cond::Cmp(Ordering::Less, true, arg.clone()),
            "$gt" => Cond::Cmp(Ordering::Greater, false, arg.clone()),
            "$gte" => Cond::Cmp(Ordering::Greater, true, arg.clone()),
            "$regex" => Cond::Regex(regex(arg, ops.get("$options"))?),
            "$options" if ops.contains_key("$regex") => continue,
            "$options" => return Err("$options goes with $regex".to_owned()),
            "$in_query" => Cond::InQuery(parse(arg, depth + 1)?),
            "$nin_query" => Cond::NinQuery(parse(arg, depth + 1)?),
            other if other.starts_with('$') => {
                return Err(format!("unknown query operator {other}"));
            }
            other => {
                return Err(format!(
                    "field \"{other}\" mixed with operators in one condition"
                ));
            }
        });
    }
    Ok(out)
}

/// A `$regex` with its `$options` (`i`, `m`, `s`, `x`, as `MongoDB` reads them).
fn regex(pattern: &Value, options: Option<&Value>) -> Result<Regex, String> {
    let Some(pattern) = pattern.as_str() else {
        return Err("$regex takes a string".to_owned());
    };
    let options = match options {
        None => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("$options takes a string".to_owned()),
    };
    let mut b = RegexBuilder::new(pattern);
    b.size_limit(MAX_REGEX_BYTES);
    for o in options.chars() {
        match o {
            'i' => b.case_insensitive(true),
            'm' => b.multi_line(true),
            's' => b.dot_matches_new_line(true),
            'x' => b.ignore_whitespace(true),
            other => {
                return Err(format!(
                    "unknown $options flag '{other}' (known: i, m, s, x)"
                ));
            }
        };
    }
    b.build().map_err(|e| format!("$regex {pattern:?}: {e}"))
}

/// The values at `path` under `doc`: through objects, and into every
/// element of an array (a numeric part indexes one). A value found that is
/// an array is listed with its elements.
pub fn collect_in<'v>(doc: &'v Map<String, Value>, path: &[String], out: &mut Vec<&'v Value>) {
    if let Some((first, rest)) = path.split_first()
        && let Some(v) = doc.get(first)
    {
        collect(v, rest, out);
    }
}

fn collect<'v>(v: &'v Value, path: &[String], out: &mut Vec<&'v Value>) {
    match path.split_first() {
        None => {
            out.push(v);
            if let Value::Array(items) = v {
                out.extend(items);
            }
        }
        Some((part, rest)) => match v {
            Value::Object(m) => {
                if let Some(x) = m.get(part) {
                    collect(x, rest, out);
                }
            }
            Value::Array(items) => match part.parse::<usize>() {
                Ok(i) => {
                    if let Some(x) = items.get(i) {
                        collect(x, rest, out);
                    }
                }
                Err(_) => {
                    for x in items {
                        collect(x, path, out);
                    }
                }
            },
            _ => {}
        },
    }
}

/// Equality as the CDA reads it: the same value; and an array of values
/// against an array field (`tags: ["a", "b"]`, as the SDK's `tags()` sends)
/// when they share one, which is what the SDK documents `tags()` to mean.
fn equal(found: &Value, wanted: &Value) -> bool {
    if found == wanted {
        return true;
    }
    match (found, wanted) {
        (Value::Array(have), Value::Array(want)) => want.iter().any(|w| have.contains(w)),
        _ => false,
    }
}

/// Numbers by value, strings (ISO dates among them) by their text.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Cond {
    fn holds(&self, found: &[&Value], refs: Refs<'_>) -> bool {
        match self {
            Cond::Eq(want) => found.iter().any(|v| equal(v, want)),
            Cond::Ne(want) => !found.iter().any(|v| equal(v, want)),
            Cond::In(list) => found.iter().any(|v| list.contains(v)),
            Cond::Nin(list) => !found.iter().any(|v| list.contains(v)),
            Cond::Exists(want) => found.is_empty() != *want,
            Cond::Cmp(side, or_equal, bound) => found.iter().any(|v| {
                compare(v, bound).is_some_and(|o| o == *side || (*or_equal && o == Ordering::Equal))
            }),
            Cond::Regex(re) => found
                .iter()
                .any(|v| v.as_str().is_some_and(|s| re.is_match(s))),
            Cond::InQuery(sub) => referenced(found, sub, refs),
            Cond::NinQuery(sub) => !referenced(found, sub, refs),
        }
    }
}

/// Whether any reference among `found` names an entry that `sub` matches.
fn referenced(found: &[&Value], sub: &Filter, refs: Refs<'_>) -> bool {
    found
        .iter()
        .filter(|v| v.is_object())
        .filter_map(|v| refs(v))
        .any(|doc| sub.matches(doc, refs))
}

/// A value to sort by: the first found at `path` (numbers before strings,
/// as compared by [`compare`]; entries without one last).
pub fn sort_key<'v>(doc: &'v Map<String, Value>, path: &[String]) -> Option<&'v Value> {
    let mut found = Vec::new();
    collect_in(doc, path, &mut found);
    found
        .into_iter()
        .find(|v| matches!(v, Value::Number(_) | Value::String(_)))
}

/// Orders two sort keys: by value, numbers before strings, missing last.
pub fn order(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => compare(x, y).unwrap_or_else(|| {
            // A number and a string: numbers first.
            if x.is_number() {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_refs(_: &Value) -> Option<&'static Map<String, Value>> {
        None
    }

    fn check(q: &Value, doc: &Value) -> bool {
        Filter::parse(q)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .matches(doc.as_object().unwrap(), &no_refs)
    }

    #[test]
    fn mongo_like_filters() {
        let doc = json!({ "uid": "a", "_version": 3, "publish_details": { "locale": "en-us" },
                          "tags": ["x", "y"], "box": [{ "label": "one" }, { "label": "two" }],
                          "day": "2024-12-01T00:00:00.000Z", "title": "Hello World" });
        let yes = |q: Value| assert!(check(&q, &doc), "{q}");
        let no = |q: Value| assert!(!check(&q, &doc), "{q}");
        yes(json!({ "uid": "a" }));
        no(json!({ "uid": "b" }));
        yes(json!({ "uid": { "$in": ["a", "b"] } }));
        no(json!({ "uid": { "$nin": ["a"] } }));
        yes(json!({ "_version": { "$gt": 2, "$lte": 3 } }));
        no(json!({ "_version": { "$lt": 3 } }));
        yes(json!({ "_version": { "$gte": 3 } }));
        yes(json!({ "publish_details.locale": "en-us" }));
        yes(json!({ "missing": { "$exists": false } }));
        no(json!({ "uid": { "$exists": false } }));
        yes(json!({ "missing": { "$ne": 1 } }));
        yes(json!({ "$or": [{ "uid": "x" }, { "uid": "a" }] }));
        no(json!({ "$and": [{ "uid": "a" }, { "_version": 1 }] }));
        yes(json!({ "tags": "x" }));
        yes(json!({ "tags": ["z", "y"] }));
        no(json!({ "tags": ["z"] }));
        yes(json!({ "box.label": "two" }));
        yes(json!({ "box.1.label": "two" }));
        no(json!({ "box.0.label": "two" }));
        yes(json!({ "day": { "$gt": "2024-11-30" } }));
        yes(json!({ "title": { "$regex": "^hello", "$options": "i" } }));
        no(json!({ "title": { "$regex": "^hello" } }));
    }

    #[test]
    fn unknown_forms_are_errors_naming_them() {
        let err = |q: Value| Filter::parse(&q).unwrap_err();
        assert_eq!(
            err(json!({ "uid": { "$near": 1 } })),
            "unknown query operator $near"
        );
        assert_eq!(err(json!({ "$nor": [] })), "unknown query operator $nor");
        assert!(err(json!({ "uid": { "$in": "a" } })).contains("$in takes an array"));
        assert!(err(json!({ "t": { "$regex": "(" } })).contains("$regex"));
        assert!(err(json!({ "t": { "$regex": "a", "$options": "q" } })).contains("'q'"));
        assert!(err(json!([1])).contains("JSON object"));
        let mut deep = json!({ "uid": "a" });
        for _ in 0..40 {
            deep = json!({ "$and": [deep] });
        }
        assert!(err(deep).contains("nest"));
    }

    #[test]
    fn references_resolve_for_in_query() {
        let ada = json!({ "uid": "ada", "title": "Ada" });
        let ada = ada.as_object().unwrap().clone();
        let refs = |r: &Value| (r["uid"] == "ada").then_some(&ada);
        let doc = json!({ "authors": [{ "uid": "ada", "_content_type_uid": "author" }, { "uid": "gone", "_content_type_uid": "author" }] });
        let doc = doc.as_object().unwrap();
        let f = |q: Value| Filter::parse(&q).unwrap().matches(doc, &refs);
        assert!(f(json!({ "authors": { "$in_query": { "title": "Ada" } } })));
        assert!(!f(
            json!({ "authors": { "$in_query": { "title": "Alan" } } })
        ));
        assert!(f(
            json!({ "authors": { "$nin_query": { "title": "Alan" } } })
        ));
        assert!(!f(
            json!({ "authors": { "$nin_query": { "title": "Ada" } } })
        ));
    }
}
