//! Batched matching on every store: a window finds the optimum where
//! greedy is wrong (and `0s` keeps greedy's answer); a rider among a stream
//! of newer, nearer requests is matched within `maxBatches` windows; a
//! decline inside a batch returns the ride to the next window, never to
//! the same driver.

use std::time::Duration;

use serde_json::json;

use crate::common::{eventually, id_of, north_of, StoreKind, TestApp, RIDER};

/// Points on a meridian, `km` north of the rider's corner.
fn at(km: f64) -> (f64, f64) {
    north_of(RIDER, km)
}

async fn driver_of(app: &TestApp, id: &str) -> String {
    let ride = app.ride_reaches(id, "DRIVER_FOUND").await;
    ride["driver"]["id"].as_str().unwrap_or_default().to_owned()
}

/// Driver X at 0 km, rider A at 1.05, driver Y at 2.0, rider B at 3.0: A,
/// asking first, is a little nearer Y, so greedy gives it Y and B gets X
/// from 3 km (3.95 km in all); together, A takes X and B takes Y (2.05 km).
pub(super) async fn a_window_finds_the_optimum_where_greedy_is_wrong(store: StoreKind) {
    let batched = TestApp::spawn(store, |c| c.batch.match_window = Duration::from_secs(2)).await;
    let a = id_of(&batched.request_driver("rider-a", at(1.05)).await);
    let b = id_of(&batched.request_driver("rider-b", at(3.0)).await);
    // Both drivers appear in one step, so one window sees them together.
    let (x, y) = (at(0.0), at(2.0));
    batched
        .data(
            "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
            json!({"u": [
                {"driverId": "x", "lat": x.0, "lng": x.1},
                {"driverId": "y", "lat": y.0, "lng": y.1},
            ]}),
        )
        .await;
    assert_eq!(driver_of(&batched, &a).await, "x", "the window's optimum");
    assert_eq!(driver_of(&batched, &b).await, "y", "the window's optimum");

    let greedy = TestApp::spawn(store, |_| {}).await;
    greedy.update_location("x", x).await;
    greedy.update_location("y", y).await;
    let a = id_of(&greedy.request_driver("rider-a", at(1.05)).await);
    assert_eq!(
        driver_of(&greedy, &a).await,
        "y",
        "greedy: the nearest at once"
    );
    let b = id_of(&greedy.request_driver("rider-b", at(3.0)).await);
    assert_eq!(driver_of(&greedy, &b).await, "x", "greedy: what is left");
}

/// One driver; a rider 4 km away; a newer rider beside the driver at every
/// window. The optimum always prefers the newcomer, so only the fairness
/// rule (`maxBatches`: 2 here) gets the first rider a driver: within a few
/// of the driver's rides.
pub(super) async fn a_rider_among_newer_nearer_requests_is_not_starved(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.batch.match_window = Duration::from_millis(300);
        c.batch.max_batches = 2;
    })
    .await;
    // Both ask before the driver appears: one window sees them together.
    let first = id_of(&app.request_driver("first", at(4.0)).await);
    let mut newcomer = id_of(&app.request_driver("new-0", at(0.1)).await);
    app.update_location("only", at(0.0)).await;
    for round in 1..=6 {
        let winner = eventually("the driver's next ride", || async {
            for id in [&first, &newcomer] {
                let ride = app.ride(id).await;
                if ride["status"] == "DRIVER_FOUND" {
                    return Some(id.clone());
                }
            }
            None
        })
        .await;
        if winner == first {
            return;
        }
        // A newer rider waits beside the driver before it is free again.
        newcomer = id_of(&app.request_driver(&format!("new-{round}"), at(0.1)).await);
        let cancelled = app.cancel(&winner).await;
        assert_eq!(
            cancelled["data"]["cancelRequest"]["status"], "CANCELLED",
            "{cancelled}"
        );
    }
    panic!("the first rider was starved by six newer ones");
}

/// With offers, a window offers; a decline sends the ride back to the next
/// window, which offers it to another driver, never the one who declined.
pub(super) async fn a_decline_in_a_batch_goes_to_the_next_window_and_another_driver(
    store: StoreKind,
) {
    let app = TestApp::spawn(store, |c| {
        c.batch.match_window = Duration::from_millis(300);
        c.offer_timeout = Duration::from_secs(30);
    })
    .await;
    app.update_location("near", at(0.2)).await;
    app.update_location("far", at(1.5)).await;
    let id = id_of(&app.request_driver("rider", at(0.0)).await);
    let offered = |want: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            eventually(&format!("an offer to {want}"), || async {
                let ride = app
                    .data(
                        "query($id: ID!) { ride(id: $id) { offer { driver { id } } } }",
                        json!({"id": id}),
                    )
                    .await;
                (ride["ride"]["offer"]["driver"]["id"] == want).then_some(())
            })
            .await
        }
    };
    offered("near").await;
    app.data(
        "mutation($id: ID!) { declineOffer(rideId: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    offered("far").await;
    app.data(
        "mutation($id: ID!) { acceptOffer(rideId: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(driver_of(&app, &id).await, "far");
}

/// With roads, a window times its candidates by road: across the river,
/// the driver on the same bank gets the ride, with its road time.
pub(super) async fn a_window_times_its_candidates_by_road(store: StoreKind) {
    use crate::roads::city::{cities, river};
    let app = TestApp::spawn(store, |c| {
        c.roads.file = Some(cities());
        c.batch.match_window = Duration::from_millis(300);
    })
    .await;
    let id = id_of(&app.request_driver("rider", river::PICKUP).await);
    let (far, same) = (river::FAR_BANK, river::SAME_BANK);
    app.data(
        "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
        json!({"u": [
            {"driverId": "far-bank", "lat": far.0, "lng": far.1},
            {"driverId": "same-bank", "lat": same.0, "lng": same.1},
        ]}),
    )
    .await;
    assert_eq!(driver_of(&app, &id).await, "same-bank");
    let ride = app
        .data(
            "query($id: ID!) { ride(id: $id) { etaSource pickupEtaSeconds } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(ride["ride"]["etaSource"], "ROADS", "{ride}");
}
