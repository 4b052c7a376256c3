//! The CDA `query` parameter: a MongoDB-like JSON filter over entry fields.
//! Supported: field equality, `$ne`, `$in`, `$nin`, `$exists`, `$lt`, `$lte`,
//! `$gt`, `$gte`, `$and`, `$or`, and dotted field paths.

use serde_json::Value;

/// Whether `doc` satisfies `query`; an error names an unsupported form.
pub fn matches(query: &Value, doc: &Value) -> Result<bool, String> {
    let Value::Object(clauses) = query else {
        return Err("a query must be a JSON object".to_owned());
    };
    for (key, cond) in clauses {
        let ok = match key.as_str() {
            "$and" | "$or" => {
                let Value::Array(parts) = cond else {
                    return Err(format!("{key} takes an array of queries"));
                };
                let results = parts
                    .iter()
                    .map(|p| matches(p, doc))
                    .collect::<Result<Vec<_>, _>>()?;
                if key == "$and" {
                    results.iter().all(|r| *r)
                } else {
                    results.iter().any(|r| *r)
                }
            }
            k if k.starts_with('$') => return Err(format!("unsupported operator {k}")),
            field => field_matches(lookup(doc, field), cond)?,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, part| v.get(part))
}

fn field_matches(value: Option<&Value>, cond: &Value) -> Result<bool, String> {
    let Value::Object(ops) = cond else {
        return Ok(value == Some(cond));
    };
    if !ops.keys().any(|k| k.starts_with('$')) {
        return Ok(value == Some(cond));
    }
    for (op, arg) in ops {
        let ok = match op.as_str() {
            "$ne" => value != Some(arg),
            "$in" | "$nin" => {
                let Value::Array(list) = arg else {
                    return Err(format!("{op} takes an array"));
                };
                let inside = value.is_some_and(|v| list.contains(v));
                if op == "$in" { inside } else { !inside }
            }
            "$exists" => value.is_some() == arg.as_bool().unwrap_or(true),
            "$lt" | "$lte" | "$gt" | "$gte" => {
                match (value.and_then(Value::as_f64), arg.as_f64()) {
                    (Some(a), Some(b)) => match op.as_str() {
                        "$lt" => a < b,
                        "$lte" => a <= b,
                        "$gt" => a > b,
                        _ => a >= b,
                    },
                    _ => false,
                }
            }
            other => return Err(format!("unsupported operator {other}")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn mongo_like_filters() {
        let doc = json!({ "uid": "a", "_version": 3, "publish_details": { "locale": "en-us" } });
        let yes = |q: Value| assert!(matches(&q, &doc).unwrap(), "{q}");
        let no = |q: Value| assert!(!matches(&q, &doc).unwrap(), "{q}");
        yes(json!({ "uid": "a" }));
        no(json!({ "uid": "b" }));
        yes(json!({ "uid": { "$in": ["a", "b"] } }));
        no(json!({ "uid": { "$nin": ["a"] } }));
        yes(json!({ "_version": { "$gt": 2, "$lte": 3 } }));
        yes(json!({ "publish_details.locale": "en-us" }));
        yes(json!({ "missing": { "$exists": false } }));
        yes(json!({ "$or": [{ "uid": "x" }, { "uid": "a" }] }));
        no(json!({ "$and": [{ "uid": "a" }, { "_version": 1 }] }));
        assert!(matches(&json!({ "uid": { "$regex": "^a" } }), &doc).is_err());
        assert!(matches(&json!([1]), &doc).is_err());
    }
}
