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

#[tokio::test]
async fn health_answers_while_the_store_does() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let response = app
        .http()
        .get(app.url("/health"))
        .send()
        .await
        .expect("GET /health");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body, json!({"status": "ok", "store": "ok"}));
    // The memory store is always ready: nothing to connect to.
    let (status, body) = app.get("/ready").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).expect("JSON"),
        json!({"status": "ready"})
    );
    let graphiql = app
        .http()
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("GET /graphql");
    assert_eq!(graphiql.status(), 200);
    let page = graphiql.text().await.expect("page");
    assert!(
        page.contains("graphiql") && page.contains("/ws"),
        "GraphiQL with subscriptions on /ws"
    );
}

/// The dashboard is ES modules: every import of every script is served, and
/// the service's limits come from `/config`, never copied into a script
/// (the Mercator limit, Earth's radius and the radius cap once were).
#[tokio::test]
async fn the_dashboard_serves_its_modules_and_reads_limits_from_config() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.match_radius_km = 3.5;
        c.max_batch = 7;
    })
    .await;
    let (status, page) = app.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<script type="module" src="/dashboard/app.js">"#),
        "the page loads the entry module: {page}"
    );

    let mut pending = vec!["app.js".to_owned()];
    let mut served = std::collections::BTreeSet::new();
    while let Some(file) = pending.pop() {
        if !served.insert(file.clone()) {
            continue;
        }
        let response = app
            .http()
            .get(app.url(&format!("/dashboard/{file}")))
            .send()
            .await
            .expect("GET a script");
        assert_eq!(response.status(), 200, "{file} is served");
        let kind = response.headers()["content-type"].to_str().expect("ascii");
        assert!(kind.starts_with("text/javascript"), "{file}: {kind}");
        let script = response.text().await.expect("text");
        for copied in ["85.05", "6372.7", "111.2", "Math.min(100"] {
            assert!(!script.contains(copied), "{file} copies {copied:?}");
        }
        for line in script.lines().filter(|l| l.starts_with("import ")) {
            let target = line
                .split("from './")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .unwrap_or_else(|| panic!("{file}: an import from a sibling module: {line}"));
            pending.push(target.to_owned());
        }
    }
    assert!(
        served.len() >= 5,
        "the script is split in modules: {served:?}"
    );
    let (status, _) = app.get("/dashboard/nothing.js").await;
    assert_eq!(status, 404);

    let (status, body) = app.get("/config").await;
    assert_eq!(status, 200);
    let config: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(config["maxLatitude"], tracking::domain::MAX_LATITUDE);
    assert_eq!(config["earthRadiusKm"], tracking::domain::EARTH_RADIUS_KM);
    assert_eq!(config["maxRadiusKm"], tracking::domain::MAX_RADIUS_KM);
    assert_eq!(config["maxLimit"], tracking::domain::MAX_LIMIT);
    assert_eq!(config["matchRadiusKm"], 3.5, "the flag, not a default");
    assert_eq!(config["maxOperationsPerRequest"], 7);
    assert_eq!(config["tokensRequired"], false);
}
