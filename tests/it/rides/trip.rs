//! The trip's phases: DRIVER_FOUND, ARRIVED, IN_PROGRESS, COMPLETED, each
//! step refused out of turn, and what the rider and the car's stream see.

use std::time::Duration;

use serde_json::json;

use crate::common::{
    dispatch::{expect_feed, feed, must, offering, on_ride, read, request_to},
    error_code_of, id_of, north_of, within, Protocol, StoreKind, TestApp, DRIVER, PATIENCE, RIDER,
};

pub(super) async fn a_ride_moves_through_its_phases_and_refuses_the_rest(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    // Refused on a SEARCHING ride.
    let waiting = id_of(&app.request_driver("ana", north_of(RIDER, 50.0)).await);
    for operation in ["driverArrived", "startTrip", "completeRide"] {
        let answer = on_ride(&app, operation, &waiting).await;
        assert_eq!(error_code_of(&answer), "CONFLICT", "{operation}: {answer}");
    }
    assert_eq!(read(&app, &waiting).await["status"], "SEARCHING");

    app.update_location("d1", DRIVER).await;
    let dropoff = north_of(RIDER, 3.0);
    let ride = request_to(&app, "bob", RIDER, dropoff).await;
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    assert_eq!(
        error_code_of(&on_ride(&app, "startTrip", &ride).await),
        "CONFLICT"
    );
    let arrived = must(&app, "driverArrived", &ride).await;
    assert_eq!(arrived["status"], "ARRIVED");
    assert!(arrived["arrivedAt"].is_string(), "{arrived}");
    assert_eq!(
        error_code_of(&on_ride(&app, "driverArrived", &ride).await),
        "CONFLICT"
    );
    let started = must(&app, "startTrip", &ride).await;
    assert_eq!(started["status"], "IN_PROGRESS");
    assert!(started["startedAt"].is_string());
    let refused = app.cancel(&ride).await;
    assert_eq!(
        error_code_of(&refused),
        "CONFLICT",
        "no cancelling a trip under way"
    );
    assert_eq!(app.driver("d1").await["status"], "ASSIGNED");
    let done = must(&app, "completeRide", &ride).await;
    assert_eq!(done["status"], "COMPLETED");
    assert!(done["endedAt"].is_string());
    assert_eq!(done["dropoff"]["lat"], dropoff.0);
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");
    for operation in [
        "driverArrived",
        "startTrip",
        "completeRide",
        "cancelRequest",
    ] {
        assert_eq!(
            error_code_of(&on_ride(&app, operation, &ride).await),
            "CONFLICT"
        );
    }

    // ARRIVED can still be cancelled, and frees the driver; so can it be
    // completed straight from DRIVER_FOUND.
    let second = id_of(&app.request_driver("cy", RIDER).await);
    app.ride_reaches(&second, "DRIVER_FOUND").await;
    must(&app, "driverArrived", &second).await;
    let cancelled = must(&app, "cancelRequest", &second).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");
    let third = id_of(&app.request_driver("dee", RIDER).await);
    app.ride_reaches(&third, "DRIVER_FOUND").await;
    assert_eq!(
        must(&app, "completeRide", &third).await["status"],
        "COMPLETED"
    );

    // A dropoff is checked like any position.
    let bad = app
        .gql(
            "mutation { requestDriver(riderId: \"x\", lat: 0, lng: 0, dropoff: {lat: 91, lng: 0}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code_of(&bad), "BAD_USER_INPUT", "{bad}");
}

pub(super) async fn rides_and_drivers_follow_the_phases(store: StoreKind) {
    let app = offering(store, Duration::from_secs(30)).await;
    app.update_location("first", north_of(RIDER, 0.5)).await;
    app.update_location("second", north_of(RIDER, 1.0)).await;
    let ride = request_to(&app, "ana", RIDER, north_of(RIDER, 4.0)).await;
    let mut rider = app.watch_ride(Protocol::LegacyWs, &ride).await;
    rider.expect_status("SEARCHING").await;
    let mut car = app
        .subscribe(
            Protocol::TransportWs,
            "subscription($id: ID!) { driverLocation(rideId: $id) { id status location { lat } } }",
            json!({"id": ride}),
        )
        .await;
    let (mut second, _) = feed(&app, "second").await;
    app.searched(&ride).await;
    // An offer declined, another accepted: the rider sees one change.
    must(&app, "declineOffer", &ride).await;
    expect_feed(&mut second, "OFFER").await;
    must(&app, "acceptOffer", &ride).await;
    let found = rider.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "second");
    let mut positions = 0;
    for (step, status, km) in [
        (None, "DRIVER_FOUND", 0.8),
        (Some("driverArrived"), "ARRIVED", 0.0),
        (Some("startTrip"), "IN_PROGRESS", 2.0),
    ] {
        if let Some(step) = step {
            must(&app, step, &ride).await;
            rider.expect_status(status).await;
        }
        app.update_location("second", north_of(RIDER, km)).await;
        // The car's stream sends its position (first the one it had).
        let expected = north_of(RIDER, km).0;
        within(PATIENCE, "the car's move", async {
            loop {
                let moved = match car.next_event().await {
                    crate::common::ws::Event::Next(payload) => {
                        payload["data"]["driverLocation"].clone()
                    }
                    other => panic!("driverLocation ended during {status}: {other:?}"),
                };
                positions += 1;
                if (moved["location"]["lat"].as_f64().unwrap_or(0.0) - expected).abs() < 1e-9 {
                    return;
                }
            }
        })
        .await;
    }
    assert!(positions >= 3);
    must(&app, "completeRide", &ride).await;
    rider.expect_status("COMPLETED").await;
    rider.expect_complete().await;
}
