//! Rides in areas: a pickup outside every area is refused, rides match
//! only drivers of their own area under its own rules, drivers outside
//! every area are shown and never matched, the areas are listed with their
//! counts, and an area's ride ids are never taken for data loss.

use serde_json::{json, Value};

use super::setup::{counts, with_areas, ACROSS, BORDER};
use crate::common::{
    areas::{areas_file, two_cities},
    error_code_of, id_of, north_of, Protocol, ServiceProcess, StoreKind, TestApp, DRIVER, RIDER,
};

pub(super) async fn a_pickup_outside_every_area_is_refused_and_creates_nothing(store: StoreKind) {
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

pub(super) async fn rides_match_only_drivers_of_their_own_area(store: StoreKind) {
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

pub(super) async fn each_area_applies_its_own_rules(store: StoreKind) {
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

pub(super) async fn drivers_outside_every_area_are_shown_never_matched(store: StoreKind) {
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

pub(super) async fn the_areas_are_listed_with_their_boundaries_and_counts(store: StoreKind) {
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
