//! The Delivery mock: entries, variants, versions, queries and every error path.

mod common;

use common::{SCENARIO, json, start};
use serde_json::Value;
use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::Micros;
use ttlab_scenarios::token;

fn entry_token(entry: &Value) -> token::EntryToken {
    let t = token::parse(entry["title"].as_str().unwrap());
    assert_eq!(
        token::parse(entry["body"].as_str().unwrap()).entries,
        t.entries,
        "title and body carry the same token"
    );
    t.entries
        .into_iter()
        .next()
        .expect("a content token in the title")
}

#[tokio::test]
async fn entry_with_variants_first_listed_wins_and_versions_follow_publishes() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let path = "/v3/content_types/hero/entries/home_hero?environment=production";
    let get = |variants: Option<&'static str>| {
        let r = h.cda(path);
        let r = match variants {
            Some(v) => r.header("x-cs-variant-uid", v),
            None => r,
        };
        async move { json(r.send().await.unwrap()).await }
    };
    let (s, base) = get(None).await;
    assert_eq!(s, 200);
    let e = &base["entry"];
    assert_eq!(e["uid"], "home_hero");
    assert_eq!(e["_version"], 1);
    assert_eq!(e["locale"], "en-us");
    assert!(e["publish_details"]["variants"].is_null());
    assert_eq!(
        entry_token(e),
        token::EntryToken {
            entry: "home_hero".into(),
            variant: None,
            version: 1
        }
    );

    // Both variants exist on the entry: the first listed wins; unknown aliases are ignored.
    let (_, v) = get(Some(
        "cs_personalize_nope_9, cs_personalize_a_0,cs_personalize_0_1",
    ))
    .await;
    assert_eq!(
        entry_token(&v["entry"]).variant.as_deref(),
        Some("cs_personalize_a_0")
    );
    let pd = &v["entry"]["publish_details"]["variants"];
    let (vuid, details) = pd.as_object().unwrap().iter().next().unwrap();
    assert!(vuid.starts_with("cs"), "{vuid}");
    assert_eq!(details["alias"], "cs_personalize_a_0");
    // Variant uids work as well as aliases.
    let (_, by_uid) = json(
        h.cda(path)
            .header("x-cs-variant-uid", vuid.as_str())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        entry_token(&by_uid["entry"]).variant.as_deref(),
        Some("cs_personalize_a_0")
    );
    // A variant the entry lacks leaves the base entry.
    let (_, none) = get(Some("cs_personalize_z_0")).await;
    assert_eq!(entry_token(&none["entry"]).variant, None);

    // Base publish at 10 s raises every view; the variant publish at 20 s only its own.
    h.clock.set(Micros::from_secs(10));
    let (_, b10) = get(None).await;
    let (_, v10) = get(Some("cs_personalize_0_1")).await;
    assert_eq!(
        (
            entry_token(&b10["entry"]).version,
            entry_token(&v10["entry"]).version
        ),
        (2, 2)
    );
    assert_eq!(b10["entry"]["_version"], 2);
    h.clock.set(Micros::from_secs(20));
    let (_, b20) = get(None).await;
    let (_, v20) = get(Some("cs_personalize_0_1")).await;
    let (_, o20) = get(Some("cs_personalize_0_0")).await;
    assert_eq!(entry_token(&b20["entry"]).version, 2);
    assert_eq!(entry_token(&v20["entry"]).version, 3);
    assert_eq!(entry_token(&o20["entry"]).version, 2);
    assert_ne!(b20["entry"]["updated_at"], b20["entry"]["created_at"]);
    // Same answers as the truth functions.
    for t in [0, 10, 20, 59] {
        h.clock.set(Micros::from_secs(t));
        let (_, got) = get(Some("cs_personalize_0_1")).await;
        let v = Some(ttlab_scenarios::model::VariantRef {
            experience: 0,
            variant: 1,
        });
        assert_eq!(
            entry_token(&got["entry"]).version,
            h.world.entry_version(0, v, Micros::from_secs(t))
        );
    }
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn queries_filter_page_and_count() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let q = |query: &str| {
        let url = format!("/v3/content_types/product/entries?environment=production&{query}");
        let r = h.cda(&url);
        async move { json(r.send().await.unwrap()).await }
    };
    let (s, all) = q("include_count=true").await;
    assert_eq!(s, 200);
    assert_eq!(all["count"], 12);
    assert_eq!(all["entries"].as_array().unwrap().len(), 12);
    let (_, page) = q("skip=10&limit=5&include_count=true").await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    assert_eq!(page["count"], 12);
    let (_, no_count) = q("limit=1").await;
    assert!(
        no_count.get("count").is_none(),
        "count only with include_count=true"
    );
    let filter = serde_urlencoded::to_string([("query", r#"{"uid":"product_3_0"}"#)]).unwrap();
    let (_, one) = q(&filter).await;
    assert_eq!(one["entries"][0]["uid"], "product_3_0");
    assert_eq!(one["entries"].as_array().unwrap().len(), 1);
    let filter = serde_urlencoded::to_string([(
        "query",
        r#"{"$or":[{"uid":"product_1_0"},{"uid":{"$in":["product_2_0"]}}]}"#,
    )])
    .unwrap();
    assert_eq!(q(&filter).await.1["entries"].as_array().unwrap().len(), 2);
    let (_, other_locale) = q("locale=fr-fr").await;
    assert_eq!(other_locale["entries"].as_array().unwrap().len(), 0);
    // Bad query JSON, unsupported operators, bad numbers.
    let (s, b) = q("query=%7Bnope").await;
    assert_eq!(s, 400);
    assert!(
        b["error_message"]
            .as_str()
            .unwrap()
            .contains("query must be URL-encoded JSON")
    );
    // $regex is matched; an operator the mock does not know is an error
    // naming it, even where no entry would be looked at.
    let filter = serde_urlencoded::to_string([(
        "query",
        r#"{"uid":{"$regex":"^PRODUCT_1_","$options":"i"}}"#,
    )])
    .unwrap();
    let (s, b) = q(&filter).await;
    assert_eq!(s, 200);
    assert_eq!(b["entries"][0]["uid"], "product_1_0");
    let filter = serde_urlencoded::to_string([("query", r#"{"uid":{"$near":"p"}}"#)]).unwrap();
    let (s, b) = q(&filter).await;
    assert_eq!((s, b["error_code"].as_u64()), (422, Some(141)));
    assert!(
        b["error_message"].as_str().unwrap().contains("$near"),
        "{b}"
    );
    assert_eq!(q("limit=lots").await.0, 400);
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn error_paths_have_the_real_shapes_and_are_not_401() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let url = h.d("/v3/content_types/hero/entries/home_hero?environment=production");
    let c = &h.http;
    let check = |v: &Value, code: u64| {
        assert_eq!(v["error_code"].as_u64(), Some(code), "{v}");
        assert!(v["error_message"].is_string(), "{v}");
        assert!(v["errors"].is_object(), "{v}");
    };
    let (s, b) = json(
        c.get(&url)
            .header("api_key", "wrong")
            .header("access_token", "cs-ttlab-delivery-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 412);
    check(&b, 109);
    let (s, b) = json(
        c.get(&url)
            .header("api_key", "blt-ttlab-api-key")
            .header("access_token", "wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 412);
    check(&b, 105);
    let (s, b) = json(c.get(&url).send().await.unwrap()).await;
    assert_eq!(s, 412, "no credentials at all");
    check(&b, 109);
    let (s, b) = h.cda_json("/v3/content_types/hero/entries/home_hero").await;
    assert_eq!(s, 422);
    check(&b, 141);
    assert!(b["errors"]["environment"].is_array());
    let (s, b) = h
        .cda_json("/v3/content_types/hero/entries/home_hero?environment=staging")
        .await;
    assert_eq!(s, 422);
    check(&b, 141);
    let (s, b) = h
        .cda_json("/v3/content_types/villain/entries/home_hero?environment=production")
        .await;
    assert_eq!(s, 422);
    check(&b, 118);
    let (s, b) = h
        .cda_json("/v3/content_types/hero/entries/nope?environment=production")
        .await;
    assert_eq!(s, 422);
    check(&b, 141);
    assert_eq!(b["error_message"], "The requested object doesn't exist.");
    let (s, b) = h
        .cda_json("/v3/content_types/footer/entries/home_hero?environment=production")
        .await;
    assert_eq!(s, 422, "an entry under another content type does not exist");
    check(&b, 141);
    let (s, _) = json(
        h.cda("/v3/content_types/hero/entries/home_hero?environment=production")
            .header("x-big", "y".repeat(20_000))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 431);
    let (s, _) = h.cda_json("/v2/whatever").await;
    assert_eq!(s, 404);
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn without_an_export_content_types_describe_the_synthetic_entries_and_there_are_no_assets() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let (s, hero) = h
        .cda_json("/v3/content_types/hero?environment=production")
        .await;
    assert_eq!(s, 200);
    let fields: Vec<&str> = hero["content_type"]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uid"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "body"]);
    let (s, none) = h
        .cda_json("/v3/content_types/nope?environment=production")
        .await;
    assert_eq!((s, none["error_code"].as_u64()), (422, Some(118)));
    let (_, all) = h
        .cda_json("/v3/content_types?environment=production&include_count=true")
        .await;
    assert_eq!(all["count"], 4, "hero, banner, footer, product");
    let (_, assets) = h
        .cda_json("/v3/assets?environment=production&include_count=true")
        .await;
    assert_eq!(assets["assets"], serde_json::json!([]));
    assert_eq!(assets["count"], 0);
    let (s, asset) = h.cda_json("/v3/assets/blt1?environment=production").await;
    assert_eq!((s, asset["error_code"].as_u64()), (422, Some(145)));
    let file = h
        .http
        .get(h.d("/v3/assets/blt-ttlab-api-key/blt1/v1/a.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 404);
    h.mocks.shutdown().await;
}
