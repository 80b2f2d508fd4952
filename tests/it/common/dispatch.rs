//! The driver's side of dispatch as the tests speak it: a driver's feed,
//! the answers and trip steps on a ride, rides with a dropoff.

use std::time::Duration;

use serde_json::{json, Value};

use super::{id_of, Client, Protocol, StoreKind, Subscription, TestApp};

/// The selection the feed tests read.
pub const FEED: &str = "subscription($d: ID!) { driverFeed(driverId: $d) { kind reason driver { id status rideId location { lat lng } } offer { distanceKm expiresAt driver { id } ride { id } } ride { id status dropoff { lat lng } arrivedAt startedAt endedAt } } }";

/// The ride fields the driver's side reads.
pub const RIDE: &str = "id status driverId offer { distanceKm expiresAt driver { id } } lastOfferEnd dropoff { lat lng } arrivedAt startedAt endedAt";

/// A service with offers on, answered within `timeout`.
pub async fn offering(store: StoreKind, timeout: Duration) -> TestApp {
    TestApp::spawn(store, |c| c.offer_timeout = timeout).await
}

/// Follows a driver's feed; checks the first STATE and returns it with the
/// subscription.
pub async fn feed(app: &Client, driver: &str) -> (Subscription, Value) {
    let mut sub = app
        .subscribe(Protocol::TransportWs, FEED, json!({"d": driver}))
        .await;
    let first = next_feed(&mut sub).await;
    assert_eq!(
        first["kind"], "STATE",
        "the feed starts with the state: {first}"
    );
    (sub, first)
}

/// The next driver feed event.
pub async fn next_feed(sub: &mut Subscription) -> Value {
    sub.next_data("driverFeed").await
}

/// Expects the feed's next event to be of `kind`; returns it.
pub async fn expect_feed(sub: &mut Subscription, kind: &str) -> Value {
    let event = next_feed(sub).await;
    assert_eq!(event["kind"], kind, "feed event: {event}");
    event
}

/// Runs a mutation on a ride; the whole response.
pub async fn on_ride(app: &Client, operation: &str, ride: &str) -> Value {
    app.gql(
        &format!("mutation($id: ID!) {{ {operation}(rideId: $id) {{ {RIDE} }} }}"),
        json!({"id": ride}),
    )
    .await
}

/// Runs a mutation that must succeed; the ride it returns.
pub async fn must(app: &Client, operation: &str, ride: &str) -> Value {
    let answer = on_ride(app, operation, ride).await;
    assert!(answer.get("errors").is_none(), "{operation}: {answer}");
    answer["data"][operation].clone()
}

/// A ride as the driver's side reads it.
pub async fn read(app: &Client, ride: &str) -> Value {
    app.data(
        &format!("query($id: ID!) {{ ride(id: $id) {{ {RIDE} }} }}"),
        json!({"id": ride}),
    )
    .await["ride"]
        .clone()
}

/// Requests a ride from `pickup` to `dropoff`; its id.
pub async fn request_to(
    app: &Client,
    rider: &str,
    pickup: (f64, f64),
    dropoff: (f64, f64),
) -> String {
    let ride = app
        .data(
            &format!("mutation($r: ID!, $lat: Float!, $lng: Float!, $to: LocationInput) {{ requestDriver(riderId: $r, lat: $lat, lng: $lng, dropoff: $to) {{ {RIDE} }} }}"),
            json!({"r": rider, "lat": pickup.0, "lng": pickup.1, "to": {"lat": dropoff.0, "lng": dropoff.1}}),
        )
        .await["requestDriver"]
        .clone();
    assert_eq!(ride["status"], "SEARCHING");
    assert_eq!(ride["dropoff"]["lat"], dropoff.0, "{ride}");
    id_of(&ride)
}
