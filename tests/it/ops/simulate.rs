//! The simulator drives a real service through its public API: drivers
//! report, riders request, drivers are offered rides (or assigned them),
//! drive to the pickup, take the rider to the dropoff and complete.

use std::{sync::Arc, time::Duration};

use tracking::{domain::Coordinates, simulate::SimulateArgs, store::memory::MemoryStore};

use crate::common::{TestApp, RIDER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_runs_a_city_where_rides_are_matched_and_completed() {
    city(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_offers_drivers_accept_decline_and_ignore_and_still_complete_rides() {
    let summary = city(Duration::from_millis(500)).await;
    assert!(summary.accepted >= 1, "{summary:?}");
    assert!(summary.declined + summary.ignored >= 1, "{summary:?}");
}

/// A simulated city on a service with `offer_timeout` (zero: no offers).
async fn city(offer_timeout: Duration) -> tracking::simulate::Summary {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let app = TestApp::spawn_on(store.clone(), |c| c.offer_timeout = offer_timeout).await;
    let args = SimulateArgs {
        url: app.url(""),
        token: None,
        drivers: 12,
        rides_per_minute: 600.0,
        center: Coordinates::parse(RIDER.0, RIDER.1).expect("centre"),
        radius_km: 3.0,
        report_every: Duration::from_millis(100),
        boarding: Duration::from_millis(100),
        accept_rate: 0.7,
        answer_within: Duration::from_millis(200),
        // High enough that a run without a single cancel is out of reach
        // (0.75^60 for 60 requests; at 0.1 one run in a few hundred had none).
        cancel_rate: 0.25,
        // Fast enough to reach any pickup within a second or two.
        speed_kmh: 10_000.0,
        areas: None,
        duration: Some(Duration::from_secs(6)),
        ..SimulateArgs::default()
    };
    let summary = tracking::simulate::run(args)
        .await
        .expect("the simulation runs");
    assert_eq!(summary.errors, 0, "{summary:?}");
    assert!(summary.cancelled >= 1, "riders cancelled: {summary:?}");
    assert!(
        summary.requests >= 30,
        "riders requested rides: {summary:?}"
    );
    assert!(
        summary.completed >= 1,
        "drivers completed rides: {summary:?}"
    );
    // Drivers were busy part of the time; matched rides waited a while.
    assert!(
        summary.idle_share > 0.0 && summary.idle_share < 1.0,
        "idle share: {summary:?}"
    );
    assert!(
        summary.match_p50_secs <= summary.match_p90_secs && summary.matched >= 1,
        "time to match: {summary:?}"
    );

    // The store agrees: every driver reported, rides were matched and
    // completed, and none expired (drivers were always near).
    let (drivers, rides) = store.contents(chrono::Utc::now());
    assert_eq!(drivers.len(), 12);
    let status = |s: &str| rides.iter().filter(|r| r.status.as_str() == s).count();
    // (A call cut off when the simulation stops may have landed uncounted.)
    assert!(status("COMPLETED") as u64 >= summary.completed, "{rides:?}");
    assert_eq!(status("EXPIRED"), 0);
    // Completed rides went through every phase, to their dropoff.
    for ride in rides.iter().filter(|r| r.status.as_str() == "COMPLETED") {
        assert!(
            ride.dropoff.is_some() && ride.arrived_at.is_some() && ride.started_at.is_some(),
            "{ride:?}"
        );
    }
    let made = rides.len() as u64;
    assert!(
        made >= summary.requests && made <= summary.requests + 1,
        "{made} rides for {} requests",
        summary.requests
    );
    let matches = app
        .metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("tracking_matches_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        matches >= summary.completed as f64,
        "tracking_matches_total {matches}"
    );
    summary
}

/// With the service's areas file, each simulated driver roams inside one
/// area, riders appear inside them, and rides are matched within each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_areas_drivers_stay_in_their_area_and_rides_are_completed() {
    let file = crate::common::areas::two_cities();
    let path = crate::common::areas::areas_file("simulate", &file);
    let app = TestApp::spawn(crate::common::StoreKind::Memory, |c| {
        c.areas = Some(path.clone());
        // The areas are some 30 km across: every driver within reach.
        c.match_radius_km = 60.0;
        c.max_speed_kmh = 0.0;
    })
    .await;
    let args = SimulateArgs {
        url: app.url(""),
        token: None,
        drivers: 8,
        rides_per_minute: 600.0,
        center: Coordinates::parse(RIDER.0, RIDER.1).expect("centre"),
        radius_km: 3.0,
        report_every: Duration::from_millis(100),
        boarding: Duration::from_millis(100),
        accept_rate: 1.0,
        answer_within: Duration::from_millis(100),
        cancel_rate: 0.0,
        speed_kmh: 60_000.0,
        areas: Some(path),
        duration: Some(Duration::from_secs(5)),
        ..SimulateArgs::default()
    };
    let summary = tracking::simulate::run(args)
        .await
        .expect("the simulation runs");
    assert_eq!(summary.errors, 0, "{summary:?}");
    assert!(summary.completed >= 1, "{summary:?}");
    let areas = tracking::domain::ServiceAreas::from_geojson(&file.to_string()).expect("areas");
    for i in 0..8 {
        let driver = app.driver(&format!("sim-{i}")).await;
        let at = tracking::domain::Coordinates::parse(
            driver["location"]["lat"].as_f64().expect("lat"),
            driver["location"]["lng"].as_f64().expect("lng"),
        )
        .expect("a position");
        let area = areas.locate(at).map(|a| a.id.to_string());
        assert!(area.is_some(), "sim-{i} left every area: {driver}");
    }
    let counts = app
        .data("{ areas { id searchingRides } }", serde_json::json!({}))
        .await;
    assert_eq!(
        counts["areas"].as_array().map(Vec::len),
        Some(2),
        "{counts}"
    );
}

/// With `--roads`, riders request at points on the network, drivers drive
/// road routes to them, and the summary times each pickup as driven; the
/// same seed asks for the same rides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_roads_pickups_are_on_the_network_and_timed_as_driven() {
    use test_support::city::{Grid, River};
    let grid = Grid {
        streets: 21,
        river: Some(River {
            row: 10,
            bridges: vec![3, 15],
        }),
        ..Grid::city(5)
    };
    let dir = std::env::temp_dir().join(format!("tracking-sim-roads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = dir.join("city.osm");
    grid.write_osm(std::fs::File::create(&path).expect("the file"))
        .expect("the city written");
    let roads = tracking::roads::Roads::load(&path).expect("the city loads");

    let mut pickups = Vec::new();
    for _ in 0..2 {
        let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
        // Simulated time runs 100 times faster: reports would look like speeding.
        let app = TestApp::spawn_on(store.clone(), |c| c.max_speed_kmh = 0.0).await;
        let args = SimulateArgs {
            url: app.url(""),
            drivers: 6,
            // 2.5 rides a second of real time.
            rides_per_minute: 1.5,
            report_every: Duration::from_millis(100),
            boarding: Duration::from_secs(10),
            accept_rate: 1.0,
            cancel_rate: 0.0,
            duration: Some(Duration::from_secs(5)),
            roads: Some(path.clone()),
            seed: Some(42),
            time_scale: 100.0,
            ..SimulateArgs::default()
        };
        let summary = tracking::simulate::run(args)
            .await
            .expect("the simulation runs");
        assert_eq!(summary.errors, 0, "{summary:?}");
        assert_eq!(
            summary.off_road, 0,
            "every leg followed the roads: {summary:?}"
        );
        assert_eq!(summary.seed, 42);
        assert!(summary.requests >= 5, "{summary:?}");
        assert!(summary.matched >= 1 && summary.pickups >= 1, "{summary:?}");
        // A pickup across a 3 km city by road at 30–60 km/h: seconds to minutes.
        assert!(
            summary.pickup_mean_secs > 0.0 && summary.pickup_p90_secs < 1200.0,
            "{summary:?}"
        );
        assert!(summary.pickup_p90_secs >= summary.pickup_mean_secs * 0.5);
        let (_, mut rides) = store.contents(chrono::Utc::now());
        for ride in &rides {
            assert!(roads.on_network(&ride.pickup), "{ride:?}");
        }
        rides.sort_by_key(|r| r.created_at);
        pickups.push(
            rides
                .iter()
                .take(3)
                .map(|r| (r.pickup.lat(), r.pickup.lng()))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(pickups[0], pickups[1], "the same seed, the same rides");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The benchmark's generated city has the structure it claims, as the
/// roads read it: its river is crossed only on the bridges, and a one-way
/// street is driven one way only.
#[test]
fn the_generated_city_is_crossed_on_its_bridges_and_its_one_way_streets_go_one_way() {
    use test_support::city::Grid;
    let grid = Grid::city(22);
    let dir = std::env::temp_dir().join(format!("tracking-city-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = dir.join("city.osm");
    grid.write_osm(std::fs::File::create(&path).expect("the file"))
        .expect("the city written");
    let roads = tracking::roads::Roads::load(&path).expect("the city loads");
    let _ = std::fs::remove_dir_all(&dir);
    let at = |col: usize, row: usize| {
        let (lat, lng) = grid.point(col as f64, row as f64);
        Coordinates::parse(lat, lng).expect("a point")
    };
    let km = |a, b| roads.route(&a, &b).expect("a route").km;
    let block = grid.spacing_m / 1000.0;

    let river = grid.river.clone().expect("a river");
    let to_bridge = |col: usize| river.bridges.iter().map(|b| b.abs_diff(col)).min();
    let far = (0..grid.streets)
        .max_by_key(|c| to_bridge(*c))
        .expect("a street");
    let detour = to_bridge(far).expect("bridges") as f64 * block;
    let across = km(at(far, river.row), at(far, river.row + 1));
    assert!(
        across >= 2.0 * detour,
        "across the river {far} streets from a bridge: {across} km"
    );
    let bridge = river.bridges[0];
    let over = km(at(bridge, river.row), at(bridge, river.row + 1));
    assert!((over - block).abs() < 0.01, "over the bridge: {over} km");

    // Street 4 of every ten runs east, street 5 west.
    let east = km(at(20, 4), at(21, 4));
    let west = km(at(21, 4), at(20, 4));
    assert!((east - block).abs() < 0.01, "{east} km");
    assert!(west >= 3.0 * block - 0.01, "the way round: {west} km");
}

/// With `--warm-up`, what happens before it is left out of the summary:
/// the service created more rides than the summary counts, and every ride
/// counted was asked what became of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_warm_up_the_summary_leaves_out_the_start() {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let app = TestApp::spawn_on(store.clone(), |_| {}).await;
    let args = SimulateArgs {
        url: app.url(""),
        drivers: 4,
        rides_per_minute: 600.0,
        center: Coordinates::parse(RIDER.0, RIDER.1).expect("centre"),
        radius_km: 3.0,
        report_every: Duration::from_millis(100),
        cancel_rate: 0.0,
        duration: Some(Duration::from_secs(4)),
        warm_up: Duration::from_secs(2),
        ..SimulateArgs::default()
    };
    let summary = tracking::simulate::run(args)
        .await
        .expect("the simulation runs");
    let (_, rides) = store.contents(chrono::Utc::now());
    assert!(
        summary.requests >= 5 && (rides.len() as u64) >= summary.requests + 5,
        "{} rides made, {summary:?}",
        rides.len()
    );
    assert_eq!(
        summary.matched + summary.expired + summary.searching,
        summary.requests,
        "{summary:?}"
    );
}
