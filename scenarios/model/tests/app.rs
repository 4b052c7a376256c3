//! `[app]` validates into `model::App`: defaults filled, the folder taken
//! from the scenario file's, templates kept for the run to render.

use ttlab_scenarios::Micros;
use ttlab_scenarios::app::{App, Values};
use ttlab_scenarios::parse_str;

const SCENARIO: &str = r#"[scenario]
name = "own-app"
seed = 1
duration = "10s"

[traffic]
visitors = 10
users = 2

[[experiences]]
uid = "0"
type = "ab"
splits = { "0" = 50, "1" = 50 }

[content]
locale = "de-de"

[[content.entries]]
uid = "hero"
content_type = "hero"
variants_for = ["0"]

[[content.pages]]
path = "/"
entries = ["hero"]

[[architectures]]
name = "ssr-cdn-shared"

[[architectures]]
name = "ssr-edge"
cache = { policy = "http" }

[[architectures]]
name = "as-is"

[app]
command = "node server.mjs"
"#;

fn values() -> Values {
    Values {
        api_key: "blt-key".to_owned(),
        delivery_token: "cs-token".to_owned(),
        environment: "production".to_owned(),
        project_uid: "proj".to_owned(),
        personalize_url: "http://127.0.0.1:1001".to_owned(),
        delivery_url: "http://127.0.0.1:1002".to_owned(),
        delivery_host: "127.0.0.1".to_owned(),
        delivery_port: 1002,
        port: 1003,
        locale: "de-de".to_owned(),
    }
}

#[test]
fn defaults_fill_an_app_table_that_names_only_its_command() {
    let s = parse_str("sites/shop/ttlab.toml", SCENARIO).unwrap();
    let app = s.app.expect("the [app] table");
    assert_eq!(
        app,
        App::with_command("node server.mjs", "sites/shop".into())
    );
    assert_eq!(app.ready, "/");
    assert_eq!(app.ready_timeout, Micros::from_secs(30));
    assert_eq!(app.variant_param, "personalize_variants");
    assert_eq!(app.url_for(&values()), "http://127.0.0.1:1003");
    let names: Vec<_> = s.architectures.iter().map(|a| a.arch.as_str()).collect();
    assert_eq!(names, ["ssr-cdn-shared", "ssr-edge", "as-is"]);
}

#[test]
fn every_setting_is_read_and_the_env_map_rendered_after_the_standard_variables() {
    let dir = std::env::temp_dir().join(format!("ttlab-app-model-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("site")).unwrap();
    let text = format!(
        "{SCENARIO}dir = \"site\"\nurl = \"http://localhost:{{port}}/\"\nready = \"/health\"\nready_timeout = \"2m\"\nvariant_param = \"pv\"\n\n[app.env]\nCONTENTSTACK_API_KEY = \"{{api_key}}\"\nDELIVERY = \"{{delivery_host}}:{{delivery_port}}\"\nLITERAL = \"{{{{not a placeholder}}}}\"\n"
    );
    let file = dir.join("ttlab.toml");
    std::fs::write(&file, &text).unwrap();
    let app = ttlab_scenarios::load(&file).unwrap().app.unwrap();
    assert_eq!(app.dir, dir.join("site"));
    assert_eq!(app.url_for(&values()), "http://localhost:1003");
    assert_eq!(app.ready, "/health");
    assert_eq!(app.ready_timeout, Micros::from_secs(120));
    assert_eq!(app.variant_param, "pv");
    let env = app.environment(&values());
    let get = |n: &str| {
        env.iter()
            .find(|(k, _)| k == n)
            .map_or_else(|| panic!("{n} missing from {env:?}"), |(_, v)| v.clone())
    };
    assert_eq!(get("CONTENTSTACK_API_KEY"), "blt-key");
    assert_eq!(get("DELIVERY"), "127.0.0.1:1002");
    assert_eq!(get("LITERAL"), "{not a placeholder}");
    assert_eq!(get("TTLAB_PERSONALIZE_URL"), "http://127.0.0.1:1001");
    assert_eq!(get("TTLAB_LOCALE"), "de-de");
    assert_eq!(get("PORT"), "1003");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_an_app_table_there_is_no_app() {
    let text = SCENARIO
        .replace("[[architectures]]\nname = \"as-is\"\n\n", "")
        .replace("[app]\ncommand = \"node server.mjs\"\n", "");
    let s = parse_str("x.toml", &text).unwrap();
    assert!(s.app.is_none());
}
