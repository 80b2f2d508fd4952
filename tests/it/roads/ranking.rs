//! Dispatch by road time, on every store: across a river the driver on the
//! same bank wins (and without roads, the nearest as before); on a one-way
//! loop the driver upstream wins; `maxPickupEta` leaves a slow driver and
//! keeps searching; a pickup off the network is estimated in a straight
//! line; an offer carries its time and the ride keeps it once accepted; a
//! driver no road joins to the pickup (an island) neither wins nor passes
//! `maxPickupEta`; a rank of 16 slow drivers does not hide a fast one.

use std::time::Duration;

use serde_json::{json, Value};

use super::city::{cities, island, island_town, loop_city, river};
use crate::common::{eventually, id_of, StoreKind, TestApp};

/// What a matched ride says of its driver's way to the pickup.
const MATCHED: &str = "query($id: ID!) { ride(id: $id) { status driverId searches matchedAt \
    pickupEtaSeconds pickupRoadKm etaSource pickupRoute { lat lng } } }";

/// A service on `store` with the test cities as its roads (or none).
pub(super) async fn app(
    store: StoreKind,
    roads: bool,
    tweak: impl FnOnce(&mut tracking::startup::Config),
) -> TestApp {
    TestApp::spawn(store, |c| {
        c.roads.file = roads.then(cities);
        tweak(c);
    })
    .await
}

/// Drivers report where they are, then a rider asks at `pickup`; the ride
/// once matched.
pub(super) async fn matched(
    app: &TestApp,
    drivers: &[(&str, (f64, f64))],
    pickup: (f64, f64),
) -> Value {
    for (id, at) in drivers {
        app.update_location(id, *at).await;
    }
    let id = id_of(&app.request_driver("rider-1", pickup).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    app.data(MATCHED, json!({"id": id})).await["ride"].clone()
}

fn seconds(ride: &Value) -> i64 {
    ride["pickupEtaSeconds"]
        .as_i64()
        .unwrap_or_else(|| panic!("pickupEtaSeconds in {ride}"))
}

pub(super) async fn across_the_river_the_driver_on_the_same_bank_wins(store: StoreKind) {
    let drivers = [
        ("far-bank", river::FAR_BANK),
        ("same-bank", river::SAME_BANK),
    ];
    let with_roads = app(store, true, |_| {}).await;
    let ride = matched(&with_roads, &drivers, river::PICKUP).await;
    assert_eq!(ride["driverId"], "same-bank", "{ride}");
    assert_eq!(ride["etaSource"], "ROADS", "{ride}");
    // 800 m at 50 km/h is 58 s; the far bank is 8 km round by the bridge.
    assert!((50..=70).contains(&seconds(&ride)), "{ride}");
    let km = ride["pickupRoadKm"].as_f64().unwrap_or_default();
    assert!((0.75..0.85).contains(&km), "{ride}");
    assert!(ride["matchedAt"].is_string(), "{ride}");
    // The route follows the south street: every point on its latitude.
    let route = ride["pickupRoute"].as_array().cloned().unwrap_or_default();
    assert!(route.len() >= 2, "a route of points: {ride}");
    for point in &route {
        let lat = point["lat"].as_f64().unwrap_or_default();
        assert!(
            (lat - river::PICKUP.0).abs() < 1e-4,
            "off the street: {point} in {ride}"
        );
    }

    // Without roads: the nearest in a straight line, as before.
    let without = app(store, false, |_| {}).await;
    let ride = matched(&without, &drivers, river::PICKUP).await;
    assert_eq!(ride["driverId"], "far-bank", "{ride}");
    assert_eq!(ride["etaSource"], "STRAIGHT_LINE", "{ride}");
    // 300 m × 1.4 at 20 km/h: 76 s.
    assert!((70..=80).contains(&seconds(&ride)), "{ride}");
    assert!(ride["pickupRoute"].is_null(), "no roads, no route: {ride}");
}

pub(super) async fn a_driver_on_a_one_way_street_is_ranked_by_the_way_round(store: StoreKind) {
    let app = app(store, true, |_| {}).await;
    let drivers = [
        ("downstream", loop_city::DOWNSTREAM),
        ("upstream", loop_city::UPSTREAM),
    ];
    for (id, at) in drivers {
        app.update_location(id, at).await;
    }
    // Listed by time, the driver upstream first; by distance, downstream.
    let listed = |order: &'static str| {
        let app = &app;
        async move {
            let (lat, lng) = loop_city::PICKUP;
            app.data(
                "query($lat: Float!, $lng: Float!, $order: NearbyOrder) { nearbyDrivers(lat: $lat, \
                 lng: $lng, radiusKm: 5, orderBy: $order) { driver { id } distanceKm etaSeconds etaSource } }",
                json!({"lat": lat, "lng": lng, "order": order}),
            )
            .await["nearbyDrivers"]
                .clone()
        }
    };
    let by_eta = listed("ETA").await;
    assert_eq!(by_eta[0]["driver"]["id"], "upstream", "{by_eta}");
    assert_eq!(by_eta[0]["etaSource"], "ROADS", "{by_eta}");
    let (up, down) = (
        by_eta[0]["etaSeconds"].as_i64(),
        by_eta[1]["etaSeconds"].as_i64(),
    );
    assert!(up.unwrap_or(999) <= 60, "700 m at 50 km/h: {by_eta}");
    assert!(down.unwrap_or(0) >= 360, "round the 6 km loop: {by_eta}");
    let by_distance = listed("DISTANCE").await;
    assert_eq!(
        by_distance[0]["driver"]["id"], "downstream",
        "{by_distance}"
    );
    assert_eq!(
        by_distance[0]["etaSeconds"], by_eta[1]["etaSeconds"],
        "{by_distance}"
    );

    let id = id_of(&app.request_driver("rider-1", loop_city::PICKUP).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    let ride = app.data(MATCHED, json!({"id": id})).await["ride"].clone();
    assert_eq!(ride["driverId"], "upstream", "{ride}");
}

pub(super) async fn max_pickup_eta_leaves_a_slow_driver_and_keeps_searching(store: StoreKind) {
    let app = app(store, true, |c| {
        c.roads.max_pickup_eta = Duration::from_secs(300)
    })
    .await;
    app.update_location("far-bank", river::FAR_BANK).await;
    let id = id_of(&app.request_driver("rider-1", river::PICKUP).await);
    let searched = eventually("the first search", || async {
        let ride = app.data(MATCHED, json!({"id": id})).await["ride"].clone();
        (ride["searches"].as_i64().unwrap_or_default() >= 1).then_some(ride)
    })
    .await;
    assert_eq!(
        searched["status"], "SEARCHING",
        "10 minutes away is too far: {searched}"
    );
    assert!(searched["driverId"].is_null(), "{searched}");
    // A driver within the limit: the ride is its.
    app.update_location("same-bank", river::SAME_BANK).await;
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    let ride = app.data(MATCHED, json!({"id": id})).await["ride"].clone();
    assert_eq!(ride["driverId"], "same-bank", "{ride}");
}

pub(super) async fn an_off_network_or_island_pickup_is_estimated_in_a_straight_line(
    store: StoreKind,
) {
    let app = app(store, true, |_| {}).await;
    let ride = matched(&app, &[("on-street", river::PICKUP)], river::OFF_NETWORK).await;
    assert_eq!(ride["driverId"], "on-street", "{ride}");
    assert_eq!(ride["etaSource"], "STRAIGHT_LINE", "{ride}");
    // 2 km × 1.4 at 20 km/h: 504 s.
    assert!((495..=515).contains(&seconds(&ride)), "{ride}");
    assert!(
        ride["pickupRoute"].is_null(),
        "no road reaches the pickup: {ride}"
    );

    // A pickup on an island no road joins: timed in a straight line too.
    let ride = matched(&app, &[("mainland", river::PICKUP)], river::ISLAND).await;
    assert_eq!(ride["driverId"], "mainland", "{ride}");
    assert_eq!(ride["etaSource"], "STRAIGHT_LINE", "{ride}");
    // 1 km × 1.4 at 20 km/h: 252 s.
    assert!((245..=260).contains(&seconds(&ride)), "{ride}");
    assert!(
        ride["pickupRoute"].is_null(),
        "no route to an island: {ride}"
    );
}

pub(super) async fn an_offer_carries_its_time_and_the_accepted_ride_keeps_it(store: StoreKind) {
    let app = app(store, true, |c| c.offer_timeout = Duration::from_secs(30)).await;
    app.update_location("far-bank", river::FAR_BANK).await;
    app.update_location("same-bank", river::SAME_BANK).await;
    let id = id_of(&app.request_driver("rider-1", river::PICKUP).await);
    let offer = eventually("the offer", || async {
        let ride = app
            .data(
                "query($id: ID!) { ride(id: $id) { offer { etaSeconds driver { id } } } }",
                json!({"id": id}),
            )
            .await;
        let offer = ride["ride"]["offer"].clone();
        (!offer.is_null()).then_some(offer)
    })
    .await;
    assert_eq!(offer["driver"]["id"], "same-bank", "{offer}");
    let offered = offer["etaSeconds"].as_i64().unwrap_or_default();
    assert!((50..=70).contains(&offered), "{offer}");
    let accepted = app
        .data(
            "mutation($id: ID!) { acceptOffer(rideId: $id) { status pickupEtaSeconds etaSource } }",
            json!({"id": id}),
        )
        .await;
    let ride = &accepted["acceptOffer"];
    assert_eq!(ride["status"], "DRIVER_FOUND", "{accepted}");
    assert_eq!(
        ride["pickupEtaSeconds"].as_i64(),
        Some(offered),
        "{accepted}"
    );
    assert_eq!(ride["etaSource"], "ROADS", "{accepted}");
}

/// A driver who declines is left out of the next ranking: the offer goes
/// to the next fastest, across the river, with its own (longer) time.
pub(super) async fn a_declined_driver_is_left_out_of_the_next_ranking(store: StoreKind) {
    let app = app(store, true, |c| c.offer_timeout = Duration::from_secs(30)).await;
    app.update_location("far-bank", river::FAR_BANK).await;
    app.update_location("same-bank", river::SAME_BANK).await;
    let id = id_of(&app.request_driver("rider-1", river::PICKUP).await);
    let offered_to = |want: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            eventually(&format!("an offer to {want}"), || async {
                let ride = app
                    .data(
                        "query($id: ID!) { ride(id: $id) { offer { etaSeconds driver { id } } } }",
                        json!({"id": id}),
                    )
                    .await;
                let offer = ride["ride"]["offer"].clone();
                (offer["driver"]["id"] == want).then_some(offer)
            })
            .await
        }
    };
    offered_to("same-bank").await;
    app.data(
        "mutation($id: ID!) { declineOffer(rideId: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    let next = offered_to("far-bank").await;
    let seconds = next["etaSeconds"].as_i64().unwrap_or_default();
    assert!(seconds >= 500, "8 km round by the bridge: {next}");
}

/// A driver on a piece of road no road joins to the pickup's (an island)
/// cannot drive there at all, yet gets the straight-line estimate of a
/// driver off the map (300 m: 76 s) and beats one 3 minutes away by road:
/// the rider waits for a car that never comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_no_road_joins_to_the_pickup_does_not_beat_one_that_can_drive_there() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.roads.file = Some(island_town())).await;
    let drivers = [("islander", island::ISLAND), ("mainland", island::MAINLAND)];
    let ride = matched(&app, &drivers, island::PICKUP).await;
    assert_eq!(
        ride["driverId"], "mainland",
        "the islander has no road to the pickup: {ride}"
    );
}

/// `maxPickupEta` (2 minutes) lets through a driver no road joins to the
/// pickup: unreachable, it is timed as a straight line (76 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_pickup_eta_does_not_let_through_a_driver_no_road_joins_to_the_pickup() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.roads.file = Some(island_town());
        c.roads.max_pickup_eta = Duration::from_secs(120);
    })
    .await;
    app.update_location("islander", island::ISLAND).await;
    let id = id_of(&app.request_driver("rider-1", island::PICKUP).await);
    let searched = eventually("the first search", || async {
        let ride = app.data(MATCHED, json!({"id": id})).await["ride"].clone();
        (ride["searches"].as_i64().unwrap_or_default() >= 1).then_some(ride)
    })
    .await;
    assert_eq!(
        searched["status"], "SEARCHING",
        "no road reaches the pickup from the island: {searched}"
    );
}

/// A taxi rank across the river (16 drivers, `--eta-candidates`, 300 m
/// away but 8 km round by the bridge) fills the straight-line prefilter:
/// with `maxPickupEta` 5 minutes every one is left out, and the search
/// never looks past them to the driver on the same bank (800 m, 1 minute),
/// who is free the whole time; the ride expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rank_of_slow_drivers_does_not_hide_a_fast_one_behind_the_prefilter() {
    let app = app(StoreKind::Memory, true, |c| {
        c.roads.max_pickup_eta = Duration::from_secs(300);
        c.request_timeout = Duration::from_secs(3);
    })
    .await;
    for i in 0..16 {
        let at = (river::FAR_BANK.0, river::FAR_BANK.1 + 0.0001 * f64::from(i));
        app.update_location(&format!("rank-{i}"), at).await;
    }
    app.update_location("same-bank", river::SAME_BANK).await;
    let id = id_of(&app.request_driver("rider-1", river::PICKUP).await);
    let ride = eventually("the ride to stop searching", || async {
        let ride = app.data(MATCHED, json!({"id": id})).await["ride"].clone();
        (ride["status"] != "SEARCHING").then_some(ride)
    })
    .await;
    assert_eq!(
        ride["driverId"], "same-bank",
        "a free driver a minute away, behind 16 ten minutes away: {ride}"
    );
}
