//! Following one ride or one driver: `rideStatus` from its current state
//! to its end, `driverLocation` for the rider, `driverFeed` for the driver.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    dispatch::{expect_feed, feed, must, offering, request_to},
    id_of, north_of, Protocol, StoreKind, TestApp, DRIVER, RIDER,
};

pub(super) async fn a_late_subscriber_learns_the_current_state(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("1", DRIVER).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;

    // Subscribing after the match still tells of it, then follows on.
    let mut sub = app.watch_ride(Protocol::TransportWs, &id).await;
    let now = sub.expect_status("DRIVER_FOUND").await;
    assert_eq!(now["driver"]["id"], "1");
    app.complete(&id).await;
    sub.expect_status("COMPLETED").await;
    sub.expect_complete().await;

    // Subscribing to an ended ride gives its state and completes.
    let mut late = app.watch_ride(Protocol::LegacyWs, &id).await;
    late.expect_status("COMPLETED").await;
    late.expect_complete().await;
}

pub(super) async fn subscribing_to_an_unknown_ride_is_an_error(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    for protocol in Protocol::ALL {
        let mut sub = app.watch_ride(protocol, "12345").await;
        assert_eq!(sub.expect_error_code().await, "NOT_FOUND", "{protocol:?}");
        let mut bad = app.watch_ride(protocol, "not an id").await;
        assert_eq!(
            bad.expect_error_code().await,
            "BAD_USER_INPUT",
            "{protocol:?}"
        );
    }
}

const DRIVER_LOCATION: &str =
    "subscription($id: ID!) { driverLocation(rideId: $id) { id status rideId location { lat lng } } }";

/// `driverLocation`: waits while the ride searches, then the assigned
/// driver at every move, and completes when the ride ends.
pub(super) async fn the_rider_follows_the_assigned_driver(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    let mut follow = app
        .subscribe(Protocol::TransportWs, DRIVER_LOCATION, json!({"id": id}))
        .await;

    app.update_location("car", north_of(RIDER, 1.0)).await;
    let first = next_driver(&mut follow).await;
    assert_eq!(first["id"], "car");
    assert_eq!(first["status"], "ASSIGNED");
    assert_eq!(first["rideId"], id.as_str());

    for km in [0.8, 0.5, 0.2] {
        app.update_location("car", north_of(RIDER, km)).await;
        let moved = next_driver(&mut follow).await;
        let lat = moved["location"]["lat"].as_f64().expect("lat");
        assert!(
            (lat - north_of(RIDER, km).0).abs() < 1e-9,
            "moved to {km} km: {moved}"
        );
    }
    app.complete(&id).await;
    follow.expect_complete().await;

    // An ended ride has no driver to follow.
    let mut ended = app
        .subscribe(Protocol::LegacyWs, DRIVER_LOCATION, json!({"id": id}))
        .await;
    assert_eq!(ended.expect_error_code().await, "CONFLICT");
}

async fn next_driver(sub: &mut crate::common::Subscription) -> serde_json::Value {
    match sub.next_event().await {
        crate::common::ws::Event::Next(payload) => {
            assert!(payload.get("errors").is_none(), "{payload}");
            payload["data"]["driverLocation"].clone()
        }
        other => panic!("expected a driver, got {other:?}"),
    }
}

pub(super) async fn the_driver_feed_starts_with_the_state_and_sends_one_event_per_change(
    store: StoreKind,
) {
    let app = TestApp::spawn(store, |_| {}).await;
    // Before its first report: OFFLINE, nowhere.
    let (mut feed_of_new, first) = feed(&app, "newcomer").await;
    assert_eq!(first["driver"]["status"], "OFFLINE");
    assert_eq!(first["driver"]["location"], Value::Null);
    app.update_location("newcomer", DRIVER).await;
    let back = expect_feed(&mut feed_of_new, "STATE").await;
    assert_eq!(back["driver"]["status"], "AVAILABLE");

    // Offers off: assigned directly; each phase once, nothing else.
    let ride = request_to(&app, "ana", RIDER, north_of(RIDER, 2.0)).await;
    let assigned = expect_feed(&mut feed_of_new, "RIDE").await;
    assert_eq!(assigned["ride"]["status"], "DRIVER_FOUND");
    assert_eq!(assigned["ride"]["id"], ride.as_str());
    // Moving while assigned is no feed event (its own reports are not echoed).
    app.update_location("newcomer", north_of(DRIVER, 0.1)).await;
    must(&app, "driverArrived", &ride).await;
    assert_eq!(
        expect_feed(&mut feed_of_new, "RIDE").await["ride"]["status"],
        "ARRIVED"
    );
    must(&app, "startTrip", &ride).await;
    assert_eq!(
        expect_feed(&mut feed_of_new, "RIDE").await["ride"]["status"],
        "IN_PROGRESS"
    );
    must(&app, "completeRide", &ride).await;
    let done = expect_feed(&mut feed_of_new, "RIDE").await;
    assert_eq!(done["ride"]["status"], "COMPLETED");
    app.go_offline("newcomer").await;
    let off = expect_feed(&mut feed_of_new, "STATE").await;
    assert_eq!(off["driver"]["status"], "OFFLINE");

    // A late subscriber learns the ride from the STATE, and a rider's
    // cancel reaches the driver.
    app.update_location("second", DRIVER).await;
    let ride = id_of(&app.request_driver("bob", RIDER).await);
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    let (mut second, state) = feed(&app, "second").await;
    assert_eq!(state["driver"]["status"], "ASSIGNED");
    assert_eq!(state["ride"]["id"], ride.as_str());
    app.cancel(&ride).await;
    let cancelled = expect_feed(&mut second, "RIDE").await;
    assert_eq!(cancelled["ride"]["status"], "CANCELLED");

    // A late subscriber of an OFFERED driver gets the offer in the STATE.
    let offers = offering(store, Duration::from_secs(30)).await;
    offers.update_location("third", DRIVER).await;
    let ride = id_of(&offers.request_driver("cy", RIDER).await);
    offers.searched(&ride).await;
    let (_third, state) = feed(&offers, "third").await;
    assert_eq!(state["driver"]["status"], "OFFERED");
    assert_eq!(state["offer"]["ride"]["id"], ride.as_str());
}
