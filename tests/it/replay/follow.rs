//! The `events` subscription: a first page that replays what followed
//! `after`, then pages as the log grows.

use serde_json::{json, Value};

use super::setup::{churn, ids, log_on, page, read_all, roomy, three_rides, FOLLOW};
use crate::common::{id_of, north_of, Protocol, StoreKind, TestApp, RIDER};

/// The first page is what followed `after` (as the query reads it); a ride
/// requested then arrives in a live page, and a subscriber of one type
/// gets only that type.
pub(super) async fn the_subscription_replays_then_follows_live(store: StoreKind) {
    let app = TestApp::spawn(store, log_on).await;
    three_rides(&app).await;
    let (all, last) = read_all(&app, 1000, Value::Null).await;
    let after = id_of(&all[2]);
    let replayed = page(&app, json!({"after": after, "first": 1000})).await;

    let mut sub = app
        .subscribe(Protocol::TransportWs, FOLLOW, json!({"after": after}))
        .await;
    let mut requested = app
        .subscribe(
            Protocol::LegacyWs,
            FOLLOW,
            json!({"after": last, "types": ["RIDE_REQUESTED"]}),
        )
        .await;
    let first = sub.next_data("events").await;
    assert_eq!(first["recovered"], true);
    assert_eq!(ids(&first), ids(&replayed), "the first page replays");
    assert_eq!(first["next"], last);
    let empty = requested.next_data("events").await;
    assert_eq!(ids(&empty), Vec::<String>::new(), "nothing after the last");
    assert_eq!(empty["next"], last);

    // Live: a new ride's events come in pages, in order, after the last.
    let ride = id_of(&app.request_driver("r4", RIDER).await);
    let mut seen: Vec<Value> = Vec::new();
    while !seen.iter().any(|e| e["type"] == "DRIVER_FOUND") {
        let live = sub.next_data("events").await;
        assert_eq!(live["recovered"], true, "{live}");
        let got = live["events"].as_array().cloned().unwrap_or_default();
        assert!(!got.is_empty(), "a live page is never empty: {live}");
        assert_eq!(live["next"], got[got.len() - 1]["id"]);
        seen.extend(got);
    }
    let kinds: Vec<_> = seen.iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds[0], "RIDE_REQUESTED", "{seen:?}");
    assert!(
        seen.iter().all(|e| e["rideId"] == ride.as_str()),
        "{seen:?}"
    );
    let (now, _) = read_all(&app, 1000, Value::Null).await;
    let followed: Vec<String> = now[all.len()..]
        .iter()
        .take(seen.len())
        .map(id_of)
        .collect();
    assert_eq!(
        seen.iter().map(id_of).collect::<Vec<_>>(),
        followed,
        "live pages are the log's events, in order"
    );

    let only = requested.next_data("events").await;
    let got = only["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(got.len(), 1, "{only}");
    assert_eq!(got[0]["type"], "RIDE_REQUESTED");
    assert_eq!(got[0]["rideId"], ride.as_str());
}

/// Without `after`, the first page is empty and says where now is; only
/// what happens after arrives.
pub(super) async fn without_after_the_subscription_starts_now(store: StoreKind) {
    let app = TestApp::spawn(store, log_on).await;
    three_rides(&app).await;
    let (all, last) = read_all(&app, 1000, Value::Null).await;
    assert!(!all.is_empty());

    let mut sub = app
        .subscribe(Protocol::TransportWs, FOLLOW, json!({}))
        .await;
    let first = sub.next_data("events").await;
    assert_eq!(ids(&first), Vec::<String>::new(), "{first}");
    assert_eq!(first["next"], last, "the first page says where now is");
    assert_eq!(first["recovered"], true);

    let ride = id_of(&app.request_driver("r5", RIDER).await);
    let live = sub.next_data("events").await;
    let got = live["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(got[0]["type"], "RIDE_REQUESTED", "{live}");
    assert_eq!(got[0]["rideId"], ride.as_str());
}

/// A subscriber far behind gets the backlog in full pages, at once and in
/// order, then the live events.
pub(super) async fn a_subscriber_behind_catches_up_page_by_page(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        log_on(c);
        roomy(c);
    })
    .await;
    app.update_location("first", north_of(RIDER, 1.0)).await;
    let first = ids(&page(&app, json!({})).await)[0].clone();
    churn(&app, 1200).await;
    let (all, last) = read_all(&app, 1000, Value::Null).await;
    assert_eq!(all.len(), 2401);

    let mut sub = app
        .subscribe(Protocol::TransportWs, FOLLOW, json!({"after": first}))
        .await;
    let mut got: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    while got.len() < all.len() - 1 {
        let next = sub.next_data("events").await;
        assert_eq!(next["recovered"], true);
        let page = ids(&next);
        sizes.push(page.len());
        got.extend(page);
    }
    assert_eq!(sizes, [1000, 1000, 400], "full pages while behind");
    let want: Vec<String> = all[1..].iter().map(id_of).collect();
    assert_eq!(got, want, "the backlog, in order");
    assert_eq!(got.last(), last.as_str().map(str::to_owned).as_ref());

    app.update_location("last", north_of(RIDER, 1.0)).await;
    let live = sub.next_data("events").await;
    assert_eq!(live["events"][0]["driverId"], "last", "{live}");
}
