//! A right lost mid-stream ends the stream, on every store: a driver that
//! was offered a ride may follow it while it decides, and not one change
//! longer. Declined, timed out or withdrawn, its `rideStatus` and
//! `driverLocation` streams (WebSocket, both subprotocols, and Server-Sent
//! Events) end with `FORBIDDEN` at once: it never learns which driver won,
//! where that driver is, or where the rider goes. The rider's own streams
//! go on.

use std::time::Duration;

use serde_json::{json, Value};
use tracking::auth::Role;

use crate::common::{
    eventually, id_of, north_of,
    streams::{HttpStream, Part, Streaming},
    tokens::{token, SECRET},
    Client, Protocol, StoreKind, Subscription, TestApp, DRIVER, RIDER, RIDE_STATUS,
};

const LOCATION: &str =
    "subscription($id: ID!) { driverLocation(rideId: $id) { id location { lat lng } } }";

fn as_user(app: &TestApp, sub: &str, role: Role) -> Client {
    app.as_user(&token(sub, role))
}

async fn secured(store: StoreKind, offer_timeout: Duration) -> TestApp {
    TestApp::spawn(store, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.offer_timeout = offer_timeout;
    })
    .await
}

/// Waits until `driver` holds the ride's offer (read as a dispatcher).
async fn offered_to(ops: &Client, ride: &str, driver: &str) {
    eventually(&format!("ride {ride} offered to {driver}"), || async {
        let data = ops
            .data(
                "query($id: ID!) { ride(id: $id) { offer { driver { id } } } }",
                json!({"id": ride}),
            )
            .await;
        (data["ride"]["offer"]["driver"]["id"] == driver).then_some(())
    })
    .await;
}

/// A driver at `at`, reporting with its own token.
async fn driver_at(app: &TestApp, id: &str, at: (f64, f64)) -> Client {
    let me = as_user(app, id, Role::Driver);
    me.update_location(id, at).await;
    me
}

/// Expects a WebSocket subscription to end with FORBIDDEN, having sent
/// nothing else first.
async fn ends_forbidden(sub: &mut Subscription, what: &str) {
    let code = sub.expect_error_code().await;
    assert_eq!(code, "FORBIDDEN", "{what}");
}

/// Expects an SSE stream's next result to be a FORBIDDEN error, then its
/// end.
async fn sse_ends_forbidden(stream: &mut HttpStream) {
    let part = stream.next().await;
    let errors: Value = match part {
        Part::Next(payload) if payload.get("errors").is_some() => payload["errors"].clone(),
        Part::Failed(errors) => errors,
        other => panic!("expected FORBIDDEN, got {other:?}"),
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "FORBIDDEN",
        "SSE: {errors}"
    );
    assert_eq!(stream.next().await, Part::End, "the stream ends");
}

pub(super) async fn a_declined_driver_loses_every_stream_of_the_ride(store: StoreKind) {
    let app = secured(store, Duration::from_secs(30)).await;
    let ops = as_user(&app, "ops", Role::Dispatcher);
    let d1 = driver_at(&app, "d1", DRIVER).await;
    let d2 = driver_at(&app, "d2", north_of(RIDER, 1.0)).await;
    let rider = as_user(&app, "ana", Role::Rider);
    let ride = id_of(&rider.request_driver("ana", RIDER).await);
    let mut rider_sees = rider.watch_ride(Protocol::TransportWs, &ride).await;
    rider_sees.expect_status("SEARCHING").await;
    offered_to(&ops, &ride, "d1").await;

    // While offered, d1 may follow the ride, over every transport.
    let mut ws = d1.watch_ride(Protocol::TransportWs, &ride).await;
    ws.expect_status("SEARCHING").await;
    let mut legacy = d1.watch_ride(Protocol::LegacyWs, &ride).await;
    legacy.expect_status("SEARCHING").await;
    let mut sse = HttpStream::open(&d1, Streaming::Sse, RIDE_STATUS, json!({"id": ride})).await;
    assert_eq!(sse.next_data("rideStatus").await["status"], "SEARCHING");
    let mut location = d1
        .subscribe(Protocol::TransportWs, LOCATION, json!({"id": ride}))
        .await;

    let declined = d1
        .gql(
            "mutation($id: ID!) { declineOffer(rideId: $id) { id status } }",
            json!({"id": ride}),
        )
        .await;
    assert!(declined.get("errors").is_none(), "{declined}");
    ends_forbidden(&mut ws, "graphql-ws rideStatus after the decline").await;
    ends_forbidden(&mut legacy, "subscriptions-transport-ws rideStatus").await;
    sse_ends_forbidden(&mut sse).await;
    ends_forbidden(&mut location, "driverLocation after the decline").await;

    // The next driver takes it; the rider sees it all, d1 cannot start again.
    offered_to(&ops, &ride, "d2").await;
    let accepted = d2
        .gql(
            "mutation($id: ID!) { acceptOffer(rideId: $id) { status } }",
            json!({"id": ride}),
        )
        .await;
    assert_eq!(
        accepted["data"]["acceptOffer"]["status"], "DRIVER_FOUND",
        "{accepted}"
    );
    assert_eq!(
        rider_sees.expect_status("DRIVER_FOUND").await["driver"]["id"],
        "d2"
    );
    let mut again = d1.watch_ride(Protocol::TransportWs, &ride).await;
    ends_forbidden(&mut again, "a new rideStatus after the decline").await;
}

pub(super) async fn a_driver_whose_offer_timed_out_loses_the_ride_stream(store: StoreKind) {
    let app = secured(store, Duration::from_secs(2)).await;
    let ops = as_user(&app, "ops", Role::Dispatcher);
    let d1 = driver_at(&app, "d1", DRIVER).await;
    driver_at(&app, "d2", north_of(RIDER, 1.0)).await;
    let rider = as_user(&app, "ana", Role::Rider);
    let ride = id_of(&rider.request_driver("ana", RIDER).await);
    offered_to(&ops, &ride, "d1").await;
    let mut ws = d1.watch_ride(Protocol::TransportWs, &ride).await;
    ws.expect_status("SEARCHING").await;
    // No answer: the offer times out and goes to d2; d1's stream ends.
    ends_forbidden(&mut ws, "rideStatus after the offer timed out").await;
    offered_to(&ops, &ride, "d2").await;
}
