//! The seed's REST API, driven with the seed's own JSON.

use serde_json::json;

use crate::common::{error_code_of, Protocol, StoreKind, TestApp, DRIVER};

#[tokio::test]
async fn the_seeds_curl_examples_work() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;

    // curl --data '{"lat": -33.44262, "lng": -70.63054}' /v2/search
    let (status, body) = app
        .post_raw("/v2/search", r#"{"lat": -33.44262, "lng": -70.63054}"#)
        .await;
    assert_eq!(status, 200);
    let first = body["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("request_id is a string: {body}"))
        .to_owned();
    let mut sub = app.watch_ride(Protocol::TransportWs, &first).await;
    sub.expect_status("SEARCHING").await;

    // curl --data '{"id": "1", "lat": -33.44091, "lng": -70.6301}' /tracking
    let (status, body) = app
        .post_raw(
            "/tracking",
            r#"{"id": "1", "lat": -33.44091, "lng": -70.6301}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "1");
    let found = sub.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");

    // curl --data '{"request_id": "…"}' /v2/cancel, on a second request.
    let (_, body) = app
        .post_raw("/v2/search", r#"{"lat": -33.44262, "lng": -70.63054}"#)
        .await;
    let second = body["request_id"].as_str().expect("an id").to_owned();
    assert_ne!(second, first, "ids are never reused");
    let cancel = json!({"request_id": second}).to_string();
    let (status, body) = app.post_raw("/v2/cancel", &cancel).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(body["request_id"], second.as_str());
    assert_eq!(app.ride(&second).await["status"], "CANCELLED");

    // A number is still read as an id (the seed sent numbers): none has one.
    let (status, body) = app.post_raw("/v2/cancel", r#"{"request_id": 2}"#).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn search_answers_in_the_seeds_shape_nearest_first() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    app.post_raw(
        "/tracking",
        r#"{"id": "far", "lat": -33.45, "lng": -70.63054}"#,
    )
    .await;
    app.update_location("near", DRIVER).await;
    app.post_raw(
        "/tracking",
        r#"{"id": "away", "lat": -34.0, "lng": -70.63054}"#,
    )
    .await;
    let (status, body) = app
        .post_raw(
            "/search",
            r#"{"lat": -33.44262, "lng": -70.63054, "limit": 5}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let list = body.as_array().expect("an array");
    assert_eq!(list.len(), 2, "within the seed's 15 km: {body}");
    assert_eq!(list[0]["Name"], "near");
    assert_eq!(list[0]["Latitude"], DRIVER.0);
    assert_eq!(list[0]["Longitude"], DRIVER.1);
    let dist = list[0]["Dist"].as_f64().expect("Dist");
    assert!((dist - 0.1945).abs() < 0.001, "Dist in km: {dist}");
    assert_eq!(list[1]["Name"], "far");
    assert!(list[1]["Dist"].as_f64() > list[0]["Dist"].as_f64());
    let (_, one) = app
        .post_raw(
            "/search",
            r#"{"lat": -33.44262, "lng": -70.63054, "limit": 1}"#,
        )
        .await;
    assert_eq!(one.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn bad_bodies_get_400_with_a_json_error_and_change_nothing() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let cases = [
        ("/tracking", "not json"),
        ("/tracking", r#"{"id": "1", "lat": "x", "lng": 0}"#),
        ("/tracking", r#"{"id": "", "lat": 0, "lng": 0}"#),
        ("/tracking", r#"{"id": "1", "lat": 91, "lng": 0}"#),
        ("/search", r#"{"lat": 0}"#),
        ("/search", r#"{"lat": 0, "lng": 0, "limit": 0}"#),
        ("/v2/search", r#"{"lat": 0, "lng": 200}"#),
        ("/v2/search", ""),
        ("/v2/cancel", r#"{"request_id": "drivers set"}"#),
        ("/v2/cancel", r#"{"request_id": true}"#),
        ("/v2/cancel", "{}"),
    ];
    for (path, body) in cases {
        let (status, answer) = app.post_raw(path, body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(error_code_of(&answer), "BAD_USER_INPUT", "{path} {body}");
    }
    let (status, answer) = app.post_raw("/v2/cancel", r#"{"request_id": "42"}"#).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(error_code_of(&answer), "NOT_FOUND");
    assert!(app.driver("1").await.is_null(), "nothing was stored");
    assert_eq!(app.stored_rides().await, 0, "no ride was created");
}
