//! The behaviour suite: one body per scenario, run against every store.
//!
//! Each scenario is an `async fn(StoreKind)`; `for_each_store!` makes one
//! test per store from it, so the in-memory and the Redis store are held to
//! exactly the same behaviour.

use std::{collections::HashSet, time::Duration};

use futures_util::future::join_all;
use serde_json::json;

use crate::common::{
    error_code_of, eventually, for_each_store, id_of, north_of, Protocol, StoreKind, TestApp,
    DRIVER, RIDER,
};

for_each_store!(
    no_driver_means_the_request_expires_on_time,
    a_driver_arriving_during_the_search_is_assigned,
    a_driver_already_near_is_found_by_the_first_search,
    a_searching_ride_is_cancelled_at_once,
    cancelling_a_found_ride_frees_its_driver,
    cancel_and_complete_follow_the_ride_rules,
    nearby_drivers_are_listed_nearest_first,
    an_assigned_driver_is_neither_listed_nor_matched_again,
    go_offline_rules,
    a_silent_driver_goes_offline,
    a_late_subscriber_learns_the_current_state,
    subscribing_to_an_unknown_ride_is_an_error,
    both_subprotocols_follow_a_ride_to_its_end,
    concurrent_requests_and_cancels_never_share_a_driver,
    bad_input_changes_nothing,
    the_rider_follows_the_assigned_driver,
    a_dashboard_keeps_its_picture_from_events,
    a_dashboard_gets_each_intervals_changes_in_one_event,
    batched_updates_apply_in_order_of_time,
    ended_rides_and_silent_drivers_are_removed_after_their_retention,
    a_silent_driver_is_announced_offline_on_live_maps,
    a_retry_with_the_same_idempotency_key_gets_the_same_ride,
    a_rider_at_the_limit_is_refused_with_its_active_ride,
    a_report_stamped_in_the_future_hides_nothing,
    a_matched_ride_says_when_it_was_matched,
);

/// `matchedAt`, on the store's clock: null while the ride searches, then
/// between its `createdAt` and now once a driver is assigned.
async fn a_matched_ride_says_when_it_was_matched(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    let times = |id: String| {
        let app = &app;
        async move {
            app.data(
                "query($id: ID!) { ride(id: $id) { status createdAt matchedAt } }",
                serde_json::json!({"id": id}),
            )
            .await["ride"]
                .clone()
        }
    };
    let searching = times(id.clone()).await;
    assert_eq!(searching["status"], "SEARCHING", "{searching}");
    assert!(searching["matchedAt"].is_null(), "{searching}");

    app.update_location("1", DRIVER).await;
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    let found = times(id).await;
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(found[field].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{field} in {found}: {e}"))
    };
    let (created, matched) = (at("createdAt"), at("matchedAt"));
    assert!(created <= matched, "matched before created: {found}");
    assert!(
        matched <= chrono::Utc::now(),
        "matched in the future: {found}"
    );
}

/// The seed's first scenario: nobody near, the request expires; and it
/// expires at its deadline, not up to a search interval late.
async fn no_driver_means_the_request_expires_on_time(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.request_timeout = Duration::from_millis(800)).await;
    let ride = app.request_driver("rider-1", RIDER).await;
    assert_eq!(ride["status"], "SEARCHING");
    assert_eq!(ride["riderId"], "rider-1");
    let created =
        chrono::DateTime::parse_from_rfc3339(ride["createdAt"].as_str().expect("createdAt"))
            .expect("date");
    let expires =
        chrono::DateTime::parse_from_rfc3339(ride["expiresAt"].as_str().expect("expiresAt"))
            .expect("date");
    assert_eq!(
        (expires - created).num_milliseconds(),
        800,
        "expiresAt = createdAt + request timeout"
    );

    let mut sub = app.watch_ride(Protocol::TransportWs, &id_of(&ride)).await;
    sub.expect_status("SEARCHING").await;
    let expired = sub.expect_status("EXPIRED").await;
    let seen_at = chrono::Utc::now();
    assert!(expired["driver"].is_null());
    assert!(
        expired["searches"].as_i64().expect("searches") >= 1,
        "searched at least once"
    );
    let late = seen_at.signed_duration_since(expires).num_milliseconds();
    // The search interval is a minute: an expiry driven by polling would be
    // a minute late. Allow scheduling slack on a busy machine only.
    assert!(
        (0..5000).contains(&late),
        "expired {late} ms after expiresAt"
    );
    sub.expect_complete().await;

    // An expired ride never gets a driver, even one standing at its pickup:
    // a new ride there gets that driver, which it could not if the expired
    // ride had taken it.
    app.update_location("late", DRIVER).await;
    let next = id_of(&app.request_driver("rider-2", RIDER).await);
    let found = app.ride_reaches(&next, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "late");
    let ride = app.ride(&id_of(&ride)).await;
    assert_eq!(ride["status"], "EXPIRED");
    assert!(ride["driver"].is_null(), "{ride}");
}

/// The seed's second scenario: a driver reports during the search and gets
/// the ride, at once (the search interval is a minute).
async fn a_driver_arriving_during_the_search_is_assigned(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let ride = app.request_driver("rider-1", RIDER).await;
    let id = id_of(&ride);
    let mut sub = app.watch_ride(Protocol::TransportWs, &id).await;
    sub.expect_status("SEARCHING").await;

    app.update_location("1", DRIVER).await;
    // The search interval is a minute: only the wake-up explains a match
    // within the suite's patience.
    let found = sub.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
    assert_eq!(found["driver"]["status"], "ASSIGNED");
    let km = found["distanceKm"].as_f64().expect("distanceKm");
    assert!((km - 0.1945).abs() < 0.001, "distance {km}");
    assert_eq!(app.driver("1").await["status"], "ASSIGNED");
}

/// The seed searched first after 30 s; we search at once.
async fn a_driver_already_near_is_found_by_the_first_search(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("near", DRIVER).await;
    app.update_location("far", north_of(RIDER, 3.0)).await;
    app.update_location("out", north_of(RIDER, 6.0)).await;
    let ride = app.request_driver("rider-1", RIDER).await;
    let found = app.ride_reaches(&id_of(&ride), "DRIVER_FOUND").await;
    assert_eq!(
        found["driver"]["id"], "near",
        "the nearest driver is matched"
    );
    assert_eq!(found["searches"], 1, "found by the first search");
}

/// The seed's third scenario, and its flaw: a cancel is seen at once.
async fn a_searching_ride_is_cancelled_at_once(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let ride = app.request_driver("rider-1", RIDER).await;
    let id = id_of(&ride);
    let mut sub = app.watch_ride(Protocol::LegacyWs, &id).await;
    sub.expect_status("SEARCHING").await;

    let cancelled = app.cancel(&id).await;
    assert_eq!(
        cancelled["data"]["cancelRequest"]["status"], "CANCELLED",
        "{cancelled}"
    );
    sub.expect_status("CANCELLED").await;
    sub.expect_complete().await;

    // A cancelled ride never gets a driver, even one standing next to it: a
    // new ride there gets that driver, which it could not if the cancelled
    // ride had taken it.
    app.update_location("1", DRIVER).await;
    let next = id_of(&app.request_driver("rider-2", RIDER).await);
    assert_eq!(
        app.ride_reaches(&next, "DRIVER_FOUND").await["driver"]["id"],
        "1"
    );
    let ride = app.ride(&id).await;
    assert_eq!(ride["status"], "CANCELLED");
    assert!(ride["driver"].is_null());
}

async fn cancelling_a_found_ride_frees_its_driver(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("1", DRIVER).await;
    let first = id_of(&app.request_driver("rider-1", RIDER).await);
    app.ride_reaches(&first, "DRIVER_FOUND").await;

    // A second rider waits: the only driver is taken.
    let second = id_of(&app.request_driver("rider-2", RIDER).await);
    let mut sub = app.watch_ride(Protocol::TransportWs, &second).await;
    sub.expect_status("SEARCHING").await;

    let cancelled = app.cancel(&first).await;
    assert_eq!(
        cancelled["data"]["cancelRequest"]["status"], "CANCELLED",
        "{cancelled}"
    );
    // The freed driver wakes the waiting ride (the interval is a minute).
    let found = sub.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
}

async fn cancel_and_complete_follow_the_ride_rules(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;

    // Unknown ids.
    assert_eq!(error_code_of(&app.cancel("999").await), "NOT_FOUND");
    assert_eq!(error_code_of(&app.complete("999").await), "NOT_FOUND");

    // Cancelling twice returns the ride unchanged; completing it conflicts.
    let searching = id_of(&app.request_driver("rider-1", north_of(RIDER, 50.0)).await);
    assert_eq!(
        error_code_of(&app.complete(&searching).await),
        "CONFLICT",
        "completing a SEARCHING ride"
    );
    let once = app.cancel(&searching).await["data"]["cancelRequest"].clone();
    let twice = app.cancel(&searching).await["data"]["cancelRequest"].clone();
    assert_eq!(once["status"], "CANCELLED");
    assert_eq!(once, twice, "a second cancel changes nothing");
    assert_eq!(error_code_of(&app.complete(&searching).await), "CONFLICT");

    // An expired ride cannot be cancelled (a service of its own, with a
    // short timeout, so the rest of this test has all the time it needs).
    let hasty = TestApp::spawn(store, |c| c.request_timeout = Duration::from_millis(300)).await;
    let expiring = id_of(&hasty.request_driver("rider-2", north_of(RIDER, 50.0)).await);
    hasty.ride_reaches(&expiring, "EXPIRED").await;
    assert_eq!(error_code_of(&hasty.cancel(&expiring).await), "CONFLICT");
    assert_eq!(error_code_of(&hasty.complete(&expiring).await), "CONFLICT");

    // A completed ride cannot be cancelled or completed again, and its driver is free.
    app.update_location("d1", DRIVER).await;
    let ride = id_of(&app.request_driver("rider-3", RIDER).await);
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    let done = app.complete(&ride).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    assert_eq!(done["data"]["completeRide"]["driver"]["id"], "d1");
    assert_eq!(error_code_of(&app.cancel(&ride).await), "CONFLICT");
    assert_eq!(error_code_of(&app.complete(&ride).await), "CONFLICT");
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");
}

async fn nearby_drivers_are_listed_nearest_first(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    // Report in an order that is not the distance order.
    for (id, km) in [
        ("d3", 3.0),
        ("d1", 1.0),
        ("d20", 20.0),
        ("d2", 2.0),
        ("d10", 10.0),
    ] {
        app.update_location(id, north_of(RIDER, km)).await;
    }
    let found = app.nearby(RIDER, 15.0, 10).await;
    let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["d1", "d2", "d3", "d10"],
        "nearest first, within 15 km"
    );
    for ((_, km), want) in found.iter().zip([1.0, 2.0, 3.0, 10.0]) {
        assert!((km - want).abs() < 0.05, "distance {km} for {want} km");
    }
    assert_eq!(app.nearby(RIDER, 15.0, 2).await.len(), 2, "limit");
    assert_eq!(app.nearby(RIDER, 1.5, 10).await.len(), 1, "radius");
    // The seed's default radius is 15 km.
    let data = app
        .data("query($lat: Float!, $lng: Float!) { nearbyDrivers(lat: $lat, lng: $lng) { driver { id } } }", json!({"lat": RIDER.0, "lng": RIDER.1}))
        .await;
    assert_eq!(data["nearbyDrivers"].as_array().map(Vec::len), Some(4));
}

async fn an_assigned_driver_is_neither_listed_nor_matched_again(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("1", DRIVER).await;
    let first = id_of(&app.request_driver("rider-1", RIDER).await);
    app.ride_reaches(&first, "DRIVER_FOUND").await;
    assert!(
        app.nearby(RIDER, 15.0, 10).await.is_empty(),
        "an ASSIGNED driver is not listed"
    );

    // It keeps reporting while it drives: the position moves, the status stays.
    let moved = app.update_location("1", north_of(DRIVER, 0.1)).await;
    assert_eq!(moved["status"], "ASSIGNED");
    assert!(
        (moved["location"]["lat"].as_f64().expect("lat") - north_of(DRIVER, 0.1).0).abs() < 1e-6
    );
    assert!(app.nearby(RIDER, 15.0, 10).await.is_empty());

    let second = id_of(&app.request_driver("rider-2", RIDER).await);
    let ride = app.searched(&second).await;
    assert_eq!(
        ride["status"], "SEARCHING",
        "not matched to an ASSIGNED driver: {ride}"
    );

    // Going offline while assigned is refused; the ride owns the driver.
    assert_eq!(error_code_of(&app.go_offline("1").await), "CONFLICT");

    // Completing the first ride frees the driver, and the second gets it.
    let done = app.complete(&first).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    let found = app.ride_reaches(&second, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
}

async fn go_offline_rules(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    assert_eq!(error_code_of(&app.go_offline("ghost").await), "NOT_FOUND");
    app.update_location("1", DRIVER).await;
    let offline = app.go_offline("1").await;
    assert_eq!(
        offline["data"]["goOffline"]["status"], "OFFLINE",
        "{offline}"
    );
    assert_eq!(app.driver("1").await["status"], "OFFLINE");
    assert!(
        app.nearby(RIDER, 15.0, 10).await.is_empty(),
        "an OFFLINE driver is not listed"
    );
    let ride = id_of(&app.request_driver("rider-1", RIDER).await);
    assert_eq!(
        app.searched(&ride).await["status"],
        "SEARCHING",
        "an OFFLINE driver is not matched"
    );

    // Reporting again brings it back, and the waiting ride gets it.
    assert_eq!(
        app.update_location("1", DRIVER).await["status"],
        "AVAILABLE"
    );
    let found = app.ride_reaches(&ride, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
}

async fn a_silent_driver_goes_offline(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.driver_ttl = Duration::from_millis(300)).await;
    app.update_location("quiet", DRIVER).await;
    assert_eq!(app.nearby(RIDER, 15.0, 10).await.len(), 1);
    eventually("the silent driver to read OFFLINE", || async {
        (app.driver("quiet").await["status"] == "OFFLINE").then_some(())
    })
    .await;
    assert!(
        app.nearby(RIDER, 15.0, 10).await.is_empty(),
        "a silent driver is not listed"
    );
    let ride = id_of(&app.request_driver("rider-1", RIDER).await);
    assert_eq!(
        app.searched(&ride).await["status"],
        "SEARCHING",
        "a silent driver is not matched"
    );
    assert_eq!(
        app.update_location("quiet", DRIVER).await["status"],
        "AVAILABLE"
    );
    app.ride_reaches(&ride, "DRIVER_FOUND").await;

    // An ASSIGNED driver stays ASSIGNED while silent: its ride owns it.
    let assigned = app.driver("quiet").await;
    assert_eq!(assigned["status"], "ASSIGNED");
    let updated_at = assigned["updatedAt"]
        .as_str()
        .expect("updatedAt")
        .to_owned();
    eventually("the TTL to pass", || async {
        let since = chrono::Utc::now()
            - chrono::DateTime::parse_from_rfc3339(&updated_at)
                .ok()?
                .to_utc();
        (since.num_milliseconds() > 600).then_some(())
    })
    .await;
    assert_eq!(app.driver("quiet").await["status"], "ASSIGNED");
}

async fn a_late_subscriber_learns_the_current_state(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("1", DRIVER).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;

    // Subscribing after the match still tells of it, then follows on.
    let mut sub = app.watch_ride(Protocol::TransportWs, &id).await;
    let now = sub.expect_status("DRIVER_FOUND").await;
    assert_eq!(now["driver"]["id"], "1");
    app.complete(&id).await;
    sub.expect_status("COMPLETED").await;
    sub.expect_complete().await;

    // Subscribing to an ended ride gives its state and completes.
    let mut late = app.watch_ride(Protocol::LegacyWs, &id).await;
    late.expect_status("COMPLETED").await;
    late.expect_complete().await;
}

async fn subscribing_to_an_unknown_ride_is_an_error(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    for protocol in Protocol::ALL {
        let mut sub = app.watch_ride(protocol, "12345").await;
        assert_eq!(sub.expect_error_code().await, "NOT_FOUND", "{protocol:?}");
        let mut bad = app.watch_ride(protocol, "not an id").await;
        assert_eq!(
            bad.expect_error_code().await,
            "BAD_USER_INPUT",
            "{protocol:?}"
        );
    }
}

async fn both_subprotocols_follow_a_ride_to_its_end(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    let mut modern = app.watch_ride(Protocol::TransportWs, &id).await;
    let mut legacy = app.watch_ride(Protocol::LegacyWs, &id).await;
    for sub in [&mut modern, &mut legacy] {
        sub.expect_status("SEARCHING").await;
    }
    app.update_location("1", DRIVER).await;
    for sub in [&mut modern, &mut legacy] {
        assert_eq!(sub.expect_status("DRIVER_FOUND").await["driver"]["id"], "1");
    }
    app.cancel(&id).await;
    for sub in [&mut modern, &mut legacy] {
        sub.expect_status("CANCELLED").await;
        sub.expect_complete().await;
    }
    assert_eq!(
        app.driver("1").await["status"],
        "AVAILABLE",
        "cancelling frees the driver"
    );
}

/// Hundreds of riders, fewer drivers, cancels racing the matches: no driver
/// ever serves two rides, and every ride ends in exactly one state.
async fn concurrent_requests_and_cancels_never_share_a_driver(store: StoreKind) {
    const DRIVERS: usize = 40;
    const RIDES: usize = 300;
    let app = TestApp::spawn(store, |c| c.request_timeout = Duration::from_secs(3)).await;
    join_all((0..DRIVERS).map(|i| {
        let app = &app;
        async move {
            app.update_location(&format!("d{i}"), north_of(RIDER, i as f64 * 0.05))
                .await
        }
    }))
    .await;

    // Request all rides at once; cancel every third one as soon as it exists.
    let outcomes = join_all((0..RIDES).map(|i| {
        let app = &app;
        async move {
            let ride = app.request_driver(&format!("r{i}"), RIDER).await;
            let id = id_of(&ride);
            let cancel = if i % 3 == 0 {
                Some(app.cancel(&id).await)
            } else {
                None
            };
            (id, cancel)
        }
    }))
    .await;

    let mut cancelled_while_searching = Vec::new();
    for (id, cancel) in &outcomes {
        if let Some(body) = cancel {
            let ride = &body["data"]["cancelRequest"];
            assert_eq!(ride["status"], "CANCELLED", "{body}");
            if ride["driver"].is_null() {
                cancelled_while_searching.push(id.clone());
            }
        }
    }

    // Wait for every ride to reach an outcome: matched, cancelled or expired.
    let mut assigned = HashSet::new();
    let mut found = 0;
    for (id, _) in &outcomes {
        let ride = eventually(&format!("ride {id} to stop searching"), || async {
            let ride = app.ride(id).await;
            (ride["status"] != "SEARCHING").then_some(ride)
        })
        .await;
        match ride["status"].as_str() {
            Some("DRIVER_FOUND") => {
                found += 1;
                let driver = ride["driver"]["id"].as_str().expect("driver").to_owned();
                assert!(
                    assigned.insert(driver.clone()),
                    "driver {driver} assigned twice"
                );
            }
            Some("CANCELLED") | Some("EXPIRED") => {}
            other => panic!("unexpected final status {other:?} for {ride}"),
        }
    }
    for id in &cancelled_while_searching {
        let ride = app.ride(id).await;
        assert_eq!(ride["status"], "CANCELLED");
        assert!(
            ride["driver"].is_null(),
            "a ride cancelled while searching got a driver: {ride}"
        );
    }
    assert_eq!(found, DRIVERS, "every driver is matched exactly once");
    for i in 0..DRIVERS {
        assert_eq!(app.driver(&format!("d{i}")).await["status"], "ASSIGNED");
    }
}

/// Every class of bad input is refused with BAD_USER_INPUT and changes nothing.
async fn bad_input_changes_nothing(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    app.update_location("ok", DRIVER).await;
    let update = "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }";
    let request = "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }";
    let cases = [
        (
            update,
            json!({"d": "x", "lat": 85.06, "lng": 0.0}),
            "latitude beyond Redis's limit",
        ),
        (
            update,
            json!({"d": "x", "lat": -90.0, "lng": 0.0}),
            "latitude -90",
        ),
        (
            update,
            json!({"d": "x", "lat": 0.0, "lng": 180.5}),
            "longitude beyond 180",
        ),
        (
            update,
            json!({"d": "x", "lat": "NaN", "lng": 0.0}),
            "NaN as a string",
        ),
        (update, json!({"d": "", "lat": 0.0, "lng": 0.0}), "empty id"),
        (
            update,
            json!({"d": "x".repeat(65), "lat": 0.0, "lng": 0.0}),
            "id over 64 bytes",
        ),
        (
            update,
            json!({"d": "a b", "lat": 0.0, "lng": 0.0}),
            "id with a space",
        ),
        (
            update,
            json!({"d": "{tracking}:drivers", "lat": 0.0, "lng": 0.0}),
            "id naming a key",
        ),
        (update, json!({"d": "x", "lat": 0.0}), "missing variable"),
        (
            request,
            json!({"r": "", "lat": 0.0, "lng": 0.0}),
            "empty rider id",
        ),
        (
            request,
            json!({"r": "r", "lat": 100.0, "lng": 0.0}),
            "pickup out of range",
        ),
        (
            "mutation { cancelRequest(rideId: \"../1\") { id } }",
            json!({}),
            "ride id with a slash",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, radiusKm: 0) { distanceKm } }",
            json!({}),
            "radius 0",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, radiusKm: 100.5) { distanceKm } }",
            json!({}),
            "radius over 100",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, limit: 0) { distanceKm } }",
            json!({}),
            "limit 0",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, limit: 101) { distanceKm } }",
            json!({}),
            "limit over 100",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0, limit: 99999999999) { distanceKm } }",
            json!({}),
            "limit beyond Int",
        ),
        (
            "{ nearbyDrivers(lat: 0, lng: 0 { distanceKm } }",
            json!({}),
            "malformed document",
        ),
        ("{ nope }", json!({}), "unknown field"),
    ];
    for (query, variables, what) in cases {
        let body = app.gql(query, variables).await;
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{what}: {body}");
        assert!(
            body["data"].is_null()
                || body["data"]
                    .as_object()
                    .is_none_or(|d| d.values().all(|v| v.is_null())),
            "{what}: {body}"
        );
    }

    // Documents the spec says are invalid (every validation rule runs):
    // refused with their code and where the fault is, and nothing runs.
    let invalid = [
        (
            "mutation { requestDriver(riderId: \"x\", lat: 1, lng: 1, bogus: 5) { id } }",
            json!({}),
            "Unknown argument \"bogus\"",
        ),
        (
            "{ nearbyDrivers(lat: 1, lng: 1, lat: 2) { distanceKm } }",
            json!({}),
            "only be one argument named \"lat\"",
        ),
        (
            "mutation($r: ID!, $unused: Int) { requestDriver(riderId: $r, lat: 1, lng: 1) { id } }",
            json!({"r": "x"}),
            "\"$unused\" is not used",
        ),
        (
            "mutation { requestDriver(riderId: \"x\", lat: 1, lng: 1) { id } } fragment F on Ride { id }",
            json!({}),
            "\"F\" is never used",
        ),
        (
            "{ ride(id: \"1\") { bogusField } }",
            json!({}),
            "Unknown field \"bogusField\"",
        ),
        (
            "mutation($lat: Float!) { requestDriver(riderId: \"x\", lat: $lat, lng: 1) { id } }",
            json!({"lat": "north"}),
            "\"$lat\" got an invalid value",
        ),
        (
            "mutation($lat: Float!) { requestDriver(riderId: \"x\", lat: $lat, lng: 1) { id } }",
            json!({}),
            "\"$lat\" of required type \"Float!\" was not provided",
        ),
    ];
    for (query, variables, said) in invalid {
        let body = app.gql(query, variables).await;
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{query}: {body}");
        let error = &body["errors"][0];
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(said)),
            "{query}: {body}"
        );
        assert!(
            error["locations"][0]["line"].as_u64().is_some(),
            "{query}: no location in {body}"
        );
        assert!(
            body.get("data").is_none(),
            "a request error has no data: {body}"
        );
    }

    // Malformed JSON: a 400 with a GraphQL-shaped body.
    let infinite =
        r#"{"query": "mutation { updateLocation(driverId: \"x\", lat: 1e400, lng: 0) { id } }"}"#;
    let infinite_var = r#"{"query": "mutation($lat: Float!) { updateLocation(driverId: \"x\", lat: $lat, lng: 0) { id } }", "variables": {"lat": 1e400}}"#;
    // (And a request without a query, or with an empty one.)
    for raw in [
        "{not json",
        "[1, 2",
        "\"query\"",
        "",
        infinite_var,
        r#"{"query": ""}"#,
        r#"{"qeury": "{ __typename }"}"#,
    ] {
        let (status, body) = app.post_raw("/graphql", raw).await;
        assert_eq!(status, 400, "{raw:?}: {body}");
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{raw:?}");
    }

    // An infinite literal in the document itself.
    let (status, body) = app.post_raw("/graphql", infinite).await;
    assert_eq!(status, 200);
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");

    // Nothing changed: one driver, no rides.
    let ids: Vec<String> = app
        .nearby(RIDER, 100.0, 100)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["ok"]);
    assert!(app.driver("x").await.is_null());
    assert_eq!(app.stored_rides().await, 0, "no ride was created");
}

const DRIVER_LOCATION: &str =
    "subscription($id: ID!) { driverLocation(rideId: $id) { id status rideId location { lat lng } } }";

/// `driverLocation`: waits while the ride searches, then the assigned
/// driver at every move, and completes when the ride ends.
async fn the_rider_follows_the_assigned_driver(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    let mut follow = app
        .subscribe(Protocol::TransportWs, DRIVER_LOCATION, json!({"id": id}))
        .await;

    app.update_location("car", north_of(RIDER, 1.0)).await;
    let first = next_driver(&mut follow).await;
    assert_eq!(first["id"], "car");
    assert_eq!(first["status"], "ASSIGNED");
    assert_eq!(first["rideId"], id.as_str());

    for km in [0.8, 0.5, 0.2] {
        app.update_location("car", north_of(RIDER, km)).await;
        let moved = next_driver(&mut follow).await;
        let lat = moved["location"]["lat"].as_f64().expect("lat");
        assert!(
            (lat - north_of(RIDER, km).0).abs() < 1e-9,
            "moved to {km} km: {moved}"
        );
    }
    app.complete(&id).await;
    follow.expect_complete().await;

    // An ended ride has no driver to follow.
    let mut ended = app
        .subscribe(Protocol::LegacyWs, DRIVER_LOCATION, json!({"id": id}))
        .await;
    assert_eq!(ended.expect_error_code().await, "CONFLICT");
}

async fn next_driver(sub: &mut crate::common::Subscription) -> serde_json::Value {
    match sub.next_event().await {
        crate::common::ws::Event::Next(payload) => {
            assert!(payload.get("errors").is_none(), "{payload}");
            payload["data"]["driverLocation"].clone()
        }
        other => panic!("expected a driver, got {other:?}"),
    }
}

const FLEET: &str = "subscription($lat: Float!, $lng: Float!, $r: Float!) { fleet(lat: $lat, lng: $lng, radiusKm: $r) { kind resync drivers { id status location { lat lng } } rides { id status driver { id } } } }";

/// A live map of everything within 10 km of the rider's spot.
async fn watch_fleet(app: &TestApp) -> crate::common::Subscription {
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
async fn a_dashboard_gets_each_intervals_changes_in_one_event(store: StoreKind) {
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
async fn a_dashboard_keeps_its_picture_from_events(store: StoreKind) {
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

const BATCH: &str = "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted stale refused { index driverId code } } }";

/// `updateLocations`: many reports in one call; late ones are ignored,
/// implausible ones refused on their own, malformed input refuses the call.
async fn batched_updates_apply_in_order_of_time(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.max_speed_kmh = 300.0).await;
    let now = chrono::Utc::now();
    let at = |secs_ago: i64| (now - chrono::Duration::seconds(secs_ago)).to_rfc3339();
    let updates = json!([
        {"driverId": "a", "lat": RIDER.0, "lng": RIDER.1, "at": at(10)},
        {"driverId": "b", "lat": DRIVER.0, "lng": DRIVER.1},
        // Older than a's report just above: ignored.
        {"driverId": "a", "lat": -33.0, "lng": -70.0, "at": at(20)},
        // 1 km further five seconds later: 720 km/h, refused.
        {"driverId": "a", "lat": north_of(RIDER, 1.0).0, "lng": RIDER.1, "at": at(5)},
        // 0.1 km ten seconds later: fine.
        {"driverId": "a", "lat": north_of(RIDER, 0.1).0, "lng": RIDER.1},
    ]);
    let result = app.data(BATCH, json!({"u": updates})).await["updateLocations"].clone();
    assert_eq!(result["accepted"], 3, "{result}");
    assert_eq!(result["stale"], 1, "{result}");
    assert_eq!(
        result["refused"],
        json!([{"index": 3, "driverId": "a", "code": "BAD_USER_INPUT"}])
    );
    let a = app.driver("a").await;
    assert!(
        (a["location"]["lat"].as_f64().expect("lat") - north_of(RIDER, 0.1).0).abs() < 1e-9,
        "{a}"
    );
    assert_eq!(app.nearby(RIDER, 5.0, 10).await.len(), 2);

    // Malformed input refuses the whole call and changes nothing.
    let bad = json!([
        {"driverId": "c", "lat": 0.0, "lng": 0.0},
        {"driverId": "d", "lat": 91.0, "lng": 0.0},
    ]);
    assert_eq!(
        error_code_of(&app.gql(BATCH, json!({"u": bad})).await),
        "BAD_USER_INPUT"
    );
    assert!(app.driver("c").await.is_null());
    let future = json!([{"driverId": "c", "lat": 0.0, "lng": 0.0, "at": (now + chrono::Duration::hours(1)).to_rfc3339()}]);
    assert_eq!(
        error_code_of(&app.gql(BATCH, json!({"u": future})).await),
        "BAD_USER_INPUT"
    );
    let too_many: Vec<_> = (0..1001)
        .map(|i| json!({"driverId": format!("x{i}"), "lat": 0.0, "lng": 0.0}))
        .collect();
    assert_eq!(
        error_code_of(&app.gql(BATCH, json!({"u": too_many})).await),
        "BAD_USER_INPUT"
    );
    assert!(app.driver("x0").await.is_null());

    // The same mutation over a WebSocket, as a batch uploader would send it.
    let mut socket = app
        .subscribe(
            Protocol::TransportWs,
            BATCH,
            json!({"u": [{"driverId": "ws", "lat": RIDER.0, "lng": RIDER.1}]}),
        )
        .await;
    match socket.next_event().await {
        crate::common::ws::Event::Next(payload) => assert_eq!(
            payload["data"]["updateLocations"]["accepted"], 1,
            "{payload}"
        ),
        other => panic!("expected a result, got {other:?}"),
    }
    socket.expect_complete().await;
    assert_eq!(app.driver("ws").await["status"], "AVAILABLE");
}

/// Nothing is kept forever: an ended ride is removed after the ride
/// retention (`ride` then answers null), a silent driver after the driver
/// retention; on Redis their keys are gone, not merely hidden.
async fn ended_rides_and_silent_drivers_are_removed_after_their_retention(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.driver_ttl = Duration::from_millis(300);
        c.ride_retention = Duration::from_millis(800);
        c.driver_retention = Duration::from_millis(1200);
    })
    .await;
    app.update_location("brief", DRIVER).await;
    let cancelled = id_of(&app.request_driver("rider-1", north_of(RIDER, 50.0)).await);
    app.cancel(&cancelled).await;
    let matched = id_of(&app.request_driver("rider-2", RIDER).await);
    app.ride_reaches(&matched, "DRIVER_FOUND").await;
    app.complete(&matched).await;
    let open = id_of(&app.request_driver("rider-3", north_of(RIDER, 80.0)).await);
    assert_eq!(
        app.ride(&cancelled).await["status"],
        "CANCELLED",
        "kept for now"
    );

    eventually(
        "the ended rides and the silent driver to be removed",
        || async {
            let gone = app.ride(&cancelled).await.is_null()
                && app.ride(&matched).await.is_null()
                && app.driver("brief").await.is_null();
            gone.then_some(())
        },
    )
    .await;
    assert_eq!(
        app.ride(&open).await["status"],
        "SEARCHING",
        "an open ride stays"
    );

    if let Some(redis) = &app.redis {
        let keys = tracking::store::redis::Keys::new("tracking", None);
        let exists = |key: String| async move { redis.cmd::<i64>(&["EXISTS", &key]).await };
        let ride_key = |id: &str| keys.ride(&tracking::domain::RideId::parse(id).expect("id"));
        assert_eq!(exists(ride_key(&cancelled)).await, 0);
        assert_eq!(exists(ride_key(&matched)).await, 0);
        assert_eq!(exists(ride_key(&open)).await, 1);
        let driver = tracking::domain::DriverId::parse("brief").expect("id");
        assert_eq!(exists(keys.driver(&driver)).await, 0);
        assert_eq!(
            redis.cmd::<i64>(&["HEXISTS", &keys.last(), "brief"]).await,
            0
        );
        assert_eq!(redis.cmd::<i64>(&["ZCARD", &keys.offline()]).await, 0);
        assert_eq!(redis.cmd::<i64>(&["ZCARD", &keys.seen()]).await, 0);
        let all: Vec<String> = redis.cmd(&["KEYS", "*"]).await;
        let records: Vec<&String> = all
            .iter()
            .filter(|k| k.contains(":ride:") || k.contains(":driver:"))
            .collect();
        assert_eq!(records, [&ride_key(&open)], "only the open ride is kept");
    }
}

/// A driver that falls silent past the TTL is announced OFFLINE to live
/// maps, once, without anyone searching near it.
async fn a_silent_driver_is_announced_offline_on_live_maps(store: StoreKind) {
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

const KEYED_REQUEST: &str = "mutation($r: ID!, $k: String) { requestDriver(riderId: $r, lat: 10, lng: 10, idempotencyKey: $k) { id } }";

/// A retry with the same idempotency key returns the ride the first request
/// made, whatever became of its reply; other keys and other riders get
/// rides of their own.
async fn a_retry_with_the_same_idempotency_key_gets_the_same_ride(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let request = |rider: &str, key: &str| {
        let vars = json!({"r": rider, "k": key});
        let app = &app;
        async move { id_of(&app.data(KEYED_REQUEST, vars).await["requestDriver"]) }
    };
    let first = request("ana", "tap-1").await;
    assert_eq!(request("ana", "tap-1").await, first, "the retry");
    assert_ne!(request("ana", "tap-2").await, first, "another key");
    assert_ne!(request("bob", "tap-1").await, first, "another rider");
    assert_eq!(app.stored_rides().await, 3);
    for bad in ["a b", &"k".repeat(65), ""] {
        let body = app.gql(KEYED_REQUEST, json!({"r": "ana", "k": bad})).await;
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{bad:?}: {body}");
    }
    assert_eq!(app.stored_rides().await, 3, "refused keys created nothing");
}

/// With a limit of one ride per rider, a second request while the first has
/// not ended is a CONFLICT naming the first; once it ends, a new one is fine.
async fn a_rider_at_the_limit_is_refused_with_its_active_ride(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.max_active_rides_per_rider = 1).await;
    let first = id_of(&app.request_driver("ana", north_of(RIDER, 50.0)).await);
    let body = app
        .gql(
            "mutation { requestDriver(riderId: \"ana\", lat: 1, lng: 1) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code_of(&body), "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["rideId"], first.as_str());
    assert_eq!(app.stored_rides().await, 1, "nothing created");
    // Another rider is not limited by ana's ride.
    app.request_driver("bob", north_of(RIDER, 50.0)).await;
    app.cancel(&first).await;
    let second = id_of(&app.request_driver("ana", north_of(RIDER, 50.0)).await);
    assert_ne!(second, first);
}

/// A report stamped ahead of the store's clock (within the allowed skew) is
/// stored at the store's now: it cannot freeze the driver's position
/// against the real reports that follow.
async fn a_report_stamped_in_the_future_hides_nothing(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let ahead = (chrono::Utc::now() + chrono::Duration::seconds(59)).to_rfc3339();
    let done = app
        .data(
            BATCH,
            json!({"u": [{"driverId": "eager", "lat": DRIVER.0, "lng": DRIVER.1, "at": ahead}]}),
        )
        .await;
    assert_eq!(done["updateLocations"]["accepted"], 1);
    let moved = app.update_location("eager", north_of(DRIVER, 0.2)).await;
    let lat = moved["location"]["lat"].as_f64().expect("lat");
    assert!(
        (lat - north_of(DRIVER, 0.2).0).abs() < 1e-9,
        "the later real report was kept: {moved}"
    );
}

/// Both stores refuse the same things with the same code and the same
/// words (ride ids, which differ, aside).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_word_each_refusal_the_same() {
    async fn refusals(store: StoreKind) -> Vec<(String, String)> {
        let app = TestApp::spawn(store, |c| c.max_speed_kmh = 300.0).await;
        let mut out = Vec::new();
        let mut note = |what: &str, body: serde_json::Value, ride: Option<&str>| {
            let code = error_code_of(&body);
            let mut message = body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(ride) = ride {
                message = message.replace(ride, "<ride>");
            }
            out.push((format!("{what}: {code}"), message));
        };
        note("cancel unknown", app.cancel("nope.1").await, None);
        note("complete unknown", app.complete("nope.1").await, None);
        note("offline unknown", app.go_offline("ghost").await, None);
        let searching = id_of(&app.request_driver("r", north_of(RIDER, 50.0)).await);
        note(
            "complete searching",
            app.complete(&searching).await,
            Some(&searching),
        );
        app.cancel(&searching).await;
        note(
            "complete cancelled",
            app.complete(&searching).await,
            Some(&searching),
        );
        app.update_location("d", DRIVER).await;
        let matched = id_of(&app.request_driver("r", RIDER).await);
        app.ride_reaches(&matched, "DRIVER_FOUND").await;
        note(
            "offline assigned",
            app.go_offline("d").await,
            Some(&matched),
        );
        app.complete(&matched).await;
        note(
            "cancel completed",
            app.cancel(&matched).await,
            Some(&matched),
        );
        let at = |secs: i64| (chrono::Utc::now() - chrono::Duration::seconds(secs)).to_rfc3339();
        let batch = app
            .data(
                "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { refused { code message } } }",
                json!({"u": [
                    {"driverId": "j", "lat": RIDER.0, "lng": RIDER.1, "at": at(20)},
                    {"driverId": "j", "lat": north_of(RIDER, 5.0).0, "lng": RIDER.1, "at": at(10)},
                ]}),
            )
            .await;
        let refused = batch["updateLocations"]["refused"][0].clone();
        // The trip's steps and the offers.
        async fn op(app: &TestApp, name: &str, ride: &str) -> serde_json::Value {
            app.gql(
                &format!("mutation($id: ID!) {{ {name}(rideId: $id) {{ id }} }}"),
                json!({"id": ride}),
            )
            .await
        }
        let waiting = id_of(&app.request_driver("w", north_of(RIDER, 50.0)).await);
        for name in ["driverArrived", "startTrip", "acceptOffer", "declineOffer"] {
            note(
                &format!("{name} searching"),
                op(&app, name, &waiting).await,
                Some(&waiting),
            );
        }
        app.update_location("e", DRIVER).await;
        let trip = id_of(&app.request_driver("t", RIDER).await);
        app.ride_reaches(&trip, "DRIVER_FOUND").await;
        op(&app, "driverArrived", &trip).await;
        op(&app, "startTrip", &trip).await;
        note("cancel in progress", app.cancel(&trip).await, Some(&trip));
        let offers = TestApp::spawn(store, |c| c.offer_timeout = Duration::from_millis(200)).await;
        offers.update_location("f", DRIVER).await;
        let offered = id_of(&offers.request_driver("o", RIDER).await);
        eventually("the offer to time out", || async {
            let ride = offers
                .data(
                    "query($id: ID!) { ride(id: $id) { lastOfferEnd } }",
                    json!({"id": offered}),
                )
                .await;
            (ride["ride"]["lastOfferEnd"] == "TIMED_OUT").then_some(())
        })
        .await;
        note(
            "accept timed out",
            op(&offers, "acceptOffer", &offered).await,
            Some(&offered),
        );
        out.push((
            format!("batch jump: {}", refused["code"]),
            refused["message"].as_str().unwrap_or_default().to_owned(),
        ));
        out
    }
    let memory = refusals(StoreKind::Memory).await;
    let redis = refusals(StoreKind::Redis).await;
    assert_eq!(memory, redis);
    assert!(
        memory.iter().all(|(_, message)| !message.is_empty()),
        "{memory:?}"
    );
}
