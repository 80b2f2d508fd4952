//! `tracking-client`, the typed Rust client, against a real service: every
//! typed operation, both WebSocket subprotocols, tokens, and refusals read
//! back as codes.

use std::time::Duration;

use serde_json::json;
use tracking::auth::{mint, Role};
use tracking_client::{
    Client, DriverStatus, Error, FeedKind, FleetEventKind, Location, OfferEndReason, Protocol,
    Report, RideStatus,
};

use crate::common::{within, StoreKind, TestApp, DRIVER, PATIENCE, RIDER};

const SECRET: &str = "client-test-secret-16-bytes-long";

fn client_as(app: &TestApp, sub: &str, role: Role) -> Client {
    let token = mint(SECRET, sub, role, Duration::from_secs(600)).expect("mint");
    Client::new(format!("http://{}", app.addr))
        .expect("a client")
        .with_token(token)
}

#[tokio::test]
async fn the_typed_client_drives_a_ride_from_request_to_completion() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_secret = Some(SECRET.into())).await;
    let driver = client_as(&app, "car-1", Role::Driver);
    let rider = client_as(&app, "ana", Role::Rider);
    let dispatcher = client_as(&app, "ops", Role::Dispatcher);

    let mut fleet = within(
        PATIENCE,
        "the fleet",
        dispatcher.fleet(RIDER.0, RIDER.1, 5.0),
    )
    .await
    .expect("fleet subscription");
    let snapshot = within(PATIENCE, "a snapshot", fleet.next())
        .await
        .expect("an event")
        .expect("not completed");
    assert_eq!(snapshot.kind, FleetEventKind::Snapshot);
    assert!(snapshot.drivers.is_empty() && snapshot.rides.is_empty());

    let ride = rider
        .request_driver("ana", RIDER.0, RIDER.1)
        .await
        .expect("a ride");
    assert_eq!(ride.status, RideStatus::Searching);
    assert_eq!(ride.rider_id, "ana");
    let mut status = rider.ride_status(&ride.id).await.expect("rideStatus");
    let first = within(PATIENCE, "the ride as it is", status.next())
        .await
        .expect("an update")
        .expect("not completed");
    assert_eq!(first.status, RideStatus::Searching);
    let mut follow = rider
        .driver_location(&ride.id)
        .await
        .expect("driverLocation");

    let reported = driver
        .update_location("car-1", DRIVER.0, DRIVER.1)
        .await
        .expect("a report");
    assert_eq!(reported.id, "car-1");
    let found = within(PATIENCE, "the match", status.next())
        .await
        .expect("an update")
        .expect("not completed");
    assert_eq!(found.status, RideStatus::DriverFound);
    assert_eq!(found.driver_id.as_deref(), Some("car-1"));
    assert!(found.distance_km.is_some_and(|km| km < 1.0));

    let moved = driver
        .update_location("car-1", DRIVER.0 - 0.001, DRIVER.1)
        .await
        .expect("a report");
    assert_eq!(moved.status, DriverStatus::Assigned);
    assert_eq!(moved.ride_id.as_deref(), Some(ride.id.as_str()));
    let seen = loop {
        let seen = within(PATIENCE, "the driver moving", follow.next())
            .await
            .expect("an update")
            .expect("not completed");
        if seen.location.is_some_and(|l| l.lat < DRIVER.0) {
            break seen;
        }
    };
    assert_eq!(seen.id, "car-1");

    let done = driver.complete_ride(&ride.id).await.expect("completed");
    assert_eq!(done.status, RideStatus::Completed);
    let last = within(PATIENCE, "the end", status.next())
        .await
        .expect("an update")
        .expect("not completed yet");
    assert!(last.status.is_terminal());
    assert_eq!(
        within(PATIENCE, "the stream's end", status.next())
            .await
            .expect("no error"),
        None,
        "the stream completes after the last status"
    );
    let read = dispatcher.ride(&ride.id).await.expect("a read");
    assert_eq!(read.map(|r| r.status), Some(RideStatus::Completed));

    // The fleet saw the ride come and go.
    let mut kinds = Vec::new();
    while !kinds.iter().any(|(_, s)| *s == Some(RideStatus::Completed)) {
        let event = within(PATIENCE, "fleet events", fleet.next())
            .await
            .expect("an event")
            .expect("not completed");
        kinds.push((event.kind, event.rides.first().map(|r| r.status)));
    }
    assert!(kinds.contains(&(FleetEventKind::Ride, Some(RideStatus::Searching))));
}

#[tokio::test]
async fn the_typed_client_reads_refusals_batches_and_both_subprotocols() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_secret = Some(SECRET.into())).await;
    let dispatcher = client_as(&app, "ops", Role::Dispatcher);

    // Refusals carry their code.
    let missing = dispatcher.cancel_request("0.404").await;
    assert!(
        matches!(&missing, Err(Error::GraphQL(_))),
        "a refusal: {missing:?}"
    );
    assert_eq!(
        missing.as_ref().err().and_then(Error::code),
        Some("NOT_FOUND")
    );
    let anonymous = Client::new(format!("http://{}", app.addr)).expect("a client");
    let refused = anonymous.driver("x").await;
    assert_eq!(
        refused.as_ref().err().and_then(Error::code),
        Some("UNAUTHENTICATED"),
        "{refused:?}"
    );
    let forbidden = client_as(&app, "ana", Role::Rider)
        .update_location("car", 0.0, 0.0)
        .await;
    assert_eq!(
        forbidden.as_ref().err().and_then(Error::code),
        Some("FORBIDDEN")
    );

    // A batch, and what a read returns.
    let reports: Vec<Report> = (0..3)
        .map(|i| Report {
            driver_id: format!("b{i}"),
            lat: DRIVER.0 + f64::from(i) * 0.001,
            lng: DRIVER.1,
            at: None,
        })
        .collect();
    let batch = dispatcher
        .update_locations(&reports)
        .await
        .expect("a batch");
    assert_eq!((batch.accepted, batch.stale), (3, 0));
    assert!(batch.refused.is_empty());
    let near = dispatcher
        .nearby_drivers(RIDER.0, RIDER.1, 5.0, 2)
        .await
        .expect("nearby");
    assert_eq!(near.len(), 2, "the limit holds");
    assert!(near[0].distance_km <= near[1].distance_km, "nearest first");
    let offline = dispatcher.go_offline("b0").await.expect("offline");
    assert_eq!(offline.status, DriverStatus::Offline);
    assert_eq!(dispatcher.driver("nobody").await.expect("a read"), None);

    // Idempotency: the same key, the same ride (far from every driver, so
    // that it stays SEARCHING).
    let once = dispatcher
        .request_driver_once("ana", 10.0, 10.0, Some("k-1"))
        .await
        .expect("a ride");
    let again = dispatcher
        .request_driver_once("ana", 10.0, 10.0, Some("k-1"))
        .await
        .expect("the same ride");
    assert_eq!(once.id, again.id);

    // Both subprotocols, raw.
    for protocol in Protocol::ALL {
        let mut sub = dispatcher
            .subscribe_with(
                protocol,
                "subscription($id: ID!) { rideStatus(rideId: $id) { status } }",
                json!({"id": once.id}),
            )
            .await
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}"));
        let event = within(PATIENCE, "a result", sub.next_event()).await;
        assert_eq!(
            event,
            tracking_client::Event::Next(json!({"data": {"rideStatus": {"status": "SEARCHING"}}})),
            "{protocol:?}"
        );
    }

    // A subscription without a token is refused with a code.
    let mut refused = anonymous.ride_status(&once.id).await.expect("a socket");
    let answer = within(PATIENCE, "the refusal", refused.next()).await;
    assert_eq!(
        answer.as_ref().err().and_then(Error::code),
        Some("UNAUTHENTICATED"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn the_typed_client_serves_a_driver_app_with_offers_and_phases() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.offer_timeout = Duration::from_secs(30);
    })
    .await;
    let driver = client_as(&app, "car-1", Role::Driver);
    let rider = client_as(&app, "ana", Role::Rider);
    driver
        .update_location("car-1", DRIVER.0, DRIVER.1)
        .await
        .expect("a report");
    let mut feed = driver.driver_feed("car-1").await.expect("driverFeed");
    let state = next_event(&mut feed).await;
    assert_eq!(state.kind, FeedKind::State);
    assert_eq!(state.driver.status, DriverStatus::Available);

    let to = Location {
        lat: RIDER.0 + 0.02,
        lng: RIDER.1,
    };
    let ride = rider
        .request_driver_to(
            "ana",
            Location {
                lat: RIDER.0,
                lng: RIDER.1,
            },
            to,
        )
        .await
        .expect("a ride");
    assert_eq!(ride.dropoff, Some(to));
    assert!(ride.offer.is_none(), "a rider never sees the offer");
    let offer = next_event(&mut feed).await;
    assert_eq!(offer.kind, FeedKind::Offer);
    assert_eq!(offer.driver.status, DriverStatus::Offered);
    assert!(offer.offer.is_some_and(|o| o.distance_km < 1.0));
    let offered = offer.ride.expect("the ride offered");
    assert_eq!(offered.id, ride.id);

    let accepted = driver.accept_offer(&ride.id).await.expect("accepted");
    assert_eq!(accepted.status, RideStatus::DriverFound);
    let ended = next_event(&mut feed).await;
    assert_eq!(
        (ended.kind, ended.reason),
        (FeedKind::OfferEnded, Some(OfferEndReason::Accepted))
    );
    assert_eq!(next_event(&mut feed).await.kind, FeedKind::Ride);
    let declined = driver.decline_offer(&ride.id).await;
    assert_eq!(
        declined.as_ref().err().and_then(Error::code),
        Some("CONFLICT")
    );

    for (step, status) in [
        (driver.driver_arrived(&ride.id).await, RideStatus::Arrived),
        (driver.start_trip(&ride.id).await, RideStatus::InProgress),
        (driver.complete_ride(&ride.id).await, RideStatus::Completed),
    ] {
        assert_eq!(step.expect("a step").status, status);
        let event = next_event(&mut feed).await;
        assert_eq!(event.ride.map(|r| r.status), Some(status));
    }
}

async fn next_event(
    feed: &mut tracking_client::Updates<tracking_client::FeedEvent>,
) -> tracking_client::FeedEvent {
    within(PATIENCE, "a feed event", feed.next())
        .await
        .expect("an event")
        .expect("the feed goes on")
}
