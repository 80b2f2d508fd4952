//! Instances on one Redis: what one does, the others' subscribers see, and
//! no driver is ever assigned twice between them.

use std::{collections::HashSet, time::Duration};

use futures_util::future::join_all;
use serde_json::json;

use crate::common::{
    eventually, id_of, instances::two_instances, north_of, ws::Event, Protocol, StoreKind, DRIVER,
    RIDER,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_one_instance_follows_a_ride_searched_on_another() {
    let (a, b) = two_instances(StoreKind::Redis, |_| {}).await;
    let id = id_of(&a.request_driver("rider-1", RIDER).await);
    let mut on_b = b.watch_ride(Protocol::TransportWs, &id).await;
    on_b.expect_status("SEARCHING").await;

    // The driver reports to B; the wake-up crosses Redis to A's search task
    // (the search interval is a minute, so only a wake-up explains a match).
    b.update_location("1", DRIVER).await;
    let found = on_b.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");

    // A cancel on A reaches B's subscriber.
    let cancelled = a.cancel(&id).await;
    assert_eq!(cancelled["data"]["cancelRequest"]["status"], "CANCELLED");
    on_b.expect_status("CANCELLED").await;
    on_b.expect_complete().await;
    assert_eq!(b.driver("1").await["status"], "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_assign_a_driver_twice() {
    const DRIVERS: usize = 30;
    const RIDES: usize = 300;
    let (a, b) = two_instances(StoreKind::Redis, |c| {
        c.request_timeout = Duration::from_secs(3)
    })
    .await;
    let apps = [&a, &b];
    join_all((0..DRIVERS).map(|i| async move {
        apps[i % 2]
            .update_location(&format!("d{i}"), north_of(RIDER, i as f64 * 0.05))
            .await
    }))
    .await;
    let requested = join_all((0..RIDES).map(|i| async move {
        let app = apps[i % 2];
        let id = id_of(&app.request_driver(&format!("r{i}"), RIDER).await);
        let mut cancelled_while_searching = false;
        if i % 5 == 0 {
            // Cancel through the other instance, racing the matches.
            let body = apps[(i + 1) % 2].cancel(&id).await;
            let ride = &body["data"]["cancelRequest"];
            assert_eq!(ride["status"], "CANCELLED", "cancel of {id}: {body}");
            cancelled_while_searching = ride["driver"].is_null();
        }
        (id, cancelled_while_searching)
    }))
    .await;

    let mut assigned = HashSet::new();
    let mut stayed_driverless = 0;
    for (id, cancelled_while_searching) in &requested {
        if *cancelled_while_searching {
            let ride = a.ride(id).await;
            assert_eq!(ride["status"], "CANCELLED", "{ride}");
            assert!(
                ride["driver"].is_null(),
                "a ride cancelled while searching got a driver: {ride}"
            );
            stayed_driverless += 1;
        }
        let ride = eventually(&format!("ride {id} to stop searching"), || async {
            let ride = a.ride(id).await;
            (ride["status"] != "SEARCHING").then_some(ride)
        })
        .await;
        match ride["status"].as_str() {
            Some("DRIVER_FOUND") => {
                let driver = ride["driver"]["id"].as_str().expect("driver").to_owned();
                assert!(
                    assigned.insert(driver.clone()),
                    "driver {driver} assigned twice"
                );
            }
            Some("CANCELLED") | Some("EXPIRED") => {}
            other => panic!("unexpected final status {other:?}: {ride}"),
        }
        // Both instances read the same, single outcome.
        assert_eq!(b.ride(id).await["status"], ride["status"]);
    }
    assert_eq!(assigned.len(), DRIVERS, "every driver matched exactly once");
    assert!(
        stayed_driverless > 0,
        "no cancel raced a search: the check above proved nothing"
    );
}

/// `fleet` and `driverLocation` on one instance follow what happens on
/// another: driver events cross Redis like ride events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_maps_and_riders_see_what_other_instances_do() {
    let (a, b) = two_instances(StoreKind::Redis, |_| {}).await;
    let mut map = b
        .subscribe(
            Protocol::TransportWs,
            "subscription { fleet(lat: -33.44262, lng: -70.63054, radiusKm: 10) { kind drivers { id status } rides { id status } } }",
            json!({}),
        )
        .await;
    let first = map.next_event().await;
    assert!(
        matches!(&first, Event::Next(p) if p["data"]["fleet"]["kind"] == "SNAPSHOT"),
        "{first:?}"
    );

    // A driver reports to A: B's map shows it.
    a.update_location("far-away", DRIVER).await;
    match map.next_event().await {
        Event::Next(p) => {
            assert_eq!(p["data"]["fleet"]["kind"], "DRIVER", "{p}");
            assert_eq!(p["data"]["fleet"]["drivers"][0]["id"], "far-away");
        }
        other => panic!("expected a driver event, got {other:?}"),
    }

    // A rider on B follows the car that A's search task assigned.
    let ride = id_of(&a.request_driver("rider", RIDER).await);
    a.ride_reaches(&ride, "DRIVER_FOUND").await;
    let mut follow = b
        .subscribe(
            Protocol::LegacyWs,
            "subscription($id: ID!) { driverLocation(rideId: $id) { id location { lat } } }",
            json!({"id": ride}),
        )
        .await;
    let now = follow.next_event().await;
    assert!(
        matches!(&now, Event::Next(p) if p["data"]["driverLocation"]["id"] == "far-away"),
        "{now:?}"
    );
    a.update_location("far-away", north_of(DRIVER, 0.05)).await;
    match follow.next_event().await {
        Event::Next(p) => {
            let lat = p["data"]["driverLocation"]["location"]["lat"]
                .as_f64()
                .expect("lat");
            assert!((lat - north_of(DRIVER, 0.05).0).abs() < 1e-9, "{p}");
        }
        other => panic!("expected the move, got {other:?}"),
    }
}
