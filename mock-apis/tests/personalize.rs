//! The Personalize Edge mock: truth, wire behaviour and every error path.

mod common;

use common::{SCENARIO, json, start};
use serde_json::{Value, json};
use ttlab_mock_apis::MockConfig;
use ttlab_mock_apis::metrics::{Api, Endpoint};
use ttlab_scenarios::Micros;

/// The manifest's variants as (experience, variant-or-null) pairs.
fn manifest_pairs(body: &Value) -> Vec<(String, Option<String>)> {
    body["experiences"]
        .as_array()
        .expect("experiences array")
        .iter()
        .map(|e| {
            (
                e["shortUid"].as_str().unwrap().to_owned(),
                e["activeVariantShortUid"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn manifest_matches_variants_of_for_every_visitor_at_several_times() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let scenario = h.world.scenario();
    let mut compared = 0;
    for t in [0, 15, 29, 30, 45].map(Micros::from_secs) {
        h.clock.set(t);
        for (v, visitor) in (0..h.world.visitor_count()).map(|v| (v as usize, h.world.visitor(v))) {
            let resp = h.manifest(Some(&visitor.uid)).send().await.unwrap();
            assert_eq!(
                resp.headers()["x-cs-personalize-user-uid"],
                visitor.uid.as_str()
            );
            let (status, body) = json(resp).await;
            assert_eq!(status, 200);
            let truth = h.world.variants_of(v as u32, t);
            let expected: Vec<(String, Option<String>)> = scenario
                .experiences
                .iter()
                .enumerate()
                .filter(|(i, _)| h.world.is_active(*i as u16, t))
                .map(|(i, e)| {
                    (
                        e.uid.clone(),
                        truth
                            .get(i as u16)
                            .map(|k| e.variants[usize::from(k)].clone()),
                    )
                })
                .collect();
            assert_eq!(manifest_pairs(&body), expected, "visitor {v} at {t}");
            // activeVariants mirrors the list.
            for (e, var) in &expected {
                assert_eq!(body["activeVariants"][e], json!(var));
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 1500);
    // The inactive experience joins the manifest when it activates at 30 s.
    h.clock.set(Micros::from_secs(29));
    let (_, before) = json(
        h.manifest(Some(h.world.uid(0).as_str()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    h.clock.set(Micros::from_secs(30));
    let (_, after) = json(
        h.manifest(Some(h.world.uid(0).as_str()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(before["experiences"].as_array().unwrap().len(), 2);
    assert_eq!(
        after["experiences"][2],
        json!({ "shortUid": "z", "activeVariantShortUid": "0" })
    );
    assert_eq!(
        h.mocks
            .state
            .metrics
            .requests(Api::Personalize, Endpoint::Manifest),
        1502
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn new_users_are_minted_and_attributes_set_by_patch_drive_their_manifest() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let resp = h.manifest(None).send().await.unwrap();
    let uid = resp.headers()["x-cs-personalize-user-uid"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(uid.len(), 36, "a UUID-shaped uid: {uid}");
    assert!(
        h.world.visitor_index(&uid).is_none(),
        "minted uids never collide with the population"
    );
    let (_, body) = json(resp).await;
    assert_eq!(
        body["activeVariants"]["a"],
        Value::Null,
        "no attributes yet: no segment"
    );
    // The SDK's set(): PATCH with a text/plain JSON body.
    let patch = h
        .http
        .patch(h.p("/user-attributes"))
        .header("x-project-uid", "ttlab-project")
        .header("x-cs-personalize-user-uid", &uid)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(r#"{"country":"FR","plan":"pro","age":31}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let (_, body) = json(h.manifest(Some(&uid)).send().await.unwrap()).await;
    assert_eq!(
        body["activeVariants"]["a"], "1",
        "FR + pro matches variant 1"
    );
    // Live attributes apply to one evaluation only.
    let (_, live) = json(
        h.manifest(Some(&uid))
            .header("x-live-attributes", r#"{"country":"DE"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(live["activeVariants"]["a"], "0");
    let (_, again) = json(h.manifest(Some(&uid)).send().await.unwrap()).await;
    assert_eq!(again["activeVariants"]["a"], "1");
    // Merge copies attributes to the new user id.
    let merge = h
        .http
        .post(h.p("/user-attributes/actions/merge"))
        .header("x-project-uid", "ttlab-project")
        .body(format!(
            r#"{{"sourceUserUid":"{uid}","targetUserUid":"known-user-1"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(merge.status(), 200);
    let (_, merged) = json(h.manifest(Some("known-user-1")).send().await.unwrap()).await;
    assert_eq!(merged["activeVariants"]["a"], "1");
    assert_eq!(h.mocks.state.metrics.visitors_created(), 1);
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn tags_filter_the_manifest() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let uid = h.world.uid(3).to_string();
    let resp = h
        .http
        .get(h.p("/manifest?tags[]=geo"))
        .header("x-project-uid", "ttlab-project")
        .header("x-cs-personalize-user-uid", &uid)
        .send()
        .await
        .unwrap();
    let (_, body) = json(resp).await;
    let uids: Vec<&str> = body["experiences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["shortUid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, ["a"]);
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn events_count_impressions_and_conversions() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let post = |body: &'static str| {
        h.http
            .post(h.p("/events"))
            .header("x-project-uid", "ttlab-project")
            .header("x-cs-personalize-user-uid", "u-1")
            .body(body)
            .send()
    };
    let ok = post(r#"[{"experienceShortUid":"0","variantShortUid":"1","type":"IMPRESSION"},{"eventKey":"buy","type":"EVENT"},{"eventKey":"buy","type":"EVENT"}]"#).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        post("[]").await.unwrap().status(),
        200,
        "the SDK sends empty batches"
    );
    let bad = post(r#"[{"experienceShortUid":"0","variantShortUid":"1","type":"IMPRESSION"},{"type":"CLICK"}]"#).await.unwrap();
    let (status, body) = json(bad).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "personalize.EVENTS.INVALID_BODY");
    assert!(body["message"].as_str().unwrap().contains("event 1"));
    let m = &h.mocks.state.metrics;
    assert_eq!(
        m.impressions("0", "1"),
        1,
        "a rejected batch counts nothing"
    );
    assert_eq!(m.events("buy"), 2);
    h.mocks.shutdown().await;
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one list of every error path, in order
async fn error_paths_answer_clean_4xx() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let client = &h.http;
    // Unknown and missing project.
    let (s, b) = json(
        client
            .get(h.p("/manifest"))
            .header("x-project-uid", "nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (404, "personalize.MANIFEST.PROJECT_NOT_FOUND")
    );
    let (s, b) = json(client.get(h.p("/manifest")).send().await.unwrap()).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (400, "personalize.MANIFEST.PROJECT_UID_MISSING")
    );
    // Headers are case-insensitive.
    let r = client
        .get(h.p("/manifest"))
        .header("X-Project-Uid", "ttlab-project")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Malformed live attributes.
    let (s, b) = json(
        h.manifest(Some("u"))
            .header("x-live-attributes", "{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (400, "personalize.MANIFEST.INVALID_LIVE_ATTRIBUTES")
    );
    // Malformed and mis-shaped bodies.
    for (body, needle) in [
        ("{oops", "not JSON"),
        ("[1,2]", "JSON object"),
        (r#"{"a":{"b":1}}"#, "strings, numbers or booleans"),
    ] {
        let r = client
            .patch(h.p("/user-attributes"))
            .header("x-project-uid", "ttlab-project")
            .header("x-cs-personalize-user-uid", "u")
            .body(body)
            .send()
            .await
            .unwrap();
        let (s, b) = json(r).await;
        assert_eq!(s, 400, "{body}");
        assert!(b["message"].as_str().unwrap().contains(needle), "{b}");
    }
    let r = client
        .patch(h.p("/user-attributes"))
        .header("x-project-uid", "ttlab-project")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await.0, 400, "user uid required");
    let r = client
        .post(h.p("/events"))
        .header("x-project-uid", "ttlab-project")
        .header("x-cs-personalize-user-uid", "u")
        .body(r#"{"type":"EVENT"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await.0, 400, "events must be an array");
    let r = client
        .post(h.p("/user-attributes/actions/merge"))
        .header("x-project-uid", "ttlab-project")
        .body(r#"{"sourceUserUid":""}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await.0, 400);
    // Oversized headers.
    let r = h
        .manifest(Some("u"))
        .header("x-big", "x".repeat(20_000))
        .send()
        .await
        .unwrap();
    let (s, b) = json(r).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (431, "personalize.HEADERS_TOO_LARGE")
    );
    // Unknown path and wrong method.
    assert_eq!(
        json(client.get(h.p("/nope")).send().await.unwrap()).await.0,
        404
    );
    assert_eq!(
        client
            .delete(h.p("/manifest"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    h.mocks.shutdown().await;
}

#[tokio::test]
async fn cors_lets_a_browser_send_the_sdk_headers_and_read_the_user_uid() {
    let h = start(&SCENARIO, MockConfig::default()).await;
    let r = h
        .http
        .request(reqwest::Method::OPTIONS, h.p("/user-attributes"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "x-project-uid,x-cs-personalize-user-uid,x-live-attributes,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let allow = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "x-project-uid",
        "x-cs-personalize-user-uid",
        "x-live-attributes",
    ] {
        assert!(allow.contains(h), "{allow}");
    }
    assert!(
        r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PATCH")
    );
    let r = h
        .manifest(Some("u"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-expose-headers"],
        "x-cs-personalize-user-uid"
    );
    h.mocks.shutdown().await;
}
