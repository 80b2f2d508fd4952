//! What riders see with roads, and roads across areas and instances: the
//! driver's live time to the pickup on `driverLocation`; an area's own
//! roads and `maxPickupEta` from the areas file (and a roads path that
//! does not exist stops the start); two instances with the same roads
//! never give one driver two rides; the real Helsinki extract; the snap
//! distance holds at every latitude of a tall country.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::json;

use super::{
    city::{cities, river},
    ranking::{app, matched},
};
use crate::common::{
    eventually, id_of, instances::two_instances, Protocol, ServiceProcess, StoreKind, TestApp,
};

pub(super) async fn the_rider_sees_the_drivers_time_to_the_pickup_as_it_drives(store: StoreKind) {
    let app = app(store, true, |_| {}).await;
    app.update_location("same-bank", river::SAME_BANK).await;
    let id = id_of(&app.request_driver("rider-1", river::PICKUP).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    let mut sub = app
        .subscribe(
            Protocol::TransportWs,
            "subscription($id: ID!) { driverLocation(rideId: $id) { id location { lat lng } pickupEtaSeconds } }",
            json!({"id": id}),
        )
        .await;
    let first = sub.next_data("driverLocation").await;
    let before = first["pickupEtaSeconds"]
        .as_i64()
        .unwrap_or_else(|| panic!("{first}"));
    assert!((50..=70).contains(&before), "{first}");
    // Halfway there, more than a second later: a fresh, shorter time.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let halfway = (
        river::PICKUP.0,
        (river::PICKUP.1 + river::SAME_BANK.1) / 2.0,
    );
    app.update_location("same-bank", halfway).await;
    let moved = sub.next_data("driverLocation").await;
    let after = moved["pickupEtaSeconds"]
        .as_i64()
        .unwrap_or_else(|| panic!("{moved}"));
    assert!((20..=40).contains(&after), "400 m at 50 km/h: {moved}");
}

pub(super) async fn two_instances_with_roads_never_give_a_driver_two_rides(store: StoreKind) {
    const DRIVERS: usize = 60;
    const RIDES: usize = 500;
    let (a, b) = two_instances(store, |c| {
        c.roads.file = Some(cities());
        c.request_timeout = std::time::Duration::from_secs(3);
    })
    .await;
    let apps = [&a, &b];
    // Drivers along both banks, every 60 m.
    join_all((0..DRIVERS).map(|i| async move {
        let bank = if i % 2 == 0 {
            river::PICKUP.0
        } else {
            river::FAR_BANK.0
        };
        let at = (bank, 25.0 + (i / 2) as f64 * 60.0 / 55_600.0);
        apps[i % 2].update_location(&format!("d{i}"), at).await
    }))
    .await;
    let ids = join_all((0..RIDES).map(|i| async move {
        id_of(
            &apps[i % 2]
                .request_driver(&format!("r{i}"), river::PICKUP)
                .await,
        )
    }))
    .await;
    let mut assigned = HashSet::new();
    for id in &ids {
        let ride = eventually(&format!("ride {id} to stop searching"), || async {
            let ride = a.ride(id).await;
            (ride["status"] != "SEARCHING").then_some(ride)
        })
        .await;
        if ride["status"] == "DRIVER_FOUND" {
            let driver = ride["driver"]["id"].as_str().unwrap_or_default().to_owned();
            assert!(
                assigned.insert(driver.clone()),
                "driver {driver} assigned twice"
            );
        } else {
            assert_eq!(ride["status"], "EXPIRED", "{ride}");
        }
    }
    assert_eq!(assigned.len(), DRIVERS, "every driver matched exactly once");
}

/// An areas file whose area names its own roads (relative to the file)
/// and a longest pickup.
fn areas_file(roads: &str, max_pickup_eta: &str) -> std::path::PathBuf {
    let dir = cities()
        .parent()
        .map(|d| d.to_path_buf())
        .unwrap_or_default();
    let path = dir.join(format!("areas-{max_pickup_eta}-{}.json", roads.len()));
    let area = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "river", "roads": roads, "maxPickupEta": max_pickup_eta},
        "geometry": {"type": "Polygon", "coordinates": [[
            [24.9, 59.9], [25.2, 59.9], [25.2, 60.1], [24.9, 60.1], [24.9, 59.9]
        ]]}
    }]});
    std::fs::write(&path, area.to_string()).expect("write the areas file");
    path
}

pub(super) async fn an_area_ranks_by_its_own_roads_and_limit(store: StoreKind) {
    let file = areas_file("cities.osm", "5m");
    let app = TestApp::spawn(store, |c| c.areas = Some(file)).await;
    let ride = matched(
        &app,
        &[
            ("far-bank", river::FAR_BANK),
            ("same-bank", river::SAME_BANK),
        ],
        river::PICKUP,
    )
    .await;
    assert_eq!(ride["driverId"], "same-bank", "{ride}");
    assert_eq!(ride["etaSource"], "ROADS", "the area's own roads: {ride}");
    // The area's limit: the far bank alone is never given the ride.
    app.update_location("far-bank-2", river::FAR_BANK).await;
    let id = id_of(&app.request_driver("rider-2", river::PICKUP).await);
    let ride = eventually("a search", || async {
        let ride = app
            .data(
                "query($id: ID!) { ride(id: $id) { status searches } }",
                json!({"id": id}),
            )
            .await["ride"]
            .clone();
        (ride["searches"].as_i64().unwrap_or_default() >= 1).then_some(ride)
    })
    .await;
    assert_eq!(ride["status"], "SEARCHING", "{ride}");
}

#[test]
fn an_areas_roads_file_that_does_not_exist_stops_the_start() {
    let file = areas_file("no-such-city.osm.pbf", "0s");
    let (ok, stderr) = ServiceProcess::run_to_exit(&["--areas", file.to_str().unwrap_or_default()]);
    assert!(!ok, "must not start");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("area river") && stderr.contains("no-such-city"),
        "{stderr}"
    );
}

/// The real extract of central Helsinki (scripts/test.sh fetches it).
fn helsinki() -> Option<std::path::PathBuf> {
    match std::env::var_os("TRACKING_TEST_HELSINKI") {
        Some(path) => Some(path.into()),
        None if std::env::var_os("CI").is_some() => {
            panic!(
                "TRACKING_TEST_HELSINKI is unset under CI: run scripts/test.sh, which fetches it"
            )
        }
        None => {
            eprintln!("skipped: TRACKING_TEST_HELSINKI is unset");
            None
        }
    }
}

/// In central Helsinki a ride is ranked by road: `ROADS`, and a route of
/// many points (it turns with the streets) at least as long as the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_helsinki_a_ride_is_ranked_by_road_and_its_route_follows_the_streets() {
    let Some(path) = helsinki() else { return };
    let app = TestApp::spawn(StoreKind::Memory, |c| c.roads.file = Some(path)).await;
    // Two points on the streets near Helsinki's central railway station.
    let (driver, pickup) = ((60.1699, 24.9384), (60.1675, 24.9450));
    let ride = matched(&app, &[("tram-stop", driver)], pickup).await;
    assert_eq!(ride["etaSource"], "ROADS", "{ride}");
    let route = ride["pickupRoute"].as_array().cloned().unwrap_or_default();
    assert!(route.len() > 3, "a route along streets: {ride}");
    let km: f64 = route
        .windows(2)
        .map(|w| {
            let p = |v: &serde_json::Value| {
                (
                    v["lat"].as_f64().unwrap_or_default(),
                    v["lng"].as_f64().unwrap_or_default(),
                )
            };
            let ((a, b), (c, d)) = (p(&w[0]), p(&w[1]));
            ((c - a) * 111.2).hypot((d - b) * 55.4)
        })
        .sum();
    let line = ((pickup.0 - driver.0) * 111.2).hypot((pickup.1 - driver.1) * 55.4);
    assert!(
        km >= line * 0.95,
        "the route ({km} km) is no shorter than the line ({line} km)"
    );
    let road_km = ride["pickupRoadKm"].as_f64().unwrap_or_default();
    assert!(
        (road_km - km).abs() < 0.3 * road_km.max(0.1),
        "{road_km} vs drawn {km}: {ride}"
    );
}

/// An unknown `orderBy` is `BAD_USER_INPUT` (as a literal and as a
/// variable); a point outside the roads' box is timed in a straight line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_order_is_refused_and_a_point_beyond_the_roads_falls_back() {
    let app = app(StoreKind::Memory, true, |_| {}).await;
    app.update_location("same-bank", river::SAME_BANK).await;
    for (query, variables) in [
        ("{ nearbyDrivers(lat: 60, lng: 25, orderBy: NEAREST) { distanceKm } }", json!({})),
        (
            "query($o: NearbyOrder) { nearbyDrivers(lat: 60, lng: 25, orderBy: $o) { distanceKm } }",
            json!({"o": "FASTEST"}),
        ),
    ] {
        let body = app.gql(query, variables).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(body["data"].is_null() || body["data"]["nearbyDrivers"].is_null(), "{body}");
    }
    // 1 km south of the river city, off every road: a straight line.
    let beyond = (river::PICKUP.0 - 0.009, river::PICKUP.1);
    let body = app
        .data(
            "query($lat: Float!, $lng: Float!) { nearbyDrivers(lat: $lat, lng: $lng, orderBy: ETA) \
             { driver { id } etaSeconds etaSource } }",
            json!({"lat": beyond.0, "lng": beyond.1}),
        )
        .await;
    let first = &body["nearbyDrivers"][0];
    assert_eq!(first["driver"]["id"], "same-bank", "{body}");
    assert_eq!(first["etaSource"], "STRAIGHT_LINE", "{body}");
}

/// An instance SIGKILLed while its ride searches: the survivor, with the
/// same roads, adopts the ride and ranks it by road like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_ride_is_adopted_and_ranked_by_road() {
    let cities = cities();
    let deployment = crate::common::instances::Deployment::start(&[
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
        "--roads",
        cities.to_str().unwrap_or_default(),
    ])
    .await;
    let (doomed, doomed_client) = deployment.instance();
    let (_survivor, client) = deployment.instance();
    let id = id_of(&doomed_client.request_driver("r", river::PICKUP).await);
    let mut sub = client.watch_ride(Protocol::TransportWs, &id).await;
    sub.expect_status("SEARCHING").await;
    doomed.kill();
    // Both in one batch (one store step): the adopter ranks them together.
    let (far, same) = (river::FAR_BANK, river::SAME_BANK);
    let batch = client
        .data(
            "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
            json!({"u": [
                {"driverId": "far-bank", "lat": far.0, "lng": far.1},
                {"driverId": "same-bank", "lat": same.0, "lng": same.1},
            ]}),
        )
        .await;
    assert_eq!(batch["updateLocations"]["accepted"], 2, "{batch}");
    sub.expect_status("DRIVER_FOUND").await;
    let ride = client
        .data(
            "query($id: ID!) { ride(id: $id) { driverId etaSource pickupEtaSeconds } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(ride["ride"]["driverId"], "same-bank", "{ride}");
    assert_eq!(ride["ride"]["etaSource"], "ROADS", "{ride}");
}

/// `--road-snap` (250 m): "a point farther than this from every road is off
/// the network". The snapper measures on one flat projection for the whole
/// graph, scaled for its middle latitude: in a country from 60° to 78°
/// north (69°), a metre east–west at 60° counts as 0.72 m, so a pickup
/// 320 m from every road is taken as on the network and timed by road.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_farther_than_the_snap_from_every_road_is_off_the_network_at_any_latitude() {
    use super::city::{far_apart, far_apart_country};
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.roads.file = Some(far_apart_country())
    })
    .await;
    app.update_location("on-street", far_apart::ON_IT).await;
    let (lat, lng) = far_apart::EAST_OF_IT;
    let body = app
        .data(
            "query($lat: Float!, $lng: Float!) { nearbyDrivers(lat: $lat, lng: $lng, orderBy: ETA) \
             { driver { id } distanceKm etaSeconds etaSource } }",
            json!({"lat": lat, "lng": lng}),
        )
        .await;
    let first = &body["nearbyDrivers"][0];
    assert_eq!(first["driver"]["id"], "on-street", "{body}");
    assert_eq!(
        first["etaSource"], "STRAIGHT_LINE",
        "320 m from the only road nearby: {body}"
    );
}
