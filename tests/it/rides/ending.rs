//! How a ride ends: a cancel is seen at once and frees the driver; cancel
//! and complete follow the ride rules; and both stores word each refusal
//! the same.

use std::time::Duration;

use serde_json::json;

use crate::common::{
    error_code_of, eventually, id_of, north_of, Protocol, StoreKind, TestApp, DRIVER, RIDER,
};

/// The seed's third scenario, and its flaw: a cancel is seen at once.
pub(super) async fn a_searching_ride_is_cancelled_at_once(store: StoreKind) {
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

pub(super) async fn cancelling_a_found_ride_frees_its_driver(store: StoreKind) {
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

pub(super) async fn cancel_and_complete_follow_the_ride_rules(store: StoreKind) {
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
