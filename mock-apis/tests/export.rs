//! The Delivery mock over a stack export (`tests/fixtures/export/`): every
//! field type in the CDA's shape with content tokens, variants, versions
//! after publishes, references and `include[]`, assets and their files, and
//! each query feature the Delivery SDK builds — against the real server on
//! port 0.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use common::{Harness, fixture_export, json, start_export};
use serde_json::Value;
use ttlab_mock_apis::MockConfig;
use ttlab_mock_apis::metrics::{Api, Endpoint};
use ttlab_scenarios::Micros;
use ttlab_scenarios::token::{self, EntryToken};
use ttlab_test_support::wait_until_async;

const HOME: &str = "/v3/content_types/page/entries/blt_p_home?environment=production";

/// The one content token at the end of `text`.
fn token_of(text: &Value) -> EntryToken {
    let s = text.as_str().unwrap_or_else(|| panic!("a string: {text}"));
    let found = token::parse(s).entries;
    assert_eq!(found.len(), 1, "one token in {s:?}");
    assert!(s.ends_with("]]"), "the token ends {s:?}");
    found.into_iter().next().unwrap()
}

fn base(entry: &str, version: u32) -> EntryToken {
    EntryToken {
        entry: entry.into(),
        variant: None,
        version,
    }
}

/// The text before the token.
fn text_of(v: &Value) -> &str {
    let s = v.as_str().unwrap();
    s.split(" [[ttlab:").next().unwrap()
}

async fn get(h: &Harness, path: &str) -> (u16, Value) {
    h.cda_json(path).await
}

async fn get_as(h: &Harness, path: &str, variants: &str) -> (u16, Value) {
    json(
        h.cda(path)
            .header("x-cs-variant-uid", variants)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// `/v3/content_types/{ct}/entries?environment=production&` + `q`.
async fn list(h: &Harness, ct: &str, q: &str) -> (u16, Value) {
    get(
        h,
        &format!("/v3/content_types/{ct}/entries?environment=production&{q}"),
    )
    .await
}

fn uids(body: &Value) -> Vec<&str> {
    body["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("entries in {body}"))
        .iter()
        .map(|e| e["uid"].as_str().unwrap())
        .collect()
}

fn query(json: &str) -> String {
    serde_urlencoded::to_string([("query", json)]).unwrap()
}

#[tokio::test]
async fn system_fields_are_the_cda_shape() {
    let h = start_export(MockConfig::default()).await;
    let (s, body) = get(&h, HOME).await;
    assert_eq!(s, 200, "{body}");
    let e = &body["entry"];
    assert_eq!(e["uid"], "blt_p_home");
    assert_eq!(e["_version"], 3, "the export's version before any publish");
    assert_eq!(e["locale"], "en-us");
    assert_eq!(e["tags"], serde_json::json!(["home", "featured"]));
    assert_eq!(e["ACL"], serde_json::json!({}));
    assert_eq!(e["_in_progress"], false);
    assert_eq!(e["created_at"], "2024-11-02T09:00:00.000Z");
    assert_eq!(e["created_by"], "blt_user_editor");
    assert_eq!(e["updated_at"], "2024-12-19T21:29:49.303Z");
    let pd = &e["publish_details"];
    assert!(pd.is_object(), "one object, not the export's list: {pd}");
    assert_eq!(
        pd["environment"], "blt_env_prod",
        "the export's uid of the environment"
    );
    assert_eq!(pd["locale"], "en-us");
    assert_eq!(
        pd["time"], "2024-12-19T21:30:01.252Z",
        "when the export says it was published, before any publish of the run"
    );
    assert_eq!(pd["user"], "blt_user_editor");
    assert!(pd.get("variants").is_none());
    assert!(
        e.get("_workflow").is_none(),
        "management-only fields are not answered"
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn text_fields_of_every_style_carry_the_token_and_the_rest_do_not() {
    let h = start_export(MockConfig::default()).await;
    let (_, body) = get(&h, HOME).await;
    let e = &body["entry"];
    let t = base("blt_p_home", 1);
    // Single line, multi-line, markdown, HTML rich text.
    for (field, text) in [
        ("title", "Home"),
        ("summary", "Welcome to the site.\nSecond line."),
        ("body", "# Hello\n\nSome *markdown*."),
        ("html", "<p>Rich <strong>text</strong></p>"),
    ] {
        assert_eq!(token_of(&e[field]), t, "{field}");
        assert_eq!(text_of(&e[field]), text, "{field}");
    }
    // Never a URL, a select, a number, a boolean, a date, a link, a custom field.
    assert_eq!(e["url"], "/");
    assert_eq!(e["colour"], "red");
    assert_eq!(e["rank"], 1);
    assert_eq!(e["featured"], true);
    assert_eq!(e["day"], "2024-12-01T00:00:00.000Z");
    assert_eq!(
        e["cta"],
        serde_json::json!({ "title": "Read more", "href": "/about" }),
        "a link is as stored"
    );
    assert_eq!(
        e["widget"]["value"]["score"], 5,
        "a custom field is as stored"
    );
    // A global field, each item of a multiple text field.
    assert_eq!(token_of(&e["seo"]["meta_title"]), t);
    assert_eq!(token_of(&e["seo"]["meta_description"]), t);
    let keywords = e["seo"]["keywords"].as_array().unwrap();
    assert_eq!(keywords.len(), 2);
    assert!(keywords.iter().all(|k| token_of(k) == t));
    // A group, and a multiple one.
    assert_eq!(text_of(&e["banner"]["heading"]), "Spring sale");
    assert_eq!(token_of(&e["banner"]["heading"]), t);
    assert_eq!(e["banner"]["height"], 300);
    assert_eq!(
        e["banner"]["link"],
        serde_json::json!({ "title": "Shop", "href": "/shop" })
    );
    let boxes = e["box"].as_array().unwrap();
    assert_eq!(text_of(&boxes[1]["label"]), "Second box");
    assert_eq!(token_of(&boxes[1]["label"]), t);
    // Modular blocks: a block's own fields and a global field as a block;
    // an empty string stays empty.
    let sections = e["sections"].as_array().unwrap();
    assert_eq!(text_of(&sections[0]["hero"]["heading"]), "Big hero");
    assert_eq!(token_of(&sections[0]["hero"]["heading"]), t);
    assert_eq!(token_of(&sections[1]["meta"]["meta_title"]), t);
    assert_eq!(sections[1]["meta"]["meta_description"], "");
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn json_rich_text_carries_the_token_in_its_last_text_leaf() {
    let h = start_export(MockConfig::default()).await;
    let (_, body) = get(&h, HOME).await;
    let doc = &body["entry"]["doc"];
    assert_eq!(doc["type"], "doc");
    let paragraphs = doc["children"].as_array().unwrap();
    assert_eq!(paragraphs[0]["children"][0]["text"], "First paragraph.");
    assert_eq!(paragraphs[1]["children"][0]["text"], "Second ");
    assert_eq!(paragraphs[1]["children"][1]["bold"], true);
    let link = &paragraphs[1]["children"][2];
    assert_eq!(link["attrs"]["url"], "/about");
    assert_eq!(text_of(&link["children"][0]["text"]), " link");
    assert_eq!(
        token_of(&link["children"][0]["text"]),
        base("blt_p_home", 1)
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn files_are_assets_on_this_mock_and_their_files_are_served() {
    let h = start_export(MockConfig::default()).await;
    let (_, body) = get(&h, HOME).await;
    let image = &body["entry"]["image"];
    assert_eq!(image["uid"], "blt_asset_hero");
    assert_eq!(image["filename"], "hero image.png");
    assert_eq!(image["content_type"], "image/png");
    assert_eq!(image["title"], "Hero image");
    assert_eq!(image["_version"], 1);
    assert_eq!(image["publish_details"]["environment"], "blt_env_prod");
    let url = image["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!(
            "{}/v3/assets/blt-ttlab-api-key/blt_asset_hero/blt0a1b2c3d4e5f6a7b/hero%20image.png",
            h.mocks.delivery_url
        ),
        "the images host's path, the export's version segment, on this mock"
    );
    let gallery = body["entry"]["gallery"].as_array().unwrap();
    assert_eq!(gallery.len(), 2);
    assert_eq!(gallery[1]["uid"], "blt_asset_dot");
    assert_eq!(
        body["entry"]["sections"][0]["hero"]["image"]["filename"],
        "dot.svg"
    );

    let entry_calls = h
        .mocks
        .state
        .metrics
        .requests(Api::Delivery, Endpoint::Entry);
    let resp = h.http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    let on_disk =
        std::fs::read(fixture_export().join("assets/files/blt_asset_hero/hero image.png")).unwrap();
    assert_eq!(
        resp.headers()["content-length"],
        on_disk.len().to_string().as_str()
    );
    assert_eq!(image["file_size"], on_disk.len().to_string());
    assert_eq!(resp.bytes().await.unwrap().as_ref(), on_disk.as_slice());
    let head = h.http.head(url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        on_disk.len().to_string().as_str()
    );
    assert!(head.bytes().await.unwrap().is_empty());
    let svg = h
        .http
        .get(gallery[1]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    // Unknown asset, another stack's key, a wrong name: 404.
    for wrong in [
        "/v3/assets/blt-ttlab-api-key/blt_nope/v1/x.png",
        "/v3/assets/another-key/blt_asset_hero/blt0a1b2c3d4e5f6a7b/hero%20image.png",
        "/v3/assets/blt-ttlab-api-key/blt_asset_hero/blt0a1b2c3d4e5f6a7b/other.png",
    ] {
        let r = h.http.get(h.d(wrong)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{wrong}");
    }
    let m = &h.mocks.state.metrics;
    assert_eq!(
        m.requests_with(Api::Delivery, Endpoint::AssetFile, "2xx"),
        3,
        "two GETs and a HEAD"
    );
    assert_eq!(
        m.requests_with(Api::Delivery, Endpoint::AssetFile, "4xx"),
        3
    );
    assert_eq!(
        m.requests(Api::Delivery, Endpoint::Entry),
        entry_calls,
        "files are not entry calls"
    );
    assert!(m.encode().contains("endpoint=\"asset_file\""));
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn references_stay_references_unless_included_at_their_path() {
    let h = start_export(MockConfig::default()).await;
    let (_, plain) = get(&h, HOME).await;
    assert_eq!(
        plain["entry"]["authors"],
        serde_json::json!([
            { "uid": "blt_a_ada", "_content_type_uid": "author" },
            { "uid": "blt_a_alan", "_content_type_uid": "author" }
        ])
    );
    // include[] and the SDK's include[][], nested a.b, in a group and in a block.
    let path = format!(
        "{HOME}&include%5B%5D%5B%5D=authors.books&include%5B%5D=box.author&include%5B%5D=sections.hero.author&include_reference_content_type_uid=true"
    );
    let (s, body) = get(&h, &path).await;
    assert_eq!(s, 200, "{body}");
    let e = &body["entry"];
    let authors = e["authors"].as_array().unwrap();
    assert_eq!(authors.len(), 2);
    assert_eq!(text_of(&authors[0]["title"]), "Ada Lovelace");
    assert_eq!(token_of(&authors[0]["title"]), base("blt_a_ada", 1));
    assert_eq!(authors[0]["_content_type_uid"], "author");
    assert_eq!(authors[0]["publish_details"]["environment"], "blt_env_prod");
    assert_eq!(
        authors[0]["photo"]["filename"], "dot.svg",
        "an included entry's files are assets too"
    );
    let books = authors[1]["books"].as_array().unwrap();
    assert_eq!(books.len(), 2);
    assert_eq!(books[0]["year"], 1950);
    assert_eq!(token_of(&books[0]["title"]), base("blt_b_paper", 1));
    assert_eq!(
        e["box"][0]["author"][0]["uid"], "blt_a_ada",
        "a reference in a group"
    );
    assert!(e["box"][0]["author"][0]["title"].is_string());
    assert_eq!(
        text_of(&e["sections"][0]["hero"]["author"][0]["title"]),
        "Alan Turing",
        "a reference in a block"
    );
    // Included entries' own references stay references past their path.
    let (_, one_level) = get(&h, &format!("{HOME}&include%5B%5D=authors")).await;
    assert_eq!(
        one_level["entry"]["authors"][1]["books"][0],
        serde_json::json!({ "uid": "blt_b_paper", "_content_type_uid": "book" })
    );
    assert!(
        one_level["entry"]["authors"][0]
            .get("_content_type_uid")
            .is_none(),
        "_content_type_uid only with include_reference_content_type_uid"
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn a_variant_overrides_top_level_text_and_references_get_theirs() {
    let h = start_export(MockConfig::default()).await;
    let path = format!("{HOME}&include%5B%5D=authors.books");
    let (_, body) = get_as(&h, &path, "cs_personalize_nope_1,cs_personalize_0_1").await;
    let e = &body["entry"];
    let v = EntryToken {
        entry: "blt_p_home".into(),
        variant: Some("cs_personalize_0_1".into()),
        version: 1,
    };
    assert_eq!(token_of(&e["title"]), v);
    assert_eq!(
        text_of(&e["title"]),
        "Home (cs_personalize_0_1)",
        "an A/B variant has no name: its alias"
    );
    assert_eq!(
        text_of(&e["summary"]),
        "Welcome to the site.\nSecond line. (cs_personalize_0_1)"
    );
    // Nested text keeps the base's value, with the variant's token.
    assert_eq!(text_of(&e["seo"]["meta_title"]), "Home | Site");
    assert_eq!(token_of(&e["seo"]["meta_title"]), v);
    assert_eq!(e["rank"], 1, "the rest is the base's");
    assert_eq!(e["_version"], 3);
    let variants = e["publish_details"]["variants"].as_object().unwrap();
    assert_eq!(variants.len(), 1);
    let (vuid, details) = variants.iter().next().unwrap();
    assert!(vuid.starts_with("cs"));
    assert_eq!(details["alias"], "cs_personalize_0_1");
    // The authors vary by experience 0 too; the books do not.
    let ada = &e["authors"][0];
    assert_eq!(text_of(&ada["title"]), "Ada Lovelace (cs_personalize_0_1)");
    assert_eq!(
        token_of(&ada["title"]).variant.as_deref(),
        Some("cs_personalize_0_1")
    );
    assert_eq!(token_of(&ada["books"][0]["title"]).variant, None);
    // A named variant reads its name.
    let (_, de) = get_as(&h, HOME, "cs_personalize_s_0").await;
    assert_eq!(text_of(&de["entry"]["title"]), "Home (Germans)");
    h.mocks.shutdown().await;
}

async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(v): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test]
async fn publishes_bump_versions_and_the_webhook_carries_the_full_shape() {
    let (url, got) = receiver().await;
    let h = start_export(MockConfig {
        webhook_urls: vec![url],
        ..MockConfig::default()
    })
    .await;
    h.clock.set(Micros::from_secs(15));
    let (_, body) = get(&h, HOME).await;
    let e = &body["entry"];
    assert_eq!(e["_version"], 4, "export 3 + one publish");
    assert_eq!(token_of(&e["title"]), base("blt_p_home", 2));
    assert_ne!(
        e["updated_at"], "2024-12-19T21:29:49.303Z",
        "updated when published in the run"
    );
    assert_eq!(
        e["updated_at"], e["publish_details"]["time"],
        "published then"
    );
    let (_, about) = get(
        &h,
        "/v3/content_types/page/entries/blt_p_about?environment=production",
    )
    .await;
    assert_eq!(about["entry"]["_version"], 1, "other entries unchanged");

    h.clock.set(Micros::from_secs(25));
    let r = h
        .http
        .post(h.d("/_ttlab/timeline/advance"))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await.1["publishes"], 2);
    wait_until_async(Duration::from_secs(2), "2 webhooks delivered", async || {
        h.mocks.state.metrics.webhooks("delivered") == 2
    })
    .await;
    let hooks = got.lock().unwrap().clone();
    let first = &hooks[0]["data"];
    assert_eq!(first["entry"]["uid"], "blt_p_home");
    assert_eq!(first["entry"]["_version"], 4);
    assert_eq!(token_of(&first["entry"]["title"]), base("blt_p_home", 2));
    assert_eq!(
        first["entry"]["image"]["filename"], "hero image.png",
        "the full shape, files as assets"
    );
    assert!(token_of(&first["entry"]["seo"]["meta_title"]).version == 2);
    assert_eq!(first["content_type"]["uid"], "page");
    assert!(
        first["content_type"]["schema"].as_array().unwrap().len() > 10,
        "the export's content type"
    );
    assert_eq!(first["environment"]["uid"], "blt_env_prod");
    let second = &hooks[1]["data"]["entry"];
    assert_eq!(
        token_of(&second["title"]),
        EntryToken {
            entry: "blt_p_home".into(),
            variant: Some("cs_personalize_0_1".into()),
            version: 3
        },
        "a base publish and the variant's own"
    );
    assert_eq!(
        second["publish_details"]["variants"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["alias"],
        "cs_personalize_0_1"
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn query_operators_match_the_exports_values_without_tokens() {
    let h = start_export(MockConfig::default()).await;
    let q = async |json: &str| {
        let (s, body) = list(&h, "page", &query(json)).await;
        assert_eq!(s, 200, "{json}: {body}");
        uids(&body)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The export's order: chunks in index order, entries by uid within one.
    assert_eq!(q("{}").await, ["blt_p_about", "blt_p_home", "blt_p_blog"]);
    assert_eq!(
        q(r#"{"title":"Home"}"#).await,
        ["blt_p_home"],
        "matched without the token"
    );
    assert_eq!(
        q(r#"{"title":{"$ne":"Home"}}"#).await,
        ["blt_p_about", "blt_p_blog"]
    );
    assert_eq!(
        q(r#"{"url":{"$in":["/","/blog"]}}"#).await,
        ["blt_p_home", "blt_p_blog"]
    );
    assert_eq!(
        q(r#"{"url":{"$nin":["/","/blog"]}}"#).await,
        ["blt_p_about"]
    );
    assert_eq!(q(r#"{"rank":{"$lt":2}}"#).await, ["blt_p_home"]);
    assert_eq!(
        q(r#"{"rank":{"$lte":2}}"#).await,
        ["blt_p_about", "blt_p_home"]
    );
    assert_eq!(q(r#"{"rank":{"$gt":2}}"#).await, ["blt_p_blog"]);
    assert_eq!(
        q(r#"{"rank":{"$gte":2}}"#).await,
        ["blt_p_about", "blt_p_blog"]
    );
    assert_eq!(
        q(r#"{"day":{"$gte":"2024-12-01"}}"#).await,
        ["blt_p_home", "blt_p_blog"]
    );
    assert_eq!(q(r#"{"featured":true}"#).await, ["blt_p_home"]);
    assert_eq!(q(r#"{"image":{"$exists":false}}"#).await, ["blt_p_blog"]);
    assert_eq!(
        q(r#"{"image":{"$exists":true}}"#).await,
        ["blt_p_about", "blt_p_home"]
    );
    assert_eq!(
        q(r#"{"title":{"$regex":"^b"}}"#).await,
        Vec::<String>::new()
    );
    assert_eq!(
        q(r#"{"title":{"$regex":"^b","$options":"i"}}"#).await,
        ["blt_p_blog"]
    );
    assert_eq!(
        q(r#"{"$or":[{"title":"Blog"},{"rank":1}]}"#).await,
        ["blt_p_home", "blt_p_blog"]
    );
    assert_eq!(
        q(r#"{"$and":[{"colour":"red"},{"rank":{"$gt":1}}]}"#).await,
        ["blt_p_blog"]
    );
    // Dotted paths into a global field, a multiple group, modular blocks.
    assert_eq!(
        q(r#"{"seo.meta_title":"About | Site"}"#).await,
        ["blt_p_about"]
    );
    assert_eq!(q(r#"{"box.label":"Second box"}"#).await, ["blt_p_home"]);
    assert_eq!(q(r#"{"banner.height":{"$lt":200}}"#).await, ["blt_p_about"]);
    assert_eq!(
        q(r#"{"sections.hero.heading":"Big hero"}"#).await,
        ["blt_p_home"]
    );
    assert_eq!(q(r#"{"seo.keywords":"blog"}"#).await, ["blt_p_blog"]);
    // tags, as the SDK's tags() sends them: any of.
    assert_eq!(q(r#"{"tags":["company","nope"]}"#).await, ["blt_p_about"]);
    assert_eq!(q(r#"{"tags":"featured"}"#).await, ["blt_p_home"]);
    // References: $in_query / $nin_query over the referenced entries.
    assert_eq!(
        q(r#"{"authors":{"$in_query":{"title":"Ada Lovelace"}}}"#).await,
        ["blt_p_home"]
    );
    assert_eq!(
        q(r#"{"authors":{"$nin_query":{"title":"Ada Lovelace"}}}"#).await,
        ["blt_p_about", "blt_p_blog"]
    );
    assert_eq!(
        q(r#"{"authors":{"$in_query":{"books":{"$in_query":{"year":1950}}}}}"#).await,
        ["blt_p_about", "blt_p_home"],
        "nested: pages by authors of a 1950 book"
    );
    assert_eq!(
        q(r#"{"authors.uid":"blt_a_alan"}"#).await,
        ["blt_p_about", "blt_p_home"]
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn an_unknown_operator_is_a_422_naming_it() {
    let h = start_export(MockConfig::default()).await;
    for (json, named) in [
        (r#"{"title":{"$near":"Home"}}"#, "$near"),
        (r#"{"$nor":[{"title":"Home"}]}"#, "$nor"),
        (r#"{"title":{"$regex":"a","$options":"z"}}"#, "'z'"),
    ] {
        // On a content type with entries and on one whose entries would
        // all be filtered anyway: never an empty answer.
        for ct in ["page", "book"] {
            let (s, body) = list(&h, ct, &query(json)).await;
            assert_eq!(s, 422, "{json}");
            assert_eq!(body["error_code"], 141);
            assert!(
                body["error_message"].as_str().unwrap().contains(named),
                "{body}"
            );
        }
    }
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn only_and_except_project_the_base_and_each_reference() {
    let h = start_export(MockConfig::default()).await;
    let (_, body) = list(
        &h,
        "page",
        "only%5BBASE%5D%5B%5D=title&only%5BBASE%5D%5B%5D=seo.meta_title&only%5BBASE%5D%5B%5D=authors\
         &include%5B%5D%5B%5D=authors&only%5Bauthors%5D%5B%5D=title",
    )
    .await;
    let home = &body["entries"][1];
    let mut keys: Vec<&String> = home.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["authors", "seo", "title", "uid"]);
    assert_eq!(home["seo"].as_object().unwrap().len(), 1);
    assert_eq!(token_of(&home["seo"]["meta_title"]), base("blt_p_home", 1));
    let ada = home["authors"][0].as_object().unwrap();
    let mut keys: Vec<&String> = ada.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["title", "uid"],
        "only[authors][] on the included entries"
    );
    // The SDK's indexed form, and except.
    let (_, indexed) = get(
        &h,
        &format!("{HOME}&only%5BBASE%5D%5B0%5D=url&only%5BBASE%5D%5B1%5D=rank"),
    )
    .await;
    let mut keys: Vec<&String> = indexed["entry"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["rank", "uid", "url"]);
    let (_, except) = get(
        &h,
        &format!(
            "{HOME}&except%5BBASE%5D%5B%5D=body&except%5BBASE%5D%5B%5D=seo.keywords\
             &include%5B%5D=authors&except%5Bauthors%5D%5B%5D=bio"
        ),
    )
    .await;
    let e = &except["entry"];
    assert!(e.get("body").is_none());
    assert!(e["seo"].get("keywords").is_none());
    assert!(e["seo"]["meta_title"].is_string());
    assert!(e["title"].is_string());
    assert!(e["authors"][0].get("bio").is_none());
    assert!(e["authors"][0]["title"].is_string());
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn count_paging_and_order() {
    let h = start_export(MockConfig::default()).await;
    let (_, all) = list(&h, "page", "include_count=true&limit=2").await;
    assert_eq!(all["count"], 3);
    assert_eq!(uids(&all), ["blt_p_about", "blt_p_home"]);
    let (_, rest) = list(&h, "page", "include_count=true&limit=2&skip=2").await;
    assert_eq!(uids(&rest), ["blt_p_blog"]);
    assert_eq!(rest["count"], 3);
    let (_, no_count) = list(&h, "page", "").await;
    assert!(no_count.get("count").is_none());
    let (_, asc) = list(&h, "page", "asc=rank").await;
    assert_eq!(uids(&asc), ["blt_p_home", "blt_p_about", "blt_p_blog"]);
    let (_, desc) = list(&h, "page", "desc=day").await;
    assert_eq!(uids(&desc), ["blt_p_blog", "blt_p_home", "blt_p_about"]);
    let (_, by_title) = list(&h, "book", "asc=title").await;
    assert_eq!(uids(&by_title), ["blt_b_paper", "blt_b_notes"]);
    // Filter, order and page together; count before paging.
    let (_, mixed) = list(
        &h,
        "page",
        &format!(
            "{}&desc=rank&limit=1&include_count=true",
            query(r#"{"rank":{"$gte":2}}"#)
        ),
    )
    .await;
    assert_eq!(uids(&mixed), ["blt_p_blog"]);
    assert_eq!(mixed["count"], 2);
    // Unknown parameters are ignored, as the real API ignores them.
    let (s, ignored) = list(
        &h,
        "page",
        "typeahead=x&include_branch=true&whatever%5B%5D=1",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(uids(&ignored).len(), 3);
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn locales_and_fallback_follow_the_exports_chain() {
    let h = start_export(MockConfig::default()).await;
    let at = |uid: &str, q: &str| {
        format!("/v3/content_types/page/entries/{uid}?environment=production&{q}")
    };
    // An entry the locale has: its own version there.
    let (s, fr) = get(&h, &at("blt_p_home", "locale=fr-fr")).await;
    assert_eq!(s, 200);
    assert_eq!(fr["entry"]["locale"], "fr-fr");
    assert_eq!(text_of(&fr["entry"]["title"]), "Accueil");
    assert_eq!(fr["entry"]["_version"], 2);
    assert_eq!(fr["entry"]["publish_details"]["locale"], "fr-fr");
    // One it lacks: 422/141 without fallback, the fallback's with it.
    let (s, missing) = get(&h, &at("blt_p_about", "locale=fr-fr")).await;
    assert_eq!((s, missing["error_code"].as_u64()), (422, Some(141)));
    let (s, fell) = get(&h, &at("blt_p_about", "locale=fr-fr&include_fallback=true")).await;
    assert_eq!(s, 200);
    assert_eq!(fell["entry"]["locale"], "en-us");
    assert_eq!(text_of(&fell["entry"]["title"]), "About us");
    // de-de → fr-fr → en-us.
    let (_, de_home) = get(&h, &at("blt_p_home", "locale=de-de&include_fallback=true")).await;
    assert_eq!(de_home["entry"]["locale"], "fr-fr");
    let (_, de_about) = get(&h, &at("blt_p_about", "locale=de-de&include_fallback=true")).await;
    assert_eq!(de_about["entry"]["locale"], "en-us");
    // Lists: what the locale has, or every entry by its nearest locale.
    let (_, fr_list) = list(&h, "page", "locale=fr-fr").await;
    assert_eq!(uids(&fr_list), ["blt_p_home"]);
    let (_, fr_all) = list(&h, "page", "locale=fr-fr&include_fallback=true").await;
    assert_eq!(uids(&fr_all), ["blt_p_about", "blt_p_home", "blt_p_blog"]);
    let locales: Vec<&str> = fr_all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["locale"].as_str().unwrap())
        .collect();
    assert_eq!(locales, ["en-us", "fr-fr", "en-us"]);
    // Queries match the served locale's values; references follow the locale.
    let (_, accueil) = list(
        &h,
        "page",
        &format!("locale=fr-fr&{}", query(r#"{"title":"Accueil"}"#)),
    )
    .await;
    assert_eq!(uids(&accueil), ["blt_p_home"]);
    let (_, with_refs) = get(
        &h,
        &at(
            "blt_p_home",
            "locale=fr-fr&include_fallback=true&include%5B%5D=authors",
        ),
    )
    .await;
    let authors = with_refs["entry"]["authors"].as_array().unwrap();
    assert_eq!(text_of(&authors[0]["bio"]), "A écrit le premier programme.");
    assert_eq!(authors[1]["locale"], "en-us", "Alan has no French entry");
    let (_, no_fallback_refs) =
        get(&h, &at("blt_p_home", "locale=fr-fr&include%5B%5D=authors")).await;
    assert_eq!(
        no_fallback_refs["entry"]["authors"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "an included entry the locale lacks is left out"
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn content_types_schemas_and_assets_have_their_endpoints() {
    let h = start_export(MockConfig::default()).await;
    let (_, with_ct) = get(&h, &format!("{HOME}&include_content_type=true")).await;
    assert_eq!(with_ct["content_type"]["uid"], "page");
    assert_eq!(with_ct["content_type"]["options"]["url_prefix"], "/");
    let (_, with_schema) = list(&h, "book", "include_schema=true&include_content_type=true").await;
    assert_eq!(with_schema["schema"][1]["uid"], "year");
    assert_eq!(with_schema["content_type"]["title"], "Book");

    let (status, author) = get(&h, "/v3/content_types/author?environment=production").await;
    assert_eq!(status, 200);
    assert_eq!(
        author["content_type"]["schema"][3]["data_type"],
        "reference"
    );
    let (status, missing) = get(&h, "/v3/content_types/nope?environment=production").await;
    assert_eq!((status, missing["error_code"].as_u64()), (422, Some(118)));
    let (_, all) = get(
        &h,
        "/v3/content_types?environment=production&include_count=true",
    )
    .await;
    assert_eq!(all["count"], 3);
    let listed: Vec<&str> = all["content_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["page", "author", "book"]);
    let (_, no_entries) = get(&h, "/v3/content_types/nope/entries?environment=production").await;
    assert_eq!(no_entries["error_code"], 118);

    let (status, asset) = get(&h, "/v3/assets/blt_asset_dot?environment=production").await;
    assert_eq!(status, 200);
    assert_eq!(asset["asset"]["filename"], "dot.svg");
    assert!(
        asset["asset"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&h.mocks.delivery_url)
    );
    let (status, none) = get(&h, "/v3/assets/blt_nope?environment=production").await;
    assert_eq!((status, none["error_code"].as_u64()), (422, Some(145)));
    let (_, assets) = get(&h, "/v3/assets?environment=production&include_count=true").await;
    assert_eq!(assets["count"], 2);
    let (_, pngs) = get(
        &h,
        &format!(
            "/v3/assets?environment=production&{}",
            query(r#"{"content_type":"image/png"}"#)
        ),
    )
    .await;
    assert_eq!(pngs["assets"].as_array().unwrap().len(), 1);
    assert_eq!(pngs["assets"][0]["uid"], "blt_asset_hero");
    // Every one of these needs the credentials, as the API does.
    let r = h
        .http
        .get(h.d("/v3/assets?environment=production"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let m = &h.mocks.state.metrics;
    assert_eq!(m.requests(Api::Delivery, Endpoint::Asset), 2);
    assert_eq!(m.requests(Api::Delivery, Endpoint::Assets), 3);
    assert_eq!(m.requests(Api::Delivery, Endpoint::ContentType), 2);
    assert_eq!(m.requests(Api::Delivery, Endpoint::ContentTypes), 1);
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn ttlabs_origin_renders_export_pages_with_the_truths_tokens() {
    // The reference origin in front of the mocks (ssr-origin-variant):
    // pages name export entries; what it renders carries their tokens.
    let lab = ttlab_test_support::mocks::Lab::start(&common::export_scenario().build(), 0).await;
    for v in 0..4 {
        let uid = lab.uid(v);
        let page = lab.get("/about", Some(&uid)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        // The origin asks with the visitor's aliases in experience order:
        // the A/B test's comes first and every entry here has it.
        let truth = lab.world.variants_of(v as u32, Micros::ZERO);
        let exp0 = truth.get(0).map(|var| format!("cs_personalize_0_{var}"));
        assert!(exp0.is_some(), "everyone is in the A/B test");
        let expected = vec![
            EntryToken {
                entry: "blt_p_about".into(),
                variant: exp0.clone(),
                version: 1,
            },
            EntryToken {
                entry: "blt_a_alan".into(),
                variant: exp0.clone(),
                version: 1,
            },
        ];
        // Title and body of one entry carry the same token.
        let mut found = token::parse(&page.body).entries;
        found.dedup();
        assert_eq!(found, expected, "visitor {v}: {}", page.body);
        assert!(page.body.contains("About us"), "{}", page.body);
    }
    lab.stop().await;
}
