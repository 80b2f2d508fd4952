//! The driver's side of dispatch, on every store: offers accepted, declined,
//! timed out, withdrawn; the driver's own feed; the trip's phases.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    error_code_of, for_each_store, id_of, north_of, within, Protocol, StoreKind, Subscription,
    TestApp, DRIVER, PATIENCE, RIDER,
};

for_each_store!(
    an_offer_accepted_assigns_the_driver,
    a_declined_ride_goes_to_the_next_nearest_never_back,
    an_offer_not_answered_in_time_goes_to_the_next_driver,
    an_answer_to_an_offer_not_held_changes_nothing,
    a_cancel_or_expiry_withdraws_the_offer,
    going_offline_declines_the_offer_held,
    a_driver_who_ignores_offers_goes_offline,
    a_ride_moves_through_its_phases_and_refuses_the_rest,
    the_driver_feed_starts_with_the_state_and_sends_one_event_per_change,
    rides_and_drivers_follow_the_phases,
    the_fleet_shows_offers_and_phases,
);

/// The selection the feed tests read.
const FEED: &str = "subscription($d: ID!) { driverFeed(driverId: $d) { kind reason driver { id status rideId location { lat lng } } offer { distanceKm expiresAt driver { id } ride { id } } ride { id status dropoff { lat lng } arrivedAt startedAt endedAt } } }";

const RIDE: &str = "id status driverId offer { distanceKm expiresAt driver { id } } lastOfferEnd dropoff { lat lng } arrivedAt startedAt endedAt";

/// A service with offers on, answered within `timeout`.
async fn offering(store: StoreKind, timeout: Duration) -> TestApp {
    TestApp::spawn(store, |c| c.offer_timeout = timeout).await
}

/// Follows a driver's feed; checks the first STATE and returns it with the
/// subscription.
async fn feed(app: &TestApp, driver: &str) -> (Subscription, Value) {
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
async fn next_feed(sub: &mut Subscription) -> Value {
    match sub.next_event().await {
        crate::common::ws::Event::Next(payload) => {
            assert!(payload.get("errors").is_none(), "feed: {payload}");
            payload["data"]["driverFeed"].clone()
        }
        other => panic!("expected a feed event, got {other:?}"),
    }
}

/// Expects the feed's next event to be of `kind`; returns it.
async fn expect_feed(sub: &mut Subscription, kind: &str) -> Value {
    let event = next_feed(sub).await;
    assert_eq!(event["kind"], kind, "feed event: {event}");
    event
}

/// Runs a mutation on a ride; the whole response.
async fn on_ride(app: &TestApp, operation: &str, ride: &str) -> Value {
    app.gql(
        &format!("mutation($id: ID!) {{ {operation}(rideId: $id) {{ {RIDE} }} }}"),
        json!({"id": ride}),
    )
    .await
}

/// Runs a mutation that must succeed; the ride it returns.
async fn must(app: &TestApp, operation: &str, ride: &str) -> Value {
    let answer = on_ride(app, operation, ride).await;
    assert!(answer.get("errors").is_none(), "{operation}: {answer}");
    answer["data"][operation].clone()
}

async fn read(app: &TestApp, ride: &str) -> Value {
    app.data(
        &format!("query($id: ID!) {{ ride(id: $id) {{ {RIDE} }} }}"),
        json!({"id": ride}),
    )
    .await["ride"]
        .clone()
}

async fn request_to(app: &TestApp, rider: &str, pickup: (f64, f64), dropoff: (f64, f64)) -> String {
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

async fn an_offer_accepted_assigns_the_driver(store: StoreKind) {
    let app = offering(store, Duration::from_secs(30)).await;
    app.update_location("d1", DRIVER).await;
    let (mut d1, first) = feed(&app, "d1").await;
    assert_eq!(first["driver"]["status"], "AVAILABLE");
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    let mut rider = app.watch_ride(Protocol::TransportWs, &ride).await;
    rider.expect_status("SEARCHING").await;

    let offer = expect_feed(&mut d1, "OFFER").await;
    assert_eq!(offer["offer"]["ride"]["id"], ride.as_str());
    assert_eq!(offer["offer"]["driver"]["id"], "d1");
    assert_eq!(offer["driver"]["status"], "OFFERED");
    assert_eq!(offer["driver"]["rideId"], ride.as_str());
    assert!(offer["offer"]["distanceKm"]
        .as_f64()
        .is_some_and(|km| km < 0.3));
    // Held by the offer: not listed, not offered anything else.
    assert!(app.nearby(RIDER, 5.0, 10).await.is_empty());
    assert_eq!(app.driver("d1").await["status"], "OFFERED");
    let other = id_of(&app.request_driver("bob", RIDER).await);
    assert_eq!(app.searched(&other).await["offer"], Value::Null);
    let seen = read(&app, &ride).await;
    assert_eq!(seen["status"], "SEARCHING");
    assert_eq!(seen["offer"]["driver"]["id"], "d1");

    let accepted = must(&app, "acceptOffer", &ride).await;
    assert_eq!(accepted["status"], "DRIVER_FOUND");
    assert_eq!(accepted["driverId"], "d1");
    assert_eq!(accepted["offer"], Value::Null);
    assert_eq!(accepted["lastOfferEnd"], "ACCEPTED");
    let ended = expect_feed(&mut d1, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "ACCEPTED");
    let assigned = expect_feed(&mut d1, "RIDE").await;
    assert_eq!(assigned["ride"]["status"], "DRIVER_FOUND");
    assert_eq!(assigned["driver"]["status"], "ASSIGNED");
    let found = rider.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "d1");
    assert_eq!(app.driver("d1").await["status"], "ASSIGNED");
    // The other ride was not offered the assigned driver either.
    assert_eq!(read(&app, &other).await["offer"], Value::Null);
}

async fn a_declined_ride_goes_to_the_next_nearest_never_back(store: StoreKind) {
    let app = offering(store, Duration::from_secs(30)).await;
    app.update_location("near", north_of(RIDER, 0.5)).await;
    app.update_location("next", north_of(RIDER, 1.0)).await;
    app.update_location("far", north_of(RIDER, 2.0)).await;
    let (mut near, _) = feed(&app, "near").await;
    let (mut next, _) = feed(&app, "next").await;
    let (mut far, _) = feed(&app, "far").await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    expect_feed(&mut near, "OFFER").await;

    let declined = must(&app, "declineOffer", &ride).await;
    assert_eq!(declined["status"], "SEARCHING");
    assert_eq!(declined["lastOfferEnd"], "DECLINED");
    let ended = expect_feed(&mut near, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "DECLINED");
    assert_eq!(ended["driver"]["status"], "AVAILABLE");
    // At once, without waiting for a tick (the search interval is a minute).
    let offer = expect_feed(&mut next, "OFFER").await;
    assert_eq!(offer["offer"]["ride"]["id"], ride.as_str());

    // The decliner reports again (it is available, nearest, and wakes the
    // ride): it is never offered the ride again.
    app.update_location("near", north_of(RIDER, 0.4)).await;
    must(&app, "declineOffer", &ride).await;
    expect_feed(&mut next, "OFFER_ENDED").await;
    let third = expect_feed(&mut far, "OFFER").await;
    assert_eq!(third["offer"]["ride"]["id"], ride.as_str());
    must(&app, "declineOffer", &ride).await;
    expect_feed(&mut far, "OFFER_ENDED").await;
    // Nobody is left: the ride searches on with no offer.
    app.update_location("near", north_of(RIDER, 0.3)).await;
    let still = read(&app, &ride).await;
    assert_eq!(still["status"], "SEARCHING");
    assert_eq!(still["offer"], Value::Null, "{still}");
    assert_eq!(app.driver("near").await["status"], "AVAILABLE");
    // A new driver is offered it.
    app.update_location("new", north_of(RIDER, 3.0)).await;
    let (mut new, first) = feed(&app, "new").await;
    if first["driver"]["status"] != "OFFERED" {
        expect_feed(&mut new, "OFFER").await;
    }
    assert_eq!(read(&app, &ride).await["offer"]["driver"]["id"], "new");
}

async fn an_offer_not_answered_in_time_goes_to_the_next_driver(store: StoreKind) {
    let timeout = Duration::from_millis(600);
    let app = offering(store, timeout).await;
    app.update_location("slow", north_of(RIDER, 0.5)).await;
    app.update_location("quick", north_of(RIDER, 1.0)).await;
    let (mut slow, _) = feed(&app, "slow").await;
    let (mut quick, _) = feed(&app, "quick").await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    let offer = expect_feed(&mut slow, "OFFER").await;
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(offer["offer"]["expiresAt"].clone()).expect("a time");
    let ended = expect_feed(&mut slow, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "TIMED_OUT");
    assert!(
        chrono::Utc::now() >= deadline - chrono::Duration::milliseconds(50),
        "not before its deadline"
    );
    assert_eq!(ended["driver"]["status"], "AVAILABLE");
    let next = expect_feed(&mut quick, "OFFER").await;
    assert_eq!(next["offer"]["ride"]["id"], ride.as_str());
    assert_eq!(read(&app, &ride).await["lastOfferEnd"], "TIMED_OUT");
    let accepted = must(&app, "acceptOffer", &ride).await;
    assert_eq!(accepted["driverId"], "quick");
}

async fn an_answer_to_an_offer_not_held_changes_nothing(store: StoreKind) {
    let app = offering(store, Duration::from_millis(500)).await;
    // No offer at all: searching with nobody near, or unknown.
    let lonely = id_of(&app.request_driver("ana", north_of(RIDER, 50.0)).await);
    app.searched(&lonely).await;
    assert_eq!(
        error_code_of(&on_ride(&app, "acceptOffer", &lonely).await),
        "CONFLICT"
    );
    assert_eq!(
        error_code_of(&on_ride(&app, "declineOffer", &lonely).await),
        "CONFLICT"
    );
    assert_eq!(
        error_code_of(&on_ride(&app, "acceptOffer", "0.404").await),
        "NOT_FOUND"
    );

    // After the deadline: the offer timed out and nothing changes.
    app.update_location("d1", DRIVER).await;
    let (mut d1, _) = feed(&app, "d1").await;
    let ride = id_of(&app.request_driver("bob", RIDER).await);
    expect_feed(&mut d1, "OFFER").await;
    let ended = expect_feed(&mut d1, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "TIMED_OUT");
    let before = read(&app, &ride).await;
    let late = on_ride(&app, "acceptOffer", &ride).await;
    assert_eq!(error_code_of(&late), "CONFLICT", "{late}");
    assert_eq!(
        read(&app, &ride).await,
        before,
        "a late answer changes nothing"
    );
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");

    // A ride already matched.
    let direct = TestApp::spawn(store, |_| {}).await;
    direct.update_location("d2", DRIVER).await;
    let matched = id_of(&direct.request_driver("cy", RIDER).await);
    direct.ride_reaches(&matched, "DRIVER_FOUND").await;
    assert_eq!(
        error_code_of(&on_ride(&direct, "acceptOffer", &matched).await),
        "CONFLICT"
    );
    assert_eq!(
        error_code_of(&on_ride(&direct, "declineOffer", &matched).await),
        "CONFLICT"
    );
    assert_eq!(direct.ride(&matched).await["status"], "DRIVER_FOUND");
}

async fn a_cancel_or_expiry_withdraws_the_offer(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.offer_timeout = Duration::from_secs(30);
        c.request_timeout = Duration::from_secs(30);
    })
    .await;
    app.update_location("d1", DRIVER).await;
    let (mut d1, _) = feed(&app, "d1").await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    expect_feed(&mut d1, "OFFER").await;
    let cancelled = app.cancel(&ride).await;
    assert_eq!(
        cancelled["data"]["cancelRequest"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let ended = expect_feed(&mut d1, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "WITHDRAWN");
    assert_eq!(ended["driver"]["status"], "AVAILABLE");
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");
    assert_eq!(read(&app, &ride).await["lastOfferEnd"], "WITHDRAWN");

    // Expiry: the ride's deadline comes before the offer's.
    let hasty = TestApp::spawn(store, |c| {
        c.offer_timeout = Duration::from_secs(30);
        c.request_timeout = Duration::from_millis(800);
    })
    .await;
    hasty.update_location("d2", DRIVER).await;
    let (mut d2, _) = feed(&hasty, "d2").await;
    let ride = id_of(&hasty.request_driver("bob", RIDER).await);
    expect_feed(&mut d2, "OFFER").await;
    let ended = expect_feed(&mut d2, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "WITHDRAWN");
    hasty.ride_reaches(&ride, "EXPIRED").await;
    assert_eq!(hasty.driver("d2").await["status"], "AVAILABLE");
    assert_eq!(
        error_code_of(&on_ride(&hasty, "acceptOffer", &ride).await),
        "CONFLICT"
    );
}

async fn going_offline_declines_the_offer_held(store: StoreKind) {
    let app = offering(store, Duration::from_secs(30)).await;
    app.update_location("leaving", north_of(RIDER, 0.5)).await;
    app.update_location("staying", north_of(RIDER, 1.0)).await;
    let (mut leaving, _) = feed(&app, "leaving").await;
    let (mut staying, _) = feed(&app, "staying").await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    expect_feed(&mut leaving, "OFFER").await;
    let gone = app.go_offline("leaving").await;
    assert_eq!(gone["data"]["goOffline"]["status"], "OFFLINE", "{gone}");
    let ended = expect_feed(&mut leaving, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "DECLINED");
    let state = expect_feed(&mut leaving, "STATE").await;
    assert_eq!(state["driver"]["status"], "OFFLINE");
    let offer = expect_feed(&mut staying, "OFFER").await;
    assert_eq!(offer["offer"]["ride"]["id"], ride.as_str());
}

async fn a_driver_who_ignores_offers_goes_offline(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.offer_timeout = Duration::from_millis(300);
        c.offer_ignore_limit = 2;
    })
    .await;
    app.update_location("absent", DRIVER).await;
    let (mut absent, _) = feed(&app, "absent").await;
    for rider in ["ana", "bob"] {
        app.request_driver(rider, RIDER).await;
        expect_feed(&mut absent, "OFFER").await;
        let ended = expect_feed(&mut absent, "OFFER_ENDED").await;
        assert_eq!(ended["reason"], "TIMED_OUT");
    }
    let state = expect_feed(&mut absent, "STATE").await;
    assert_eq!(state["driver"]["status"], "OFFLINE", "{state}");
    assert_eq!(app.driver("absent").await["status"], "OFFLINE");
    assert!(app.nearby(RIDER, 5.0, 10).await.is_empty());
    // Reporting again brings it back, with a clean slate.
    app.update_location("absent", DRIVER).await;
    let back = expect_feed(&mut absent, "STATE").await;
    assert_eq!(back["driver"]["status"], "AVAILABLE");
}

async fn a_ride_moves_through_its_phases_and_refuses_the_rest(store: StoreKind) {
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

async fn the_driver_feed_starts_with_the_state_and_sends_one_event_per_change(store: StoreKind) {
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

async fn rides_and_drivers_follow_the_phases(store: StoreKind) {
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

async fn the_fleet_shows_offers_and_phases(store: StoreKind) {
    let app = offering(store, Duration::from_secs(30)).await;
    app.update_location("d1", DRIVER).await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    app.searched(&ride).await;
    let fleet_query = format!(
        "subscription($lat: Float!, $lng: Float!) {{ fleet(lat: $lat, lng: $lng, radiusKm: 5) {{ kind drivers {{ id status }} rides {{ {RIDE} }} }} }}"
    );
    let mut fleet = app
        .subscribe(
            Protocol::TransportWs,
            &fleet_query,
            json!({"lat": RIDER.0, "lng": RIDER.1}),
        )
        .await;
    let snapshot = match fleet.next_event().await {
        crate::common::ws::Event::Next(payload) => payload["data"]["fleet"].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(snapshot["kind"], "SNAPSHOT");
    assert_eq!(
        snapshot["drivers"],
        json!([{"id": "d1", "status": "OFFERED"}]),
        "{snapshot}"
    );
    assert_eq!(snapshot["rides"][0]["offer"]["driver"]["id"], "d1");
    must(&app, "acceptOffer", &ride).await;
    must(&app, "driverArrived", &ride).await;
    must(&app, "startTrip", &ride).await;
    // A RIDE event for the offer's end (with the match), then each phase.
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("IN_PROGRESS") {
        let event = match fleet.next_event().await {
            crate::common::ws::Event::Next(payload) => payload["data"]["fleet"].clone(),
            other => panic!("{other:?}"),
        };
        if event["kind"] == "RIDE" {
            let ride = &event["rides"][0];
            seen.push(ride["status"].as_str().unwrap_or("?").to_owned());
            if ride["status"] == "DRIVER_FOUND" {
                assert_eq!(ride["lastOfferEnd"], "ACCEPTED");
            }
        }
    }
    assert_eq!(seen, ["DRIVER_FOUND", "ARRIVED", "IN_PROGRESS"]);
}

/// The value of one series in `/metrics` text (0 when absent).
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Each outcome is counted, and answers are timed. (The recorder is shared
/// by the whole test process: counts only ever grow, so this checks that
/// each grew by at least what happened here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_outcomes_are_counted_and_answers_timed() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.offer_timeout = Duration::from_millis(300);
    })
    .await;
    let outcome = |o: &str| format!("tracking_offers_total{{outcome=\"{o}\"}}");
    let before = app.metrics().await;
    app.update_location("d1", DRIVER).await;
    let (mut d1, _) = feed(&app, "d1").await;
    let accepted = id_of(&app.request_driver("a", RIDER).await);
    expect_feed(&mut d1, "OFFER").await;
    must(&app, "acceptOffer", &accepted).await;
    expect_feed(&mut d1, "OFFER_ENDED").await;
    expect_feed(&mut d1, "RIDE").await;
    must(&app, "completeRide", &accepted).await;
    expect_feed(&mut d1, "RIDE").await;
    for (rider, then) in [
        ("b", Some("declineOffer")),
        ("c", Some("cancelRequest")),
        ("d", None),
    ] {
        let ride = id_of(&app.request_driver(rider, RIDER).await);
        expect_feed(&mut d1, "OFFER").await;
        if let Some(operation) = then {
            must(&app, operation, &ride).await;
        }
        expect_feed(&mut d1, "OFFER_ENDED").await;
    }
    let after = app.metrics().await;
    for o in ["accepted", "declined", "withdrawn", "timed_out"] {
        assert!(
            series(&after, &outcome(o)) >= series(&before, &outcome(o)) + 1.0,
            "{o} counted:\n{after}"
        );
    }
    let answers = "tracking_offer_answer_seconds_count";
    assert!(
        series(&after, answers) >= series(&before, answers) + 2.0,
        "{after}"
    );
}
