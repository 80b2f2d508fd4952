//! A driver's answer to an offer: accepted (the driver is assigned),
//! declined (the next nearest is offered the ride, never the decliner
//! again), not given in time (the next driver), or given to an offer not
//! held (nothing changes).

use std::time::Duration;

use serde_json::Value;

use crate::common::{
    dispatch::{expect_feed, feed, must, offering, on_ride, read},
    error_code_of, id_of, north_of, Protocol, StoreKind, TestApp, DRIVER, RIDER,
};

pub(super) async fn an_offer_accepted_assigns_the_driver(store: StoreKind) {
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

pub(super) async fn a_declined_ride_goes_to_the_next_nearest_never_back(store: StoreKind) {
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

pub(super) async fn an_offer_not_answered_in_time_goes_to_the_next_driver(store: StoreKind) {
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

pub(super) async fn an_answer_to_an_offer_not_held_changes_nothing(store: StoreKind) {
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
