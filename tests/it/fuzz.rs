//! Property test: throw random and malformed documents, variables and
//! bodies at the server. Every one gets an answer (data or errors, or a 400
//! or 413 with a JSON error), the server never panics or hangs, and the fleet
//! is unchanged afterwards (the random operations only use ids and values
//! that are refused).

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use serde_json::{json, Value};

use crate::common::{StoreKind, TestApp, DRIVER, RIDER};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_malformed_requests_get_answers_and_change_nothing() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_update_rate = 0.0).await;
    app.update_location("steady", DRIVER).await;
    let before = app.nearby(RIDER, 50.0, 100).await;

    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let strategy = body();
    for _ in 0..400 {
        let body = strategy.new_tree(&mut runner).expect("a case").current();
        for path in ["/graphql", "/graphql", "/tracking", "/v2/cancel"] {
            let (status, answer) = app.post_raw(path, &body).await;
            assert!(
                [200, 400, 401, 404, 409, 413].contains(&status),
                "{path} answered {status} to {body:?}: {answer}"
            );
            if path == "/graphql" && status == 200 {
                let answered = answer.get("data").is_some()
                    || answer.get("errors").is_some()
                    || answer.is_array();
                assert!(answered, "no data or errors for {body:?}: {answer}");
            } else if status != 200 {
                assert!(
                    answer["errors"][0]["extensions"]["code"].is_string(),
                    "{path} {status}: {answer}"
                );
            }
        }
    }

    let health = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200, "still serving");
    assert_eq!(
        app.nearby(RIDER, 50.0, 100).await,
        before,
        "the fleet is unchanged"
    );
    assert!(app.ride("1").await.is_null(), "no ride was created");
}
