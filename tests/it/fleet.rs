//! Drivers and their reports, on every store: nearby drivers nearest first,
//! who is listed and matched (not the assigned, the offline, the silent),
//! going offline, batched reports in order of time, and the plausibility
//! rules a report must pass.

use std::time::Duration;

use serde_json::json;

use crate::common::{
    error_code_of, eventually, for_each_store, id_of, north_of, outcome, Protocol, StoreKind,
    TestApp, DRIVER, RIDER,
};

for_each_store!(
    nearby_drivers_are_listed_nearest_first,
    an_assigned_driver_is_neither_listed_nor_matched_again,
    go_offline_rules,
    a_silent_driver_goes_offline,
    batched_updates_apply_in_order_of_time,
    a_report_stamped_in_the_future_hides_nothing,
);

async fn nearby_drivers_are_listed_nearest_first(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    // Report in an order that is not the distance order.
    for (id, km) in [
        ("d3", 3.0),
        ("d1", 1.0),
        ("d20", 20.0),
        ("d2", 2.0),
        ("d10", 10.0),
    ] {
        app.update_location(id, north_of(RIDER, km)).await;
    }
    let found = app.nearby(RIDER, 15.0, 10).await;
    let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["d1", "d2", "d3", "d10"],
        "nearest first, within 15 km"
    );
    for ((_, km), want) in found.iter().zip([1.0, 2.0, 3.0, 10.0]) {
        assert!((km - want).abs() < 0.05, "distance {km} for {want} km");
    }
    assert_eq!(app.nearby(RIDER, 15.0, 2).await.len(), 2, "limit");
    assert_eq!(app.nearby(RIDER, 1.5, 10).await.len(), 1, "radius");
    // The seed's default radius is 15 km.
    let data = app
        .data("query($lat: Float!, $lng: Float!) { nearbyDrivers(lat: $lat, lng: $lng) { driver { id } } }", json!({"lat": RIDER.0, "lng": RIDER.1}))
        .await;
    assert_eq!(data["nearbyDrivers"].as_array().map(Vec::len), Some(4));
}

async fn an_assigned_driver_is_neither_listed_nor_matched_again(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("1", DRIVER).await;
    let first = id_of(&app.request_driver("rider-1", RIDER).await);
    app.ride_reaches(&first, "DRIVER_FOUND").await;
    assert!(
        app.nearby(RIDER, 15.0, 10).await.is_empty(),
        "an ASSIGNED driver is not listed"
    );

    // It keeps reporting while it drives: the position moves, the status stays.
    let moved = app.update_location("1", north_of(DRIVER, 0.1)).await;
    assert_eq!(moved["status"], "ASSIGNED");
    assert!(
        (moved["location"]["lat"].as_f64().expect("lat") - north_of(DRIVER, 0.1).0).abs() < 1e-6
    );
    assert!(app.nearby(RIDER, 15.0, 10).await.is_empty());

    let second = id_of(&app.request_driver("rider-2", RIDER).await);
    let ride = app.searched(&second).await;
    assert_eq!(
        ride["status"], "SEARCHING",
        "not matched to an ASSIGNED driver: {ride}"
    );

    // Going offline while assigned is refused; the ride owns the driver.
    assert_eq!(error_code_of(&app.go_offline("1").await), "CONFLICT");

    // Completing the first ride frees the driver, and the second gets it.
    let done = app.complete(&first).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    let found = app.ride_reaches(&second, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
}

async fn go_offline_rules(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    assert_eq!(error_code_of(&app.go_offline("ghost").await), "NOT_FOUND");
    app.update_location("1", DRIVER).await;
    let offline = app.go_offline("1").await;
    assert_eq!(
        offline["data"]["goOffline"]["status"], "OFFLINE",
        "{offline}"
    );
    assert_eq!(app.driver("1").await["status"], "OFFLINE");
    assert!(
        app.nearby(RIDER, 15.0, 10).await.is_empty(),
        "an OFFLINE driver is not listed"
    );
    let ride = id_of(&app.request_driver("rider-1", RIDER).await);
    assert_eq!(
        app.searched(&ride).await["status"],
        "SEARCHING",
        "an OFFLINE driver is not matched"
    );

    // Reporting again brings it back, and the waiting ride gets it.
    assert_eq!(
        app.update_location("1", DRIVER).await["status"],
        "AVAILABLE"
    );
    let found = app.ride_reaches(&ride, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
}

async fn a_silent_driver_goes_offline(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.driver_ttl = Duration::from_millis(300)).await;
    app.update_location("quiet", DRIVER).await;
    assert_eq!(app.nearby(RIDER, 15.0, 10).await.len(), 1);
    eventually("the silent driver to read OFFLINE", || async {
        (app.driver("quiet").await["status"] == "OFFLINE").then_some(())
    })
    .await;
    assert!(
        app.nearby(RIDER, 15.0, 10).await.is_empty(),
        "a silent driver is not listed"
    );
    let ride = id_of(&app.request_driver("rider-1", RIDER).await);
    assert_eq!(
        app.searched(&ride).await["status"],
        "SEARCHING",
        "a silent driver is not matched"
    );
    assert_eq!(
        app.update_location("quiet", DRIVER).await["status"],
        "AVAILABLE"
    );
    app.ride_reaches(&ride, "DRIVER_FOUND").await;

    // An ASSIGNED driver stays ASSIGNED while silent: its ride owns it.
    let assigned = app.driver("quiet").await;
    assert_eq!(assigned["status"], "ASSIGNED");
    let updated_at = assigned["updatedAt"]
        .as_str()
        .expect("updatedAt")
        .to_owned();
    eventually("the TTL to pass", || async {
        let since = chrono::Utc::now()
            - chrono::DateTime::parse_from_rfc3339(&updated_at)
                .ok()?
                .to_utc();
        (since.num_milliseconds() > 600).then_some(())
    })
    .await;
    assert_eq!(app.driver("quiet").await["status"], "ASSIGNED");
}

const BATCH: &str = "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted stale refused { index driverId code } } }";

/// `updateLocations`: many reports in one call; late ones are ignored,
/// implausible ones refused on their own, malformed input refuses the call.
async fn batched_updates_apply_in_order_of_time(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.max_speed_kmh = 300.0).await;
    let now = chrono::Utc::now();
    let at = |secs_ago: i64| (now - chrono::Duration::seconds(secs_ago)).to_rfc3339();
    let updates = json!([
        {"driverId": "a", "lat": RIDER.0, "lng": RIDER.1, "at": at(10)},
        {"driverId": "b", "lat": DRIVER.0, "lng": DRIVER.1},
        // Older than a's report just above: ignored.
        {"driverId": "a", "lat": -33.0, "lng": -70.0, "at": at(20)},
        // 1 km further five seconds later: 720 km/h, refused.
        {"driverId": "a", "lat": north_of(RIDER, 1.0).0, "lng": RIDER.1, "at": at(5)},
        // 0.1 km ten seconds later: fine.
        {"driverId": "a", "lat": north_of(RIDER, 0.1).0, "lng": RIDER.1},
    ]);
    let result = app.data(BATCH, json!({"u": updates})).await["updateLocations"].clone();
    assert_eq!(result["accepted"], 3, "{result}");
    assert_eq!(result["stale"], 1, "{result}");
    assert_eq!(
        result["refused"],
        json!([{"index": 3, "driverId": "a", "code": "BAD_USER_INPUT"}])
    );
    let a = app.driver("a").await;
    assert!(
        (a["location"]["lat"].as_f64().expect("lat") - north_of(RIDER, 0.1).0).abs() < 1e-9,
        "{a}"
    );
    assert_eq!(app.nearby(RIDER, 5.0, 10).await.len(), 2);

    // Malformed input refuses the whole call and changes nothing.
    let bad = json!([
        {"driverId": "c", "lat": 0.0, "lng": 0.0},
        {"driverId": "d", "lat": 91.0, "lng": 0.0},
    ]);
    assert_eq!(
        error_code_of(&app.gql(BATCH, json!({"u": bad})).await),
        "BAD_USER_INPUT"
    );
    assert!(app.driver("c").await.is_null());
    let future = json!([{"driverId": "c", "lat": 0.0, "lng": 0.0, "at": (now + chrono::Duration::hours(1)).to_rfc3339()}]);
    assert_eq!(
        error_code_of(&app.gql(BATCH, json!({"u": future})).await),
        "BAD_USER_INPUT"
    );
    let too_many: Vec<_> = (0..1001)
        .map(|i| json!({"driverId": format!("x{i}"), "lat": 0.0, "lng": 0.0}))
        .collect();
    assert_eq!(
        error_code_of(&app.gql(BATCH, json!({"u": too_many})).await),
        "BAD_USER_INPUT"
    );
    assert!(app.driver("x0").await.is_null());

    // The same mutation over a WebSocket, as a batch uploader would send it.
    let mut socket = app
        .subscribe(
            Protocol::TransportWs,
            BATCH,
            json!({"u": [{"driverId": "ws", "lat": RIDER.0, "lng": RIDER.1}]}),
        )
        .await;
    match socket.next_event().await {
        crate::common::ws::Event::Next(payload) => assert_eq!(
            payload["data"]["updateLocations"]["accepted"], 1,
            "{payload}"
        ),
        other => panic!("expected a result, got {other:?}"),
    }
    socket.expect_complete().await;
    assert_eq!(app.driver("ws").await["status"], "AVAILABLE");
}

/// A report stamped ahead of the store's clock (within the allowed skew) is
/// stored at the store's now: it cannot freeze the driver's position
/// against the real reports that follow.
async fn a_report_stamped_in_the_future_hides_nothing(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let ahead = (chrono::Utc::now() + chrono::Duration::seconds(59)).to_rfc3339();
    let done = app
        .data(
            BATCH,
            json!({"u": [{"driverId": "eager", "lat": DRIVER.0, "lng": DRIVER.1, "at": ahead}]}),
        )
        .await;
    assert_eq!(done["updateLocations"]["accepted"], 1);
    let moved = app.update_location("eager", north_of(DRIVER, 0.2)).await;
    let lat = moved["location"]["lat"].as_f64().expect("lat");
    assert!(
        (lat - north_of(DRIVER, 0.2).0).abs() < 1e-9,
        "the later real report was kept: {moved}"
    );
}

#[tokio::test]
async fn impossible_jumps_are_refused_and_change_nothing() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.max_update_rate = 0.0;
        c.max_speed_kmh = 300.0;
    })
    .await;
    app.update_location("fast", DRIVER).await;
    // 50 km in a moment: faster than 300 km/h.
    let far = north_of(DRIVER, 50.0);
    let body = app
        .gql(
            "mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: \"fast\", lat: $lat, lng: $lng) { id } }",
            json!({"lat": far.0, "lng": far.1}),
        )
        .await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("implausible jump")),
        "{body}"
    );
    assert_eq!(
        app.driver("fast").await["location"]["lat"],
        DRIVER.0,
        "the jump changed nothing"
    );
    // A plausible move is fine.
    app.update_location("fast", north_of(DRIVER, 0.1)).await;
}
