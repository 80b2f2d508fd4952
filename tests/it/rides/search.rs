//! The search: a driver already near is found by the first search, one
//! arriving during it at once, nobody means the request expires on its
//! deadline; concurrent requests and cancels never share a driver.

use std::{collections::HashSet, time::Duration};

use futures_util::future::join_all;

use crate::common::{eventually, id_of, north_of, Protocol, StoreKind, TestApp, DRIVER, RIDER};

/// `matchedAt`, on the store's clock: null while the ride searches, then
/// between its `createdAt` and now once a driver is assigned.
pub(super) async fn a_matched_ride_says_when_it_was_matched(store: StoreKind) {
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
pub(super) async fn no_driver_means_the_request_expires_on_time(store: StoreKind) {
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
pub(super) async fn a_driver_arriving_during_the_search_is_assigned(store: StoreKind) {
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
pub(super) async fn a_driver_already_near_is_found_by_the_first_search(store: StoreKind) {
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

/// Hundreds of riders, fewer drivers, cancels racing the matches: no driver
/// ever serves two rides, and every ride ends in exactly one state.
pub(super) async fn concurrent_requests_and_cancels_never_share_a_driver(store: StoreKind) {
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
