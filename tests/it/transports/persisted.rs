//! Persisted documents: hashes learned and shared between instances, kept
//! bounded in Redis, and `--only-persisted` running the manifest's
//! documents and the service's own, nothing else.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{json, Value};
use tracking::api::prepare::persisted::sha256_hex;

use super::http::GRAPHQL_RESPONSE;
use crate::common::{
    error_code_of, keys::temp_dir, within, Client, StoreKind, TestApp, DRIVER, PATIENCE, RIDER,
};

/// Persisted queries: a hash the service does not know, then the text with
/// its hash, then the hash alone; a text that does not match its hash, or
/// is not a valid document, is never remembered. Where the fleet is on
/// Redis, a second instance knows what the first was told.
pub(super) async fn persisted_queries_round_trip(store: StoreKind) {
    let first = TestApp::spawn(store, |_| {}).await;
    let second = first.another_instance(|_| {}).await;
    let query = "query Apq { __typename }";
    let hash = sha256_hex(query);
    let by_hash = json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}});
    let with_text = json!({"query": query, "extensions": by_hash["extensions"]});
    let post = |app: &Client, body: Value| {
        let app = app.clone();
        async move { app.post_raw("/graphql", &body.to_string()).await }
    };

    let (status, body) = post(&first, by_hash.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(error_code_of(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let (_, body) = post(&first, with_text).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    let (_, body) = post(&first, by_hash.clone()).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    // Over GET too.
    let (status, _, body) = first
        .raw(
            reqwest::Method::GET,
            &format!(
                "/graphql?extensions={}",
                crate::common::urlencode(&by_hash["extensions"].to_string())
            ),
            &[("accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    if let Some(second) = &second {
        let (_, body) = post(second, by_hash.clone()).await;
        assert_eq!(body["data"]["__typename"], "Query", "shared: {body}");
    }

    // A text that is not what its hash says, and an invalid document.
    let (_, body) = post(
        &first,
        json!({"query": "{ __typename }", "extensions": by_hash["extensions"]}),
    )
    .await;
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");
    let invalid = "{ nope }";
    let invalid_hash = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(invalid)}});
    let (_, body) = post(
        &first,
        json!({"query": invalid, "extensions": invalid_hash}),
    )
    .await;
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");
    for app in std::iter::once(&*first).chain(second.as_deref()) {
        let (_, body) = post(app, json!({"extensions": invalid_hash})).await;
        assert_eq!(
            error_code_of(&body),
            "PERSISTED_QUERY_NOT_FOUND",
            "never kept: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_queries_in_redis_are_bounded_in_number_and_time() {
    let app = TestApp::spawn(StoreKind::Redis, |c| {
        c.apq_max_entries = 3;
        c.apq_ttl = Duration::from_secs(60);
    })
    .await;
    let redis = app.redis.clone().expect("redis");
    for n in 0..6 {
        let query = format!("query Q{n} {{ __typename }}");
        let body = json!({"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(&query)}}});
        let (_, body) = app.post_raw("/graphql", &body.to_string()).await;
        assert_eq!(body["data"]["__typename"], "Query", "{body}");
    }
    let keys: Vec<String> = redis.cmd(&["KEYS", "{tracking:apq}:*"]).await;
    let documents: Vec<&String> = keys.iter().filter(|k| !k.ends_with(":index")).collect();
    assert_eq!(documents.len(), 3, "{keys:?}");
    let indexed: i64 = redis.cmd(&["ZCARD", "{tracking:apq}:index"]).await;
    assert_eq!(indexed, 3);
    // The newest stay, the oldest went.
    let newest = format!("{{tracking:apq}}:{}", sha256_hex("query Q5 { __typename }"));
    assert!(documents.contains(&&newest), "{keys:?}");
    for key in documents {
        let ttl: i64 = redis.cmd(&["PTTL", key]).await;
        assert!(ttl > 0 && ttl <= 60_000, "{key}: {ttl}");
    }
}

#[tokio::test]
async fn only_persisted_runs_the_files_documents_and_the_services_own() {
    // The service's own manifest, as an operator would take it.
    let output = crate::common::process::tracking_command()
        .arg("persisted-documents")
        .output()
        .expect("run tracking persisted-documents");
    assert!(output.status.success());
    let mut manifest: BTreeMap<String, String> =
        serde_json::from_slice(&output.stdout).expect("a JSON object");
    let app_query = "query Mine { __typename }";
    manifest.insert("my-app-1".into(), app_query.into());
    let dir = temp_dir("persisted");
    let file = dir.join("documents.json");
    std::fs::write(&file, serde_json::to_vec(&manifest).expect("json")).expect("write");

    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.persisted_documents = Some(file.clone());
        c.only_persisted = true;
    })
    .await;
    // The file's document, in full or by its id.
    let body = app.gql(app_query, json!({})).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    let (_, body) = app
        .post_raw(
            "/graphql",
            &json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "my-app-1"}}})
                .to_string(),
        )
        .await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    // Anything else: FORBIDDEN (403 under the spec's media type), an
    // unknown hash PERSISTED_QUERY_NOT_FOUND, and no registering.
    let other = "query Other { __typename }";
    assert_eq!(app.error_code(other, json!({})).await, "FORBIDDEN");
    let (status, _, body) = app
        .raw(
            reqwest::Method::POST,
            "/graphql",
            &[
                ("content-type", "application/json"),
                ("accept", GRAPHQL_RESPONSE),
            ],
            Some(&json!({"query": other}).to_string()),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let register = json!({"query": other, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(other)}}});
    let (_, body) = app.post_raw("/graphql", &register.to_string()).await;
    assert_eq!(error_code_of(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .post_raw(
            "/graphql",
            &json!({"extensions": register["extensions"]}).to_string(),
        )
        .await;
    assert_eq!(error_code_of(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    // Over WebSocket too.
    let mut refused = app
        .subscribe(
            crate::common::Protocol::TransportWs,
            "subscription { fleet(lat: 0, lng: 0, radiusKm: 1) { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(refused.expect_error_code().await, "FORBIDDEN");

    // The typed client (and so the simulator) runs on the manifest alone:
    // a driver reports, a rider asks and follows, the ride is matched.
    let api = &app.api;
    api.update_location("d1", DRIVER.0, DRIVER.1)
        .await
        .expect("updateLocation");
    let ride = api
        .request_driver("ana", RIDER.0, RIDER.1)
        .await
        .expect("requestDriver");
    let mut updates = api.ride_status(&ride.id).await.expect("rideStatus");
    let now = within(PATIENCE, "the ride", updates.next())
        .await
        .expect("an update")
        .expect("the ride");
    assert_eq!(now.driver_id.as_deref(), Some("d1"));
    api.cancel_request(&ride.id).await.expect("cancelRequest");
    // And the dashboard's documents are all in the manifest.
    let (status, script) = app.get("/dashboard/documents.js").await;
    assert_eq!(status, 200);
    let json = script
        .trim()
        .trim_start_matches("export default ")
        .trim_end_matches(';');
    let dashboard: BTreeMap<String, String> = serde_json::from_str(json).expect("the documents");
    for text in dashboard.values() {
        assert!(
            manifest.values().any(|t| t == text),
            "{text} is not in the manifest"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
