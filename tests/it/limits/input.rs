//! Every class of bad input is refused with BAD_USER_INPUT, and changes
//! nothing.

use serde_json::json;

use crate::common::{error_code_of, StoreKind, TestApp, DRIVER, RIDER};

/// Every class of bad input is refused with BAD_USER_INPUT and changes nothing.
pub(super) async fn bad_input_changes_nothing(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("ok", DRIVER).await;
    let update = "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }";
    let request = "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }";
    let cases = [
        (
            update,
            json!({"d": "x", "lat": 85.06, "lng": 0.0}),
            "latitude beyond Redis's limit",
        ),
        (
            update,
            json!({"d": "x", "lat": -90.0, "lng": 0.0}),
            "latitude -90",
        ),
        (
            update,
            json!({"d": "x", "lat": 0.0, "lng": 180.5}),
            "longitude beyond 180",
        ),
        (
            update,
            json!({"d": "x", "lat": "NaN", "lng": 0.0}),
            "NaN as a string",
        ),
        (update, json!({"d": "", "lat": 0.0, "lng": 0.0}), "empty id"),
        (
            update,
            json!({"d": "x".repeat(65), "lat": 0.0, "lng": 0.0}),
            "id over 64 bytes",
        ),
        (
            update,
            json!({"d": "a b", "lat": 0.0, "lng": 0.0}),
            "id with a space",
        ),
        (
            update,
            json!({"d": "{tracking}:drivers", "lat": 0.0, "lng": 0.0}),
            "id naming a key",
        ),
        (update, json!({"d": "x", "lat": 0.0}), "missing variable"),
        (
            request,
            json!({"r": "", "lat": 0.0, "lng": 0.0}),
            "empty rider id",
        ),
        (
            request,
            json!({"r": "r", "lat": 100.0, "lng": 0.0}),
            "pickup out of range",
        ),
        (
            "mutation { cancelRequest(rideId: \"../1\") { id } }",
            json!({}),
            "ride id with a slash",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, radiusKm: 0) { distanceKm } }",
            json!({}),
            "radius 0",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, radiusKm: 100.5) { distanceKm } }",
            json!({}),
            "radius over 100",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, limit: 0) { distanceKm } }",
            json!({}),
            "limit 0",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, limit: 101) { distanceKm } }",
            json!({}),
            "limit over 100",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, limit: 99999999999) { distanceKm } }",
            json!({}),
            "limit beyond Int",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0 { distanceKm } }",
            json!({}),
            "malformed document",
        ),
        ("{ nope }", json!({}), "unknown field"),
    ];
    for (query, variables, what) in cases {
        let body = app.gql(query, variables).await;
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{what}: {body}");
        assert!(
            body["data"].is_null()
                || body["data"]
                    .as_object()
                    .is_none_or(|d| d.values().all(|v| v.is_null())),
            "{what}: {body}"
        );
    }

    // Documents the spec says are invalid (every validation rule runs):
    // refused with their code and where the fault is, and nothing runs.
    let invalid = [
        (
            "mutation { requestDriver(riderId: \"x\", lat: 1, lng: 1, bogus: 5) { id } }",
            json!({}),
            "Unknown argument \"bogus\"",
        ),
        (
            "{ nearbyDrivers(lat: 1, lng: 1, lat: 2) { distanceKm } }",
            json!({}),
            "only be one argument named \"lat\"",
        ),
        (
            "mutation($r: ID!, $unused: Int) { requestDriver(riderId: $r, lat: 1, lng: 1) { id } }",
            json!({"r": "x"}),
            "\"$unused\" is not used",
        ),
        (
            "mutation { requestDriver(riderId: \"x\", lat: 1, lng: 1) { id } } fragment F on Ride { id }",
            json!({}),
            "\"F\" is never used",
        ),
        (
            "{ ride(id: \"1\") { bogusField } }",
            json!({}),
            "Unknown field \"bogusField\"",
        ),
        (
            "mutation($lat: Float!) { requestDriver(riderId: \"x\", lat: $lat, lng: 1) { id } }",
            json!({"lat": "north"}),
            "\"$lat\" got an invalid value",
        ),
        (
            "mutation($lat: Float!) { requestDriver(riderId: \"x\", lat: $lat, lng: 1) { id } }",
            json!({}),
            "\"$lat\" of required type \"Float!\" was not provided",
        ),
    ];
    for (query, variables, said) in invalid {
        let body = app.gql(query, variables).await;
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{query}: {body}");
        let error = &body["errors"][0];
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(said)),
            "{query}: {body}"
        );
        assert!(
            error["locations"][0]["line"].as_u64().is_some(),
            "{query}: no location in {body}"
        );
        assert!(
            body.get("data").is_none(),
            "a request error has no data: {body}"
        );
    }

    // Malformed JSON: a 400 with a GraphQL-shaped body.
    let infinite =
        r#"{"query": "mutation { updateLocation(driverId: \"x\", lat: 1e400, lng: 0) { id } }"}"#;
    let infinite_var = r#"{"query": "mutation($lat: Float!) { updateLocation(driverId: \"x\", lat: $lat, lng: 0) { id } }", "variables": {"lat": 1e400}}"#;
    // (And a request without a query, or with an empty one.)
    for raw in [
        "{not json",
        "[1, 2",
        "\"query\"",
        "",
        infinite_var,
        r#"{"query": ""}"#,
        r#"{"qeury": "{ __typename }"}"#,
    ] {
        let (status, body) = app.post_raw("/graphql", raw).await;
        assert_eq!(status, 400, "{raw:?}: {body}");
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{raw:?}");
    }

    // An infinite literal in the document itself.
    let (status, body) = app.post_raw("/graphql", infinite).await;
    assert_eq!(status, 200);
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");

    // Nothing changed: one driver, no rides.
    let ids: Vec<String> = app
        .nearby(RIDER, 100.0, 100)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["ok"]);
    assert!(app.driver("x").await.is_null());
    assert_eq!(app.stored_rides().await, 0, "no ride was created");
}
