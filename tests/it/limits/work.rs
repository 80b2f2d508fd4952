//! What one request may cost: depth, complexity and size limits, the most
//! work one request may do, the update rate per driver, operation names
//! that never become metric labels; and nothing kept past its retention.

use std::{collections::HashSet, sync::Arc, time::Duration};

use serde_json::{json, Value};
use tracking::store::memory::MemoryStore;

use super::setup::guarded;
use crate::common::{
    error_code_of, eventually, id_of, north_of, outcome, StoreKind, TestApp, DRIVER, RIDER,
};

#[tokio::test]
async fn graphql_limits_refuse_deep_complex_and_huge_requests() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.max_depth = 5;
        c.max_complexity = 40;
        c.max_query_bytes = 2048;
        c.max_body_bytes = 8192;
    })
    .await;
    let fine = "{ ride(id: \"1\") { driver { location { lat } } } }";
    assert_eq!(
        outcome(&app.gql(fine, json!({})).await),
        "ok",
        "depth 4 is within 5"
    );
    // A valid query nested 20 deep (deep enough for the limit, shallow
    // enough for the parser, whose own recursion limit is another error).
    let abyss = format!(
        "{{ __type(name: \"Ride\") {{ fields {{ type {{ {}name{} }} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    let deep_app = TestApp::spawn(StoreKind::Memory, |c| c.max_depth = 5).await;
    let body = deep_app.gql(&abyss, json!({})).await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "depth limit: {body}");
    assert_eq!(body["errors"][0]["message"], "Query is nested too deep.");

    // Complexity: many aliased lists in one request.
    let wide = format!(
        "{{ {} }}",
        (0..20)
            .map(|i| format!(
                "n{i}: nearbyDrivers(lat: 0, lng: 0) {{ distanceKm driver {{ id }} }}"
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let body = app.gql(&wide, json!({})).await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "complexity limit");
    assert_eq!(body["errors"][0]["message"], "Query is too complex.");

    let long = format!("{{ __typename {} }}", " ".repeat(3000));
    let body = app.gql(&long, json!({})).await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "query text limit");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("longer than 2048 bytes")),
        "{body}"
    );
    let huge = format!(
        "{{\"query\": \"{{ __typename }}\", \"x\": \"{}\"}}",
        "a".repeat(10_000)
    );
    let (status, _) = app.post_raw("/graphql", &huge).await;
    assert_eq!(status, 413, "body limit");

    // Introspection off: the introspection fields answer null, nothing else.
    let closed = TestApp::spawn(StoreKind::Memory, |c| c.no_introspection = true).await;
    let body = closed
        .gql("{ __schema { types { name } } }", json!({}))
        .await;
    assert_eq!(
        body,
        json!({"data": {"__schema": null}}),
        "introspection off"
    );
    let body = closed
        .gql("{ __type(name: \"Ride\") { name } }", json!({}))
        .await;
    assert_eq!(body, json!({"data": {"__type": null}}), "introspection off");
    let open = app
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(open["data"]["__schema"]["queryType"]["name"], "Query");
}

/// A batch over the cap, or a document whose work is multiplied by aliases
/// and list sizes, is refused before anything runs.
#[tokio::test]
async fn one_request_cannot_do_enormous_work() {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let app = TestApp::spawn_on(store.clone(), |_| {}).await;
    let request = |i: usize| json!({"query": format!("mutation {{ requestDriver(riderId: \"r{i}\", lat: 1, lng: 1) {{ id }} }}")});

    // Eleven operations: over the default of ten.
    let batch: Vec<Value> = (0..11).map(request).collect();
    let (status, body) = app
        .post_raw("/graphql", &Value::Array(batch).to_string())
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT");
    assert_eq!(
        body["errors"].as_array().map(Vec::len),
        Some(1),
        "one error"
    );
    assert_eq!(store.counts().1, 0, "no ride was created");

    // Sixty rides in one document: about 50 is the most one request may create.
    let aliases: String = (0..60)
        .map(|i| format!("r{i}: requestDriver(riderId: \"r{i}\", lat: 1, lng: 1) {{ id }} "))
        .collect();
    let body = app
        .gql(&format!("mutation {{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(store.counts().1, 0, "no ride was created");

    // Forty in one document is fine.
    let aliases: String = (0..40)
        .map(|i| format!("r{i}: requestDriver(riderId: \"r{i}\", lat: 1, lng: 1) {{ id }} "))
        .collect();
    let body = app
        .gql(&format!("mutation {{ {aliases} }}"), json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(store.counts().1, 40);

    // Ten documents of forty in a batch share one request's budget.
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({"query": format!("mutation {{ {aliases} }}")}))
        .collect();
    let (status, body) = app
        .post_raw("/graphql", &Value::Array(batch).to_string())
        .await;
    assert_eq!(status, 200);
    for response in body.as_array().expect("a list") {
        assert_eq!(error_code_of(response), "BAD_USER_INPUT", "{response}");
    }
    assert_eq!(store.counts().1, 40, "nothing more was created");

    // Lists cost their limit: many aliased nearbyDrivers(limit: 100).
    let wide: String = (0..20)
        .map(|i| format!("n{i}: nearbyDrivers(lat: 0, lng: 0, limit: 100) {{ distanceKm driver {{ id location {{ lat lng }} }} }} "))
        .collect();
    let body = app.gql(&format!("{{ {wide} }}"), json!({})).await;
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn updates_faster_than_the_rate_are_refused() {
    // One update per 100 s: the bucket cannot refill during the test.
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_update_rate = 0.01).await;
    app.update_location("eager", DRIVER).await;
    let body = app
        .gql(
            "mutation { updateLocation(driverId: \"eager\", lat: 1, lng: 1) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(outcome(&body), "TOO_MANY_REQUESTS", "{body}");
    assert_eq!(app.driver("eager").await["location"]["lat"], DRIVER.0);
    // Other drivers have buckets of their own.
    app.update_location("patient", DRIVER).await;
}

/// 10,000 operation names chosen by an anonymous client add no metric
/// series: operations are counted by the schema's root fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_chosen_operation_names_never_become_metric_labels() {
    let app = guarded(|_| {}).await;
    for batch in 0..1000 {
        let body: Vec<Value> = (0..10)
            .map(|i| {
                let name = format!("Attacker{}x{}", batch, i);
                json!({"query": format!("query {name} {{ nearbyDrivers(lat: 0, lng: 0) {{ distanceKm }} }}"), "operationName": name})
            })
            .collect();
        let (status, _) = app
            .post_raw("/graphql", &Value::Array(body).to_string())
            .await;
        assert_eq!(status, 200);
    }
    let text = app.metrics().await;
    assert!(!text.contains("Attacker"), "a client's name became a label");
    let fields: HashSet<&str> = tracking::api::prepare::root_fields()
        .iter()
        .copied()
        .chain(["other"])
        .collect();
    let outcomes: HashSet<&str> = tracking::domain::error::codes::ALL
        .iter()
        .copied()
        .chain(["ok", "error"])
        .collect();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tracking_graphql_operations_total{"))
        .collect();
    assert!(!series.is_empty());
    for line in series {
        let label = |name: &str| {
            line.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(fields.contains(label("operation").as_str()), "{line}");
        assert!(outcomes.contains(label("outcome").as_str()), "{line}");
    }
    assert!(
        text.contains(r#"operation="nearbyDrivers",outcome="UNAUTHENTICATED""#),
        "the refusals were counted under the field's name"
    );
}

/// Nothing is kept forever: an ended ride is removed after the ride
/// retention (`ride` then answers null), a silent driver after the driver
/// retention; on Redis their keys are gone, not merely hidden.
pub(super) async fn ended_rides_and_silent_drivers_are_removed_after_their_retention(
    store: StoreKind,
) {
    let app = TestApp::spawn(store, |c| {
        c.driver_ttl = Duration::from_millis(300);
        c.ride_retention = Duration::from_millis(800);
        c.driver_retention = Duration::from_millis(1200);
    })
    .await;
    app.update_location("brief", DRIVER).await;
    let cancelled = id_of(&app.request_driver("rider-1", north_of(RIDER, 50.0)).await);
    app.cancel(&cancelled).await;
    let matched = id_of(&app.request_driver("rider-2", RIDER).await);
    app.ride_reaches(&matched, "DRIVER_FOUND").await;
    app.complete(&matched).await;
    let open = id_of(&app.request_driver("rider-3", north_of(RIDER, 80.0)).await);
    assert_eq!(
        app.ride(&cancelled).await["status"],
        "CANCELLED",
        "kept for now"
    );

    eventually(
        "the ended rides and the silent driver to be removed",
        || async {
            let gone = app.ride(&cancelled).await.is_null()
                && app.ride(&matched).await.is_null()
                && app.driver("brief").await.is_null();
            gone.then_some(())
        },
    )
    .await;
    assert_eq!(
        app.ride(&open).await["status"],
        "SEARCHING",
        "an open ride stays"
    );

    if let Some(redis) = &app.redis {
        let keys = tracking::store::redis::Keys::new("tracking", None);
        let exists = |key: String| async move { redis.cmd::<i64>(&["EXISTS", &key]).await };
        let ride_key = |id: &str| keys.ride(&tracking::domain::RideId::parse(id).expect("id"));
        assert_eq!(exists(ride_key(&cancelled)).await, 0);
        assert_eq!(exists(ride_key(&matched)).await, 0);
        assert_eq!(exists(ride_key(&open)).await, 1);
        let driver = tracking::domain::DriverId::parse("brief").expect("id");
        assert_eq!(exists(keys.driver(&driver)).await, 0);
        assert_eq!(
            redis.cmd::<i64>(&["HEXISTS", &keys.last(), "brief"]).await,
            0
        );
        assert_eq!(redis.cmd::<i64>(&["ZCARD", &keys.offline()]).await, 0);
        assert_eq!(redis.cmd::<i64>(&["ZCARD", &keys.seen()]).await, 0);
        let all: Vec<String> = redis.cmd(&["KEYS", "*"]).await;
        let records: Vec<&String> = all
            .iter()
            .filter(|k| k.contains(":ride:") || k.contains(":driver:"))
            .collect();
        assert_eq!(records, [&ride_key(&open)], "only the open ride is kept");
    }
}
