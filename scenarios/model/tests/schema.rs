//! `ttlab schema` describes the real format: every shipped scenario passes the
//! JSON Schema, and the schema rejects what validation rejects at the type
//! level (unknown keys, wrong types, unknown enum values).

use ttlab_scenarios::json_schema;
use ttlab_scenarios::shipped::SHIPPED;

fn as_json(toml_text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(toml_text).unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn shipped_scenarios_pass_the_schema() {
    let schema = json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    for s in SHIPPED {
        let doc = as_json(s.source);
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} fails the schema:\n{}",
            s.name,
            errors.join("\n")
        );
    }
}

#[test]
fn schema_rejects_typos_wrong_types_and_unknown_values() {
    let validator = jsonschema::validator_for(&json_schema()).unwrap();
    let base = SHIPPED[0].source;
    for (what, broken) in [
        ("unknown key", base.replace("[cache]\nttl", "[cache]\ntll")),
        (
            "wrong type",
            base.replace("visitors = 200", "visitors = \"many\""),
        ),
        (
            "unknown enum value",
            base.replace("popularity = \"zipf\"", "popularity = \"pareto\""),
        ),
        (
            "duration without unit",
            base.replace("ttl = \"30s\"", "ttl = \"30\""),
        ),
    ] {
        assert_ne!(broken, base, "{what}: the replacement must apply");
        assert!(
            !validator.is_valid(&as_json(&broken)),
            "schema accepted a scenario with an {what}"
        );
    }
}

#[test]
fn schema_carries_descriptions_for_editors() {
    let schema = json_schema();
    let text = schema.to_string();
    assert!(text.contains("Seed of every random draw"));
    assert!(schema["properties"]["architectures"].is_object());
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for key in ["scenario", "traffic", "content", "architectures"] {
        assert!(required.contains(&key), "{key} is required");
    }
}
