//! Live maps (`fleet`): a snapshot, then every change in the area (one
//! event per change, or each interval's changes gathered in one), a silent
//! driver announced offline, offers and phases shown, and a dashboard
//! joining a map another watches.

use std::{collections::HashSet, time::Duration};

use serde_json::{json, Value};

use super::pressure::WIDE_MAP;
use crate::common::{
    dispatch::{must, offering, RIDE},
    id_of, north_of, Protocol, StoreKind, Subscription, TestApp, DRIVER, RIDER,
};

const FLEET: &str = "subscription($lat: Float!, $lng: Float!, $r: Float!) { fleet(lat: $lat, lng: $lng, radiusKm: $r) { kind resync drivers { id status location { lat lng } } rides { id status driver { id } } } }";

/// A live map of everything within 10 km of the rider's spot.
async fn watch_fleet(app: &TestApp) -> Subscription {
    app.subscribe(
        Protocol::TransportWs,
        FLEET,
        json!({"lat": RIDER.0, "lng": RIDER.1, "r": 10.0}),
    )
    .await
}

/// `fleet` as a service runs by default: after the snapshot, one CHANGES
/// event per interval at most, holding each driver and ride that changed
/// once, as it is now; a driver that left the area is in it once more.
pub(super) async fn a_dashboard_gets_each_intervals_changes_in_one_event(store: StoreKind) {
    const MOVES: usize = 10;
    let app = TestApp::spawn(store, |c| c.fleet_interval = Duration::from_secs(1)).await;
    app.update_location("edge", north_of(RIDER, 9.9)).await;
    let mut map = watch_fleet(&app).await;
    let snapshot = map.next_fleet().await;
    assert_eq!(snapshot["kind"], "SNAPSHOT");

    // One driver moves ten times, one far away moves, one leaves the area,
    // a ride is requested and matched.
    for step in 0..MOVES {
        app.update_location("mover", north_of(RIDER, 1.0 + step as f64 * 0.1))
            .await;
    }
    app.update_location("far", north_of(RIDER, 40.0)).await;
    app.update_location("edge", north_of(RIDER, 10.5)).await;
    let ride = id_of(&app.request_driver("rider", north_of(RIDER, 5.0)).await);
    app.ride_reaches(&ride, "DRIVER_FOUND").await;

    let last_move = north_of(RIDER, 1.0 + (MOVES - 1) as f64 * 0.1);
    let mut events = 0;
    let mut mover_seen = 0;
    let (mut edge_gone, mut ride_found) = (false, false);
    let mut mover_now = None;
    while !(edge_gone && ride_found && mover_now == Some(true)) {
        let event = map.next_fleet().await;
        assert_eq!(event["kind"], "CHANGES", "{event}");
        events += 1;
        let drivers = event["drivers"].as_array().expect("drivers");
        let ids: Vec<&str> = drivers.iter().filter_map(|d| d["id"].as_str()).collect();
        let unique: HashSet<&&str> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "each driver once per event: {event}"
        );
        assert!(
            !ids.contains(&"far"),
            "nothing from outside the area: {event}"
        );
        for driver in drivers {
            match driver["id"].as_str() {
                Some("mover") => {
                    mover_seen += 1;
                    let lat = driver["location"]["lat"].as_f64().expect("lat");
                    mover_now = Some((lat - last_move.0).abs() < 1e-6);
                }
                Some("edge") => edge_gone = true,
                _ => {}
            }
        }
        for ride_now in event["rides"].as_array().expect("rides") {
            if ride_now["id"] == ride.as_str() && ride_now["status"] == "DRIVER_FOUND" {
                ride_found = true;
            }
        }
    }
    assert!(
        mover_seen < MOVES,
        "{MOVES} moves within about a second came in {mover_seen} events, not one each"
    );
    assert!(
        events < MOVES + 3,
        "{events} events for {} changes",
        MOVES + 3
    );
}

/// `fleet`: a snapshot first, then every driver and ride change in the
/// area, enough to keep a map current from events alone.
pub(super) async fn a_dashboard_keeps_its_picture_from_events(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("inside", north_of(RIDER, 2.0)).await;
    app.update_location("outside", north_of(RIDER, 40.0)).await;
    let waiting = id_of(&app.request_driver("early", north_of(RIDER, 3.0)).await);
    app.ride_reaches(&waiting, "DRIVER_FOUND").await;

    let mut map = watch_fleet(&app).await;
    let snapshot = map.next_fleet().await;
    assert_eq!(snapshot["kind"], "SNAPSHOT");
    assert_eq!(snapshot["resync"], false);
    let drivers: Vec<&str> = snapshot["drivers"]
        .as_array()
        .expect("drivers")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(
        drivers,
        ["inside"],
        "the assigned driver of the ride in the area, not the one outside"
    );
    assert_eq!(snapshot["rides"][0]["id"], waiting.as_str());
    assert_eq!(snapshot["rides"][0]["status"], "DRIVER_FOUND");

    // A driver far away moves: nothing. One in the area: an event.
    app.update_location("outside", north_of(RIDER, 39.9)).await;
    app.update_location("newcomer", north_of(RIDER, 4.0)).await;
    let event = map.next_fleet().await;
    assert_eq!(event["kind"], "DRIVER");
    assert_eq!(event["drivers"][0]["id"], "newcomer");
    assert_eq!(event["drivers"][0]["status"], "AVAILABLE");

    // A ride in the area: SEARCHING, then matched, with the driver ASSIGNED.
    let ride = id_of(&app.request_driver("rider", RIDER).await);
    let mut seen_ride = Vec::new();
    let mut assigned = false;
    while seen_ride.len() < 2 || !assigned {
        let event = map.next_fleet().await;
        match event["kind"].as_str() {
            Some("RIDE") => {
                assert_eq!(event["rides"][0]["id"], ride.as_str());
                seen_ride.push(
                    event["rides"][0]["status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            Some("DRIVER") => {
                assert_eq!(event["drivers"][0]["id"], "newcomer");
                assert_eq!(event["drivers"][0]["status"], "ASSIGNED");
                assigned = true;
            }
            _ => panic!("unexpected {event}"),
        }
    }
    assert_eq!(seen_ride, ["SEARCHING", "DRIVER_FOUND"]);

    // Completing the early ride frees its driver: both show up.
    app.complete(&waiting).await;
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let event = map.next_fleet().await;
        match event["kind"].as_str() {
            Some("RIDE") => kinds.push(format!(
                "ride {}",
                event["rides"][0]["status"].as_str().unwrap_or_default()
            )),
            Some("DRIVER") => kinds.push(format!(
                "driver {}",
                event["drivers"][0]["status"].as_str().unwrap_or_default()
            )),
            _ => panic!("unexpected {event}"),
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["driver AVAILABLE", "ride COMPLETED"]);

    // A driver leaving the area is sent once more, then no longer.
    app.update_location("edge", north_of(RIDER, 9.95)).await;
    assert_eq!(map.next_fleet().await["drivers"][0]["id"], "edge");
    app.update_location("edge", north_of(RIDER, 10.15)).await;
    let left = map.next_fleet().await;
    assert_eq!(
        left["drivers"][0]["id"], "edge",
        "the move out of the area is sent"
    );
    app.update_location("edge", north_of(RIDER, 10.3)).await;
    app.update_location("newcomer", north_of(RIDER, 0.1)).await;
    let next = map.next_fleet().await;
    assert_eq!(
        next["drivers"][0]["id"], "newcomer",
        "nothing more about a driver outside: {next}"
    );
}

/// A driver that falls silent past the TTL is announced OFFLINE to live
/// maps, once, without anyone searching near it.
pub(super) async fn a_silent_driver_is_announced_offline_on_live_maps(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.driver_ttl = Duration::from_millis(300)).await;
    let mut map = watch_fleet(&app).await;
    assert_eq!(map.next_fleet().await["kind"], "SNAPSHOT");
    app.update_location("fading", DRIVER).await;
    let seen = map.next_fleet().await;
    assert_eq!(seen["drivers"][0]["status"], "AVAILABLE", "{seen}");
    let gone = map.next_fleet().await;
    assert_eq!(gone["kind"], "DRIVER", "{gone}");
    assert_eq!(gone["drivers"][0]["id"], "fading");
    assert_eq!(gone["drivers"][0]["status"], "OFFLINE", "{gone}");
    // Once: the next event is about someone else.
    app.update_location("other", DRIVER).await;
    assert_eq!(map.next_fleet().await["drivers"][0]["id"], "other");
}

pub(super) async fn the_fleet_shows_offers_and_phases(store: StoreKind) {
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

/// Drivers in a `fleet` event, by id.
fn ids(event: &Value) -> Vec<&str> {
    event["drivers"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["id"].as_str()).collect())
        .unwrap_or_default()
}

/// A dashboard that opens a map another already watches (one shared
/// execution) gets the area as it is when it joins, not the snapshot the
/// first one got, then every change after it.
pub(super) async fn a_dashboard_joining_a_watched_map_sees_it_as_it_is_then_every_change(
    store: StoreKind,
) {
    let app = TestApp::spawn(store, |_| {}).await;
    let mut first = app
        .subscribe(Protocol::TransportWs, WIDE_MAP, json!({}))
        .await;
    let opening = first.next_fleet().await;
    assert_eq!(
        (opening["kind"].as_str(), ids(&opening).len()),
        (Some("SNAPSHOT"), 0),
        "{opening}"
    );
    app.update_location("early", RIDER).await;
    let seen = first.next_fleet().await;
    assert_eq!(ids(&seen), ["early"], "{seen}");

    let mut second = app
        .subscribe(Protocol::TransportWs, WIDE_MAP, json!({}))
        .await;
    let joined = second.next_fleet().await;
    assert_eq!(
        (joined["kind"].as_str(), ids(&joined)),
        (Some("SNAPSHOT"), vec!["early"]),
        "{joined}"
    );
    app.update_location("late", RIDER).await;
    for map in [&mut first, &mut second] {
        let event = map.next_fleet().await;
        // One event per change here (the test app's interval is zero).
        assert_eq!(
            (event["kind"].as_str(), ids(&event)),
            (Some("DRIVER"), vec!["late"]),
            "{event}"
        );
    }
}
