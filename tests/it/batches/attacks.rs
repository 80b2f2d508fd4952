//! Attacks on batched matching where it meets the rest: offers left
//! unanswered inside a window's offer, rides across instances (the batch
//! holder not the ride's instance), a subscriber on the ride's instance.

use std::time::Duration;

use serde_json::json;

use crate::common::{
    eventually, id_of, instances::two_instances, north_of, within, Protocol, StoreKind, TestApp,
    RIDER,
};

fn at(km: f64) -> (f64, f64) {
    north_of(RIDER, km)
}

/// Waits (bounded) until the ride's offer is to `want`.
pub(super) async fn offered_to(app: &TestApp, id: &str, want: &str) {
    eventually(&format!("ride {id} offered to {want}"), || async {
        let ride = app
            .data(
                "query($id: ID!) { ride(id: $id) { status offer { driver { id } } } }",
                json!({"id": id}),
            )
            .await;
        (ride["ride"]["offer"]["driver"]["id"] == want).then_some(())
    })
    .await
}

/// A window offers the ride to the near driver, who never answers (offer
/// timeout 1 s; the search interval is the tests' minute). The offer must
/// time out on time and the next window offer the far driver, within a few
/// seconds, as greedy offers do: never a minute late.
pub(super) async fn an_unanswered_batch_offer_times_out_on_time(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.batch.match_window = Duration::from_millis(300);
        c.offer_timeout = Duration::from_secs(1);
    })
    .await;
    app.update_location("near", at(0.2)).await;
    app.update_location("far", at(1.5)).await;
    let id = id_of(&app.request_driver("rider", at(0.0)).await);
    offered_to(&app, &id, "near").await;
    let moved = tokio::time::timeout(Duration::from_secs(6), offered_to(&app, &id, "far")).await;
    let now = app
        .data(
            "query($id: ID!) { ride(id: $id) { status offer { driver { id } expiresAt } lastOfferEnd } }",
            json!({"id": id}),
        )
        .await;
    assert!(
        moved.is_ok(),
        "6 s after a 1 s offer to `near`, the ride is not offered to `far`: {now}"
    );
}

/// Two instances on one Redis/Cluster, no offers: a rider on each instance
/// watches its ride there. Whichever holds the batch lease matches both;
/// each subscriber (on the ride's own instance) must see DRIVER_FOUND.
pub(super) async fn a_subscriber_sees_a_match_by_the_other_instance(store: StoreKind) {
    let tweak = |c: &mut tracking::Config| c.batch.match_window = Duration::from_millis(300);
    let (a, b) = two_instances(store, tweak).await;
    let base = |i: usize, km: f64| north_of(RIDER, i as f64 * 30.0 + km);
    let mut subs = Vec::new();
    for (i, app) in [&a, &b].into_iter().enumerate() {
        let id = id_of(&app.request_driver(&format!("rider{i}"), base(i, 0.0)).await);
        let mut sub = app.watch_ride(Protocol::TransportWs, &id).await;
        sub.expect_status("SEARCHING").await;
        subs.push(sub);
    }
    for (i, app) in [&a, &b].into_iter().enumerate() {
        app.update_location(&format!("d{i}"), base(i, 0.3)).await;
    }
    for (i, sub) in subs.iter_mut().enumerate() {
        let found = sub.expect_status("DRIVER_FOUND").await;
        assert_eq!(found["driver"]["id"], format!("d{i}"));
    }
}

/// The value of an unlabelled series in a Prometheus scrape, 0 if absent.
fn series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A service of its own (a process, so its metrics are its own), memory
/// store, `--match-window 300ms`: one ride matched by a window must be
/// counted like a greedy match: `tracking_matches_total` 1 and one
/// `tracking_time_to_match_seconds` observation (the benchmark and the
/// dashboards read time-to-match from it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_match_is_observed_in_time_to_match() {
    let service = crate::common::ServiceProcess::start(&[
        "--match-window",
        "300ms",
        "--search-interval",
        "60s",
    ]);
    let app = TestApp::attach(service.addr);
    app.update_location("d", at(0.3)).await;
    let id = id_of(&app.request_driver("rider", at(0.0)).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    let scrape = eventually("the match counted", || async {
        let scrape = app.metrics().await;
        (series(&scrape, "tracking_matches_total") >= 1.0).then_some(scrape)
    })
    .await;
    assert_eq!(
        series(&scrape, "tracking_time_to_match_seconds_count"),
        1.0,
        "a window's match is not in tracking_time_to_match_seconds"
    );
}

/// Same service: once a window has matched the ride, the ride no longer
/// searches: `tracking_rides_searching` falls back to 0 (greedy: at once),
/// not a search interval (here a minute) later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_matched_ride_stops_counting_as_searching() {
    let service = crate::common::ServiceProcess::start(&[
        "--match-window",
        "300ms",
        "--search-interval",
        "60s",
    ]);
    let app = TestApp::attach(service.addr);
    app.update_location("d", at(0.3)).await;
    let id = id_of(&app.request_driver("rider", at(0.0)).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    let last = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let scrape = app.metrics().await;
            if series(&scrape, "tracking_rides_searching") == 0.0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        last.is_ok(),
        "5 s after the window matched it, the ride still counts in tracking_rides_searching: {}",
        series(&app.metrics().await, "tracking_rides_searching")
    );
}

/// On Redis, an area with more available drivers than a window reads
/// (`MAX_WINDOW_DRIVERS`, 20,000): 20,000 drivers in one corner of the
/// city and one more, free, 300 m from a ride 30 km north-east (the last by
/// geohash). Greedy matches that ride at once; a window must too, or the
/// ride is never matched though a free driver waits beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ride_beside_a_free_driver_past_the_window_cap_is_matched() {
    const CROWD: usize = 20_000;
    let app = TestApp::spawn(StoreKind::Redis, |c| {
        c.batch.match_window = Duration::from_millis(300);
        c.driver_ttl = Duration::from_secs(600);
        c.max_complexity = 100_000;
    })
    .await;
    for chunk in 0..CROWD / 500 {
        let updates: Vec<_> = (0..500)
            .map(|k| {
                let i = chunk * 500 + k;
                let (lat, lng) = north_of(RIDER, (i % 100) as f64 * 0.01);
                let lng = lng + (i / 100) as f64 * 0.0001;
                json!({"driverId": format!("crowd{i}"), "lat": lat, "lng": lng})
            })
            .collect();
        let done = app
            .data(
                "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
                json!({"u": updates}),
            )
            .await;
        assert_eq!(done["updateLocations"]["accepted"], 500, "{done}");
    }
    let far = (RIDER.0 + 0.2, RIDER.1 + 0.2);
    app.update_location("lonely", (far.0 + 0.0027, far.1)).await;
    let id = id_of(&app.request_driver("rider", far).await);
    let found = tokio::time::timeout(
        Duration::from_secs(5),
        app.ride_reaches(&id, "DRIVER_FOUND"),
    )
    .await;
    assert!(
        found.is_ok(),
        "5 s on, the ride 300 m from the one free driver is still unmatched: {}",
        app.ride(&id).await
    );
}

/// More searching rides than a window reads (`MAX_WINDOW_RIDES`, 10,000):
/// 10,000 older rides 50 km south where no driver is, then a new ride
/// 300 m from a free driver. Windows read the rides due first, so the new
/// one is never seen while the old ones wait (their whole request
/// timeout): it must still be matched, as greedy would at once.
pub(super) async fn a_new_ride_beside_a_free_driver_past_the_ride_cap_is_matched(store: StoreKind) {
    const OLD: usize = 10_000;
    const PER_CALL: usize = 250;
    let app = TestApp::spawn(store, |c| {
        c.batch.match_window = Duration::from_millis(300);
        c.request_timeout = Duration::from_secs(600);
        c.max_complexity = 1_000_000;
        c.max_depth = 100;
        c.max_query_bytes = 4_000_000;
        c.max_body_bytes = 4_000_000;
    })
    .await;
    let south = north_of(RIDER, -50.0);
    for call in 0..OLD / PER_CALL {
        let fields: String = (0..PER_CALL)
            .map(|k| {
                let i = call * PER_CALL + k;
                format!(
                    "r{i}: requestDriver(riderId: \"old{i}\", lat: {}, lng: {}) {{ id }} ",
                    south.0 + (i % 100) as f64 * 0.0001,
                    south.1 + (i / 100) as f64 * 0.0001
                )
            })
            .collect();
        let done = app
            .data(&format!("mutation {{ {fields} }}"), json!({}))
            .await;
        assert!(
            done.as_object().is_some_and(|o| o.len() == PER_CALL),
            "{done}"
        );
    }
    app.update_location("free", at(0.3)).await;
    let id = id_of(&app.request_driver("new", at(0.0)).await);
    let found = tokio::time::timeout(
        Duration::from_secs(5),
        app.ride_reaches(&id, "DRIVER_FOUND"),
    )
    .await;
    assert!(
        found.is_ok(),
        "5 s on, the new ride 300 m from the one free driver is still unmatched: {}",
        app.ride(&id).await
    );
}

/// Two areas, `--match-window 60s` for all but per area: scl `0s`
/// (greedy), east `500ms`. A ride in each, a driver beside each: scl's is
/// matched at once, east's by its window, long before a minute; each area
/// reports its own window, and east its last batch.
pub(super) async fn each_area_matches_by_its_own_window(store: StoreKind) {
    let mut file = crate::common::areas::two_cities();
    file["features"][0]["properties"]["matchWindow"] = json!("0s");
    file["features"][1]["properties"]["matchWindow"] = json!("500ms");
    let path = crate::common::areas::areas_file(&format!("batch-windows-{store:?}"), &file);
    let app = TestApp::spawn(store, |c| {
        c.areas = Some(path);
        c.batch.match_window = Duration::from_secs(60);
    })
    .await;
    let east = (-33.44, -70.35);
    app.update_location("west-driver", at(0.3)).await;
    app.update_location("east-driver", (east.0 + 0.0027, east.1))
        .await;
    // Past the first window of each batching area (its first tick is at
    // start), so only the area's own window can match.
    let scl = id_of(&app.request_driver("west-rider", at(0.0)).await);
    let far = id_of(&app.request_driver("east-rider", east).await);
    within(Duration::from_secs(5), "both rides matched", async {
        assert_eq!(
            app.ride_reaches(&scl, "DRIVER_FOUND").await["driver"]["id"],
            "west-driver"
        );
        assert_eq!(
            app.ride_reaches(&far, "DRIVER_FOUND").await["driver"]["id"],
            "east-driver"
        );
    })
    .await;
    let areas = app
        .data(
            "{ areas { id matchWindowSeconds lastBatch { rides matched } } }",
            json!({}),
        )
        .await;
    assert_eq!(areas["areas"][0]["matchWindowSeconds"], 0.0, "{areas}");
    assert_eq!(areas["areas"][1]["matchWindowSeconds"], 0.5, "{areas}");
    assert_eq!(areas["areas"][1]["lastBatch"]["matched"], 1, "{areas}");
}
