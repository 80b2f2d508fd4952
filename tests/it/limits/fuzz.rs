//! Property test: throw random and malformed documents, variables and
//! bodies at the server. Every one gets an answer (data or errors, or a 400
//! or 413 with a JSON error), the server never panics or hangs, and nothing
//! in the store changes: every driver and every ride is compared after each
//! case (the random operations only use ids and values that are refused).

use std::{sync::Arc, time::Duration};

use proptest::{
    prelude::*,
    test_runner::{Config, FileFailurePersistence, TestRunner},
};
use serde_json::{json, Value};
use tracking::store::memory::MemoryStore;

use crate::common::{id_of, TestApp, DRIVER, RIDER};

/// Pieces that look like GraphQL, to reach past the parser into validation
/// and the resolvers.
fn graphql_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("query".to_owned()),
        Just("mutation".to_owned()),
        Just("subscription".to_owned()),
        Just("fragment F on Ride".to_owned()),
        Just("...F".to_owned()),
        Just("nearbyDrivers".to_owned()),
        Just("ride(id: \"999999\")".to_owned()),
        Just("driver(id: \"no such driver\")".to_owned()),
        Just("updateLocation(driverId: \"\", lat: 1e308, lng: -1e308)".to_owned()),
        Just("updateLocation(driverId: \"x y\", lat: 0, lng: 0)".to_owned()),
        Just("requestDriver(riderId: \"r\", lat: 95, lng: 0)".to_owned()),
        Just("cancelRequest(rideId: \"{tracking}:drivers\")".to_owned()),
        Just("completeRide(rideId: \"-1\")".to_owned()),
        Just("goOffline(driverId: \"nobody\")".to_owned()),
        Just("lat: $lat".to_owned()),
        Just("$lat: Float!".to_owned()),
        Just("limit: -5".to_owned()),
        Just("radiusKm: 0".to_owned()),
        Just("id status".to_owned()),
        Just("driver { id location { lat lng } }".to_owned()),
        Just("__typename".to_owned()),
        Just("__schema { types { name } }".to_owned()),
        Just("@skip(if: true)".to_owned()),
        Just("\"".to_owned()),
        Just("#".to_owned()),
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        "[-0-9.eE+]{1,12}",
        any::<char>().prop_map(String::from),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(graphql_token(), 0..24).prop_map(|parts| parts.join(" "))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map("[a-z]{1,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A whole request body: a GraphQL request with odd parts, or raw bytes.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (document(), json_value(), prop::option::of("[A-Za-z]{0,6}")).prop_map(|(query, variables, op)| {
            json!({"query": query, "variables": variables, "operationName": op}).to_string()
        }),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => prop::collection::vec(
            (document(), json_value()).prop_map(|(q, v)| json!({"query": q, "variables": v})),
            0..4,
        )
        .prop_map(|batch| Value::Array(batch).to_string()),
    ]
}

/// Run through proptest's own runner: a failure is shrunk to a small body
/// and saved (under `tests/proptest-regressions/`), and every later run
/// tries the saved failures first.
#[test]
fn random_and_malformed_requests_get_answers_and_change_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new(Duration::from_secs(3600)));
    let app = runtime.block_on(async {
        let app = TestApp::spawn_on(store.clone(), |c| c.max_update_rate = 0.0).await;
        app.update_location("steady", DRIVER).await;
        let ride = app.request_driver("rider", RIDER).await;
        app.ride_reaches(&id_of(&ride), "DRIVER_FOUND").await;
        app
    });
    // The time the snapshots are read at: fixed, so freshness cannot flip.
    let at = chrono::Utc::now();
    let before = store.contents(at);
    assert_eq!((before.0.len(), before.1.len()), (1, 1), "{before:?}");

    let mut runner = TestRunner::new(Config {
        cases: 400,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::default())),
        ..Config::default()
    });
    let result = runner.run(&body(), |body| {
        runtime.block_on(async {
            for path in ["/graphql", "/tracking", "/v2/cancel", "/search"] {
                let (status, answer) = app.post_raw(path, &body).await;
                prop_assert!(
                    [200, 400, 401, 404, 409, 413].contains(&status),
                    "{} answered {} to {:?}: {}",
                    path,
                    status,
                    body,
                    answer
                );
                if path == "/graphql" && status == 200 {
                    let answered = answer.get("data").is_some()
                        || answer.get("errors").is_some()
                        || answer.is_array();
                    prop_assert!(answered, "no data or errors for {:?}: {}", body, answer);
                } else if status != 200 {
                    prop_assert!(
                        answer["errors"][0]["extensions"]["code"].is_string(),
                        "{} {}: {}",
                        path,
                        status,
                        answer
                    );
                }
            }
            prop_assert_eq!(&store.contents(at), &before, "changed by {:?}", body);
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let (status, _) = runtime.block_on(app.get("/health"));
    assert_eq!(status, 200, "still serving");
}
