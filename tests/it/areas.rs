//! Service areas, on every store: rides start only inside one, match only
//! drivers of their own, under their own rules; drivers move between them
//! with their reports; a bad areas file stops the start.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::{
    error_code_of, for_each_store, id_of, north_of, Protocol, ServiceProcess, StoreKind, TestApp,
    DRIVER, RIDER,
};

for_each_store!(
    a_pickup_outside_every_area_is_refused_and_creates_nothing,
    rides_match_only_drivers_of_their_own_area,
    each_area_applies_its_own_rules,
    a_driver_moves_between_areas_with_its_reports,
    drivers_outside_every_area_are_shown_never_matched,
    the_areas_are_listed_with_their_boundaries_and_counts,
    concurrent_reports_across_a_border_list_a_driver_in_one_area,
    a_point_on_the_border_belongs_to_the_area_listed_first,
    a_driver_freed_across_the_border_belongs_to_the_area_it_is_in,
);

/// Santiago (around the seed's points) and, east of it and touching it,
/// a second area with rules of its own.
pub fn two_cities() -> Value {
    let square = |id: &str, west: f64, east: f64, extra: Value| {
        let mut properties = json!({"id": id, "name": id.to_uppercase()});
        if let (Some(p), Some(e)) = (properties.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        json!({
            "type": "Feature",
            "properties": properties,
            "geometry": {"type": "Polygon", "coordinates": [[
                [west, -33.6], [east, -33.6], [east, -33.3], [west, -33.3], [west, -33.6]
            ]]}
        })
    };
    json!({"type": "FeatureCollection", "features": [
        square("scl", -70.8, -70.5, json!({})),
        square("east", -70.5, -70.2, json!({"requestTimeout": "3s", "matchRadiusKm": 2})),
    ]})
}

/// A point just east of the border between the two (in `east`).
const ACROSS: (f64, f64) = (-33.44, -70.499);
/// A point just west of it (in `scl`), 0.2 km from `ACROSS`.
const BORDER: (f64, f64) = (-33.44, -70.5012);

/// A point exactly on the border the two share (in `scl`, listed first).
const ON_BORDER: (f64, f64) = (-33.44, -70.5);

/// Writes an areas file of the test's own; returns its path.
pub fn areas_file(name: &str, areas: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-areas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, areas.to_string()).expect("write the areas file");
    path
}

async fn with_areas(store: StoreKind, name: &str) -> TestApp {
    let path = areas_file(&format!("{name}-{store:?}"), &two_cities());
    TestApp::spawn(store, |c| c.areas = Some(path)).await
}

async fn a_pickup_outside_every_area_is_refused_and_creates_nothing(store: StoreKind) {
    let app = with_areas(store, "outside").await;
    let answer = app
        .gql(
            "mutation { requestDriver(riderId: \"ana\", lat: 0, lng: 0) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code_of(&answer), "OUT_OF_SERVICE_AREA", "{answer}");
    let searching: i64 = counts(&app).await.iter().map(|(_, _, n)| n).sum();
    assert_eq!(searching, 0, "nothing was created");
    let (status, body) = app
        .post_raw("/v2/search", r#"{"lat": 10.0, "lng": 10.0}"#)
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code_of(&body), "OUT_OF_SERVICE_AREA");
    // Inside: fine, and the id names the area.
    let ride = app.request_driver("ana", RIDER).await;
    assert!(id_of(&ride).starts_with("scl:"), "{ride}");
}

async fn rides_match_only_drivers_of_their_own_area(store: StoreKind) {
    let app = with_areas(store, "match").await;
    app.update_location("across", ACROSS).await;
    let ride = id_of(&app.request_driver("ana", BORDER).await);
    let searched = app.searched(&ride).await;
    assert_eq!(
        searched["status"], "SEARCHING",
        "0.2 km away, but in the other area"
    );
    let area = app
        .data(
            "query($id: ID!) { ride(id: $id) { area { id name } } }",
            json!({"id": ride}),
        )
        .await;
    assert_eq!(area["ride"]["area"], json!({"id": "scl", "name": "SCL"}));
    // A driver of its own area, farther away, is the one it gets.
    app.update_location("own", north_of(BORDER, 3.0)).await;
    let found = app.ride_reaches(&ride, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "own");
    assert_eq!(app.driver("across").await["status"], "AVAILABLE");
    // nearbyDrivers crosses the border: it lists what is near, in any area.
    let near: Vec<String> = app
        .nearby(BORDER, 1.0, 10)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(near, ["across"]);
}

async fn each_area_applies_its_own_rules(store: StoreKind) {
    let app = with_areas(store, "rules").await;
    let east = app.request_driver("ana", ACROSS).await;
    let west = app.request_driver("bob", BORDER).await;
    let span = |ride: &Value| {
        let at = |k: &str| {
            serde_json::from_value::<chrono::DateTime<chrono::Utc>>(ride[k].clone())
                .expect("a time")
        };
        (at("expiresAt") - at("createdAt")).num_milliseconds()
    };
    assert_eq!(span(&east), 3_000, "the east area's requestTimeout");
    assert_eq!(span(&west), 60_000, "the service's (the suite's) timeout");
    app.ride_reaches(&id_of(&east), "EXPIRED").await;
    // The east area's match radius is 2 km: a driver 3 km off is not matched.
    let ride = id_of(&app.request_driver("cy", ACROSS).await);
    app.update_location("3km", (ACROSS.0 - 3.0 / 111.2, ACROSS.1))
        .await;
    assert_eq!(app.searched(&ride).await["status"], "SEARCHING");
    app.update_location("1km", (ACROSS.0 - 1.0 / 111.2, ACROSS.1))
        .await;
    assert_eq!(
        app.ride_reaches(&ride, "DRIVER_FOUND").await["driver"]["id"],
        "1km"
    );
}

async fn a_point_on_the_border_belongs_to_the_area_listed_first(store: StoreKind) {
    let app = with_areas(store, "border").await;
    app.update_location("liner", ON_BORDER).await;
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 1, 0), ("east".into(), 0, 0)],
        "a driver on the border is listed in scl, the first area"
    );
    let ride = id_of(&app.request_driver("ana", ON_BORDER).await);
    assert!(ride.starts_with("scl:"), "{ride}");
    let found = app.ride_reaches(&ride, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "liner");
    // A corner the two share, likewise.
    let corner = (-33.6, -70.5);
    app.update_location("cornered", corner).await;
    let other = id_of(&app.request_driver("bob", corner).await);
    assert!(other.starts_with("scl:"), "{other}");
    assert_eq!(
        app.ride_reaches(&other, "DRIVER_FOUND").await["driver"]["id"],
        "cornered"
    );
}

async fn counts(app: &TestApp) -> Vec<(String, i64, i64)> {
    let data = app
        .data(
            "{ areas { id availableDrivers searchingRides } }",
            json!({}),
        )
        .await;
    data["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap_or("?").to_owned(),
                a["availableDrivers"].as_i64().unwrap_or(-1),
                a["searchingRides"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

async fn a_driver_moves_between_areas_with_its_reports(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.areas = Some(areas_file(&format!("moves-{store:?}"), &two_cities()));
        c.max_speed_kmh = 300.0;
    })
    .await;
    app.update_location("mover", BORDER).await;
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 1, 0), ("east".into(), 0, 0)]
    );
    app.update_location("mover", ACROSS).await;
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 0, 0), ("east".into(), 1, 0)]
    );
    // A jump too fast for its last report is refused, across the border too.
    let far_west = (-33.44, -70.79);
    let refused = app
        .gql(
            "mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: \"mover\", lat: $lat, lng: $lng) { id } }",
            json!({"lat": far_west.0, "lng": far_west.1}),
        )
        .await;
    assert_eq!(error_code_of(&refused), "BAD_USER_INPUT", "{refused}");
    assert_eq!(app.driver("mover").await["location"]["lng"], ACROSS.1);
    // Assigned in the east, it stays with its ride there when it crosses.
    let ride = id_of(
        &app.request_driver("ana", (ACROSS.0, ACROSS.1 + 0.002))
            .await,
    );
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    app.update_location("mover", BORDER).await;
    let driver = app.driver("mover").await;
    assert_eq!(
        (
            driver["status"].as_str(),
            driver["location"]["lng"].as_f64()
        ),
        (Some("ASSIGNED"), Some(BORDER.1))
    );
    assert!(id_of(&app.request_driver("bob", BORDER).await).starts_with("scl:"));
    let done = app.complete(&ride).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    // Free again, its next report puts it in the west, where a ride waits.
    app.update_location("mover", (BORDER.0 + 0.001, BORDER.1))
        .await;
    // The wake-up's search runs after the report returns: awaited.
    crate::common::eventually("the west ride to take it", || async {
        let waiting = app.data("{ areas { id searchingRides } }", json!({})).await;
        (waiting["areas"][0]["searchingRides"] == 0).then_some(())
    })
    .await;
    assert_eq!(app.driver("mover").await["status"], "ASSIGNED");
}

async fn drivers_outside_every_area_are_shown_never_matched(store: StoreKind) {
    let app = with_areas(store, "nowhere").await;
    let nowhere = (-33.44, -71.2);
    app.update_location("rural", nowhere).await;
    assert_eq!(app.driver("rural").await["status"], "AVAILABLE");
    let mut map = app
        .subscribe(
            Protocol::TransportWs,
            "subscription($lat: Float!, $lng: Float!) { fleet(lat: $lat, lng: $lng, radiusKm: 5) { kind drivers { id } } }",
            json!({"lat": nowhere.0, "lng": nowhere.1}),
        )
        .await;
    match map.next_event().await {
        crate::common::ws::Event::Next(payload) => {
            assert_eq!(
                payload["data"]["fleet"]["drivers"],
                json!([{"id": "rural"}]),
                "{payload}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Driving into Santiago makes it one of the city's drivers.
    let ride = id_of(&app.request_driver("ana", (-33.44, -70.79)).await);
    app.update_location("rural", (-33.44, -70.795)).await;
    assert_eq!(
        app.ride_reaches(&ride, "DRIVER_FOUND").await["driver"]["id"],
        "rural"
    );
}

async fn the_areas_are_listed_with_their_boundaries_and_counts(store: StoreKind) {
    let app = with_areas(store, "list").await;
    let listed = app.data("{ areas { id name boundary } }", json!({})).await;
    let file = two_cities();
    assert_eq!(
        listed["areas"][0]["boundary"],
        file["features"][0]["geometry"]
    );
    assert_eq!(listed["areas"][1]["name"], "EAST");
    app.request_driver("ana", RIDER).await;
    app.update_location("d", north_of(RIDER, 10.0)).await;
    assert_eq!(counts(&app).await[0], ("scl".into(), 1, 1));
    // Without a file: one area, everywhere.
    let plain = TestApp::spawn(store, |_| {}).await;
    let one = plain.data("{ areas { id } }", json!({})).await;
    assert_eq!(one["areas"], json!([{"id": "default"}]));
    assert!(!id_of(&plain.request_driver("x", DRIVER).await).contains(':'));
}

#[test]
fn a_bad_areas_file_stops_the_start_naming_the_feature() {
    let mut overlapping = two_cities();
    overlapping["features"][1]["geometry"]["coordinates"][0][0][0] = json!(-70.6);
    overlapping["features"][1]["geometry"]["coordinates"][0][3][0] = json!(-70.6);
    overlapping["features"][1]["geometry"]["coordinates"][0][4][0] = json!(-70.6);
    let mut twice = two_cities();
    twice["features"][1]["properties"]["id"] = json!("scl");
    let mut unknown = two_cities();
    unknown["features"][0]["properties"]["colour"] = json!("red");
    let mut reserved = two_cities();
    reserved["features"][1]["properties"]["id"] = json!("outside");
    let mut bowtie = two_cities();
    bowtie["features"][0]["geometry"]["coordinates"] = json!([[
        [-70.8, -33.6],
        [-70.5, -33.3],
        [-70.5, -33.6],
        [-70.8, -33.3],
        [-70.8, -33.6]
    ]]);
    for (name, file, expected) in [
        ("overlap", overlapping, "overlap"),
        ("twice", twice, "twice"),
        ("unknown", unknown, "colour"),
        ("reserved", reserved, "reserved"),
        ("bowtie", bowtie, "feature 0"),
    ] {
        let path = areas_file(&format!("bad-{name}"), &file);
        let (ok, stderr) = ServiceProcess::run_to_exit(&["--areas", path.to_str().expect("path")]);
        assert!(!ok, "{name}: must not start");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

/// With areas on Redis, a ride's id carries its area (`scl:<epoch>.<n>`)
/// while the store keeps the bare epoch: the two must be compared as the
/// same, or every ride looks like Redis lost its data (every live stream
/// re-read, every driver's feed resent). 100 rides, with the lease renewed
/// (and the epoch checked) every 50 ms: not one loss seen.
async fn rides_in_areas_are_never_taken_for_data_loss(redis: &[&str]) {
    let path = areas_file(&format!("epoch-{}", redis[0]), &two_cities());
    let path = path.to_string_lossy().into_owned();
    let mut args = vec!["--areas", path.as_str(), "--instance-lease", "200ms"];
    args.extend_from_slice(redis);
    let service = ServiceProcess::start(&args);
    let client = crate::common::Client::new(service.addr, None);
    for n in 0..100 {
        let at = if n % 2 == 0 { BORDER } else { ACROSS };
        let ride = client.request_driver(&format!("rider-{n}"), at).await;
        assert!(ride["id"].is_string(), "{ride}");
    }
    // Proving an absence takes a window: the epoch is checked each
    // maintenance tick (every 50 ms here), so 10 ticks at least.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let metrics = client.metrics().await;
    let lost: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("tracking_store_data_lost_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(lost, 0.0, "data losses counted:\n{metrics}");
    let log = service.log.lock().map(|l| l.text()).unwrap_or_default();
    assert!(
        !log.contains("lost its data"),
        "the log says the store lost its data:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rides_in_areas_are_never_taken_for_data_loss() {
    let redis = crate::common::RedisServer::start().await;
    let url = redis.url();
    rides_in_areas_are_never_taken_for_data_loss(&["--redis-url", &url]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_rides_in_areas_are_never_taken_for_data_loss() {
    let cluster = crate::common::RedisCluster::start(3, 0).await;
    let urls = cluster.urls().join(",");
    rides_in_areas_are_never_taken_for_data_loss(&["--redis-cluster", &urls]).await;
}

/// 22 m apart, one on each side of the border between `scl` and `east`.
const WEST_EDGE: (f64, f64) = (-33.44, -70.50012);
const EAST_EDGE: (f64, f64) = (-33.44, -70.49988);

/// Drivers listed per area, every area (and the outside) together.
async fn listed(app: &TestApp) -> i64 {
    counts(app)
        .await
        .iter()
        .map(|(_, available, _)| available)
        .sum()
}

/// A new driver's reports, eight at once, alternating sides of a border
/// (through two instances where the store is shared): after each round the
/// driver is listed in exactly one area. Then one ride on each side, at
/// once, for a lone driver hammered the same way: one ride gets it, the
/// other keeps searching. No driver is ever assigned to two rides.
async fn concurrent_reports_across_a_border_list_a_driver_in_one_area(store: StoreKind) {
    let path = areas_file(&format!("race-{store:?}"), &two_cities());
    let tweak = |c: &mut tracking::Config| c.areas = Some(path.clone());
    let first = TestApp::spawn(store, tweak).await;
    let second = match store {
        StoreKind::Memory => None,
        StoreKind::Redis => Some(TestApp::spawn_with(first.redis.clone(), tweak).await),
        StoreKind::Cluster => {
            let cluster = first.cluster.clone().expect("a cluster");
            Some(TestApp::spawn_on_cluster(cluster, tweak).await)
        }
    };
    let instances: Vec<&TestApp> = std::iter::once(&first).chain(second.as_ref()).collect();
    let hammer = |driver: String| {
        let instances = instances.clone();
        async move {
            let reports = (0..8).map(|n| {
                let at = if n % 2 == 0 { WEST_EDGE } else { EAST_EDGE };
                let app = instances[n % instances.len()];
                let driver = driver.clone();
                async move {
                    app.gql(
                        "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }",
                        json!({"d": driver, "lat": at.0, "lng": at.1}),
                    )
                    .await
                }
            });
            let answers = futures_util::future::join_all(reports).await;
            // Under contention a report may be told to try again
            // (UNAVAILABLE, the lease on the driver busy); none fails
            // otherwise, and at least one goes through.
            for answer in &answers {
                if answer.get("errors").is_some() {
                    assert_eq!(error_code_of(answer), "UNAVAILABLE", "{answer}");
                }
            }
            assert!(
                answers.iter().any(|a| a.get("errors").is_none()),
                "every report refused: {answers:?}"
            );
        }
    };
    for round in 0..20 {
        hammer(format!("racer-{round}")).await;
        assert_eq!(
            listed(&first).await,
            round + 1,
            "after round {round}, each driver is listed in one area: {:?}",
            counts(&first).await
        );
    }
    // Every racer off the market, then a lone driver and two rides.
    for round in 0..20 {
        first.go_offline(&format!("racer-{round}")).await;
    }
    hammer("lone".into()).await;
    let (west, east) = futures_util::join!(
        first.request_driver("ana", WEST_EDGE),
        instances[instances.len() - 1].request_driver("bob", EAST_EDGE)
    );
    let (west, east) = (id_of(&west), id_of(&east));
    let west = first.searched(&west).await;
    let east = first.searched(&east).await;
    let found: Vec<&Value> = [&west, &east]
        .into_iter()
        .filter(|r| r["status"] == "DRIVER_FOUND")
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the lone driver matched exactly one of the two rides: {west} {east}"
    );
}

/// A driver assigned in the west that drives its ride into the east stays
/// with the ride's area while it runs; once the ride ends it belongs to
/// the east at once, before any new report: listed there, not in the
/// west, and a ride waiting in the east gets it.
async fn a_driver_freed_across_the_border_belongs_to_the_area_it_is_in(store: StoreKind) {
    let app = with_areas(store, &format!("freed-{store:?}")).await;
    app.update_location("freed", BORDER).await;
    let ride = id_of(&app.request_driver("ana", BORDER).await);
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    app.update_location("freed", ACROSS).await;
    let waiting = id_of(
        &app.request_driver("bob", (ACROSS.0, ACROSS.1 + 0.001))
            .await,
    );
    assert_eq!(app.searched(&waiting).await["status"], "SEARCHING");
    let done = app.complete(&ride).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    let found = app.ride_reaches(&waiting, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "freed");
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 0, 0), ("east".into(), 0, 0)],
        "assigned in the east, listed nowhere as available"
    );
}
