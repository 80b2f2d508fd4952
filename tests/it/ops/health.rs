//! What an operator watches: every metric the README lists, with its
//! labels; `/health` while the store answers and when it does not; and the
//! dashboard's modules, reading its limits from the configuration.

use std::time::Duration;

use serde_json::json;

use crate::common::{id_of, north_of, Protocol, StoreKind, TestApp, DRIVER, RIDER};

/// Every metric the README lists is exported, with the labels it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listed_metric_is_exported_with_its_labels() {
    let app = TestApp::spawn(StoreKind::Redis, |c| {
        c.request_timeout = Duration::from_millis(500)
    })
    .await;
    app.update_location("m1", DRIVER).await;
    let matched = id_of(&app.request_driver("r", RIDER).await);
    app.ride_reaches(&matched, "DRIVER_FOUND").await;
    app.complete(&matched).await;
    let cancelled = id_of(&app.request_driver("r", north_of(RIDER, 50.0)).await);
    app.cancel(&cancelled).await;
    let expired = id_of(&app.request_driver("r", north_of(RIDER, 50.0)).await);
    let _open = app.watch_ride(Protocol::TransportWs, &expired).await;
    app.ride_reaches(&expired, "EXPIRED").await;
    app.gql("{ nope }", json!({})).await;
    // A store error: Redis goes away for one request.
    app.redis.as_ref().expect("redis").stop();
    app.gql(
        "mutation { updateLocation(driverId: \"m2\", lat: 0, lng: 0) { id } }",
        json!({}),
    )
    .await;
    let text = app.metrics().await;
    let series = |name: &str| -> Vec<&str> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")))
            .collect()
    };
    let expect = |name: &str, labels: &[&str]| {
        let found = series(name);
        assert!(!found.is_empty(), "{name} missing from /metrics:\n{text}");
        for label in labels {
            assert!(
                found.iter().any(|l| l.contains(&format!("{label}=\""))),
                "{name} without the label {label}: {found:?}"
            );
        }
    };
    expect(
        "tracking_http_requests_total",
        &["method", "route", "status"],
    );
    expect(
        "tracking_http_request_duration_seconds_bucket",
        &["method", "route", "le"],
    );
    expect(
        "tracking_http_request_duration_seconds_count",
        &["method", "route"],
    );
    expect(
        "tracking_graphql_operations_total",
        &["operation", "outcome"],
    );
    for name in [
        "tracking_websocket_connections",
        "tracking_subscriptions",
        "tracking_rides_searching",
        "tracking_rides_requested_total",
        "tracking_matches_total",
        "tracking_expiries_total",
        "tracking_cancels_total",
        "tracking_completions_total",
        "tracking_time_to_match_seconds_count",
        "tracking_store_errors_total",
    ] {
        expect(name, &[]);
    }
    assert!(
        series("tracking_http_requests_total")
            .iter()
            .any(|l| l.contains("route=\"/graphql\"") && l.contains("method=\"POST\"")),
        "requests counted by route"
    );
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
