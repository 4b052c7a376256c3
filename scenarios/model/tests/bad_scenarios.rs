//! Every validation rule has a broken file in `tests/bad/` whose first line
//! says the one diagnostic it must produce: `# expect: LINE:COL: message`.
//! Adding a rule means adding a file; this test finds it.

use std::fs;
use std::path::Path;

use ttlab_scenarios::{ScenarioError, parse_str};

#[test]
fn each_broken_file_fails_with_its_expected_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 100,
        "expected the full set of broken files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let name = format!("tests/bad/{}", path.file_name().unwrap().to_string_lossy());
        let source = fs::read_to_string(path).unwrap();
        let expected = source
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: first line must be `# expect: LINE:COL: message`"));
        match parse_str(&name, &source) {
            Ok(_) => failures.push(format!("{name}: validated, expected {expected}")),
            Err(ScenarioError::Invalid(diags)) => {
                let got: Vec<String> = diags.iter().map(ToString::to_string).collect();
                let want = format!("{name}:{expected}");
                if got != [want.clone()] {
                    failures.push(format!(
                        "{name}:\n  expected {want}\n  got      {}",
                        got.join("\n           ")
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} broken files misbehaved:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The smallest valid scenario, to build limit-breaking files from.
fn minimal(experiences: &str, attributes: &str) -> String {
    format!(
        r#"[scenario]
name = "limits"
seed = 1
duration = "10s"

[traffic]
visitors = 10
users = 1
{attributes}
{experiences}
[content]

[[content.entries]]
uid = "e"
content_type = "hero"

[[content.pages]]
path = "/"
entries = ["e"]

[[architectures]]
name = "ssr-nocache"
"#
    )
}

fn only_problem(source: &str) -> String {
    match parse_str("limits.toml", source) {
        Err(ScenarioError::Invalid(d)) if d.len() == 1 => d[0].to_string(),
        Err(e) => panic!("expected one problem, got {e}"),
        Ok(_) => panic!("expected a problem, the file validated"),
    }
}

#[test]
fn at_most_32_experiences() {
    let exp = |i: usize| {
        format!("[[experiences]]\nuid = \"e{i}\"\ntype = \"ab\"\nsplits = {{ \"0\" = 100 }}\n\n")
    };
    let ok: String = (0..32).map(exp).collect();
    assert!(parse_str("limits.toml", &minimal(&ok, "")).is_ok());
    let too_many: String = (0..33).map(exp).collect();
    let msg = only_problem(&minimal(&too_many, ""));
    assert!(
        msg.ends_with("at most 32 experiences are supported"),
        "{msg}"
    );
    assert!(
        msg.starts_with("limits.toml:170:1:"),
        "points at the 33rd experience (line 10 + 5 * 32): {msg}"
    );
}

#[test]
fn at_most_255_variants_per_experience() {
    // 256 variants of 25/64 % each sum to exactly 100.
    let splits: Vec<String> = (0..256).map(|i| format!("\"{i}\" = 0.390625")).collect();
    let exp = format!(
        "[[experiences]]\nuid = \"0\"\ntype = \"ab\"\nsplits = {{ {} }}\n",
        splits.join(", ")
    );
    let msg = only_problem(&minimal(&exp, ""));
    assert!(
        msg.ends_with("an experience has at most 255 variants"),
        "{msg}"
    );
}

#[test]
fn at_most_65535_values_per_attribute() {
    let values: Vec<String> = (0..65_536).map(|i| format!("v{i} = 1")).collect();
    let attr = format!(
        "[[attributes]]\nname = \"id\"\nvalues = {{ {} }}\n",
        values.join(", ")
    );
    let msg = only_problem(&minimal("", &attr));
    assert!(
        msg.ends_with("an attribute has at most 65535 values"),
        "{msg}"
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_file_order() {
    let source = minimal(
        "[[experiences]]\nuid = \"0\"\ntype = \"ab\"\nsplits = { \"0\" = 10 }\n",
        "",
    )
    .replace("visitors = 10", "visitors = 0")
    .replace("name = \"ssr-nocache\"", "name = \"ssr-cdn\"");
    let Err(ScenarioError::Invalid(d)) = parse_str("many.toml", &source) else {
        panic!("expected problems");
    };
    let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
    assert_eq!(d.len(), 3, "{d:?}");
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "sorted by position: {lines:?}"
    );
    assert!(d[0].message.contains("visitors must be at least 1"));
    assert!(d[1].message.contains("sum to 10, expected 100"));
    assert!(d[2].message.contains("unknown architecture \"ssr-cdn\""));
}

#[test]
fn unreadable_file_names_the_path() {
    let err = ttlab_scenarios::load(Path::new("no/such/scenario.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no/such/scenario.toml: cannot read the scenario file"),
        "{err}"
    );
}
