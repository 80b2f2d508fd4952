//! Reading the log back: exactly what followed an id, by type, page by
//! page; and `recovered: false` when what followed is no longer all there.

use serde_json::{json, Value};

use super::setup::{churn, events, ids, log_on, page, read_all, ride_story, roomy, three_rides};
use crate::common::{eventually, id_of, north_of, StoreKind, TestApp, DRIVER};

/// Rides through their phases: the log tells each ride's story in order,
/// with the ride and the driver as they were, and `after: X` returns
/// exactly the events that followed X.
pub(super) async fn events_after_an_id_are_exactly_those_that_followed_it(store: StoreKind) {
    let app = TestApp::spawn(store, log_on).await;
    let rides = three_rides(&app).await;
    let (all, last) = read_all(&app, 1000, Value::Null).await;

    let stories: Vec<_> = rides.iter().map(|r| ride_story(&all, r)).collect();
    let completed = [
        "RIDE_REQUESTED",
        "DRIVER_FOUND",
        "DRIVER_ARRIVED",
        "TRIP_STARTED",
        "RIDE_COMPLETED",
    ];
    assert_eq!(stories[0], completed, "ride 1's events: {all:?}");
    assert_eq!(
        stories[1],
        ["RIDE_REQUESTED", "DRIVER_FOUND", "RIDE_CANCELLED"],
        "ride 2's events"
    );
    assert_eq!(stories[2], completed, "ride 3's events");
    let all_ids: Vec<String> = all.iter().map(id_of).collect();
    assert_eq!(last, json!(all_ids.last()), "next is the last id read");
    let mut unique = all_ids.clone();
    unique.dedup();
    assert_eq!(unique, all_ids, "ids are unique");
    for event in &all {
        assert_eq!(event["v"], 1, "{event}");
        assert!(event["id"].as_str().unwrap_or("").starts_with("default:"));
    }

    // The ride as it was: the DRIVER_FOUND event's ride is DRIVER_FOUND
    // though the ride is COMPLETED now; a driver event's driver likewise.
    let found = all
        .iter()
        .find(|e| e["type"] == "DRIVER_FOUND" && e["rideId"] == rides[0].as_str())
        .expect("DRIVER_FOUND");
    assert_eq!(found["ride"]["status"], "DRIVER_FOUND", "{found}");
    assert_eq!(found["driverId"], found["ride"]["driverId"]);
    assert_eq!(found["riderId"], "r1");
    let available = all
        .iter()
        .find(|e| e["type"] == "DRIVER_AVAILABLE")
        .expect("DRIVER_AVAILABLE");
    assert_eq!(available["driver"]["status"], "AVAILABLE", "{available}");
    assert!(available["ride"].is_null());

    // Exactly what followed, from anywhere in the log.
    for k in [0, all.len() / 2, all.len() - 2, all.len() - 1] {
        let after = &all_ids[k];
        let got = page(&app, json!({"after": after, "first": 1000})).await;
        assert_eq!(got["recovered"], true);
        assert_eq!(ids(&got), all_ids[k + 1..], "after event {k}");
        assert_eq!(got["next"], json!(all_ids.last()), "after event {k}");
    }
    // The same with the area named, and by default.
    let named = page(&app, json!({"area": "default", "after": all_ids[0]})).await;
    assert_eq!(ids(&named), all_ids[1..]);

    // A new event follows the last: the last id's page is exactly it.
    app.update_location("d9", north_of(DRIVER, 3.0)).await;
    let got = page(&app, json!({"after": all_ids.last()})).await;
    let new = events(&got);
    assert_eq!(new.len(), 1, "{got}");
    assert_eq!(new[0]["type"], "DRIVER_AVAILABLE");
    assert_eq!(new[0]["driverId"], "d9");
}

/// `types` keeps only those types, `first` bounds a page, and `next` moves
/// past what a filter skipped: paging with `after: next` reads the whole
/// log once.
pub(super) async fn types_and_pages_read_the_log_once(store: StoreKind) {
    let app = TestApp::spawn(store, log_on).await;
    let rides = three_rides(&app).await;
    let (all, last) = read_all(&app, 1000, Value::Null).await;
    let all_ids: Vec<String> = all.iter().map(id_of).collect();

    // Pages of two, then of one, make the same log.
    for first in [1, 2] {
        let (paged, next) = read_all(&app, first, Value::Null).await;
        assert_eq!(paged.iter().map(id_of).collect::<Vec<_>>(), all_ids);
        assert_eq!(next, last, "pages of {first}");
    }
    // The default page holds up to 100.
    let got = page(&app, json!({})).await;
    assert_eq!(ids(&got), all_ids, "the log fits in one default page");

    // Only the completions, one a page: the two completed rides, in order,
    // and a next that moved past everything after them.
    let (done, next) = read_all(&app, 1, json!(["RIDE_COMPLETED"])).await;
    let done_rides: Vec<_> = done.iter().map(|e| e["rideId"].clone()).collect();
    assert_eq!(done_rides, [json!(rides[0]), json!(rides[2])]);
    assert_eq!(next, last, "next moved past the events the filter skipped");
    let two = page(
        &app,
        json!({"types": ["RIDE_CANCELLED", "DRIVER_FOUND"], "first": 1000}),
    )
    .await;
    let kinds: Vec<_> = events(&two)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "DRIVER_FOUND",
            "DRIVER_FOUND",
            "RIDE_CANCELLED",
            "DRIVER_FOUND"
        ]
    );
    // A filter that matches nothing still moves on.
    let none = page(&app, json!({"types": ["RIDE_EXPIRED"], "first": 1000})).await;
    assert!(events(&none).is_empty());
    assert_eq!(none["next"], last);
    assert_eq!(none["recovered"], true);
}

/// Enough drivers come and go that the log (capped at 1000) drops its
/// oldest: reading after the first event says `recovered: false` and
/// starts at the oldest kept; an id of another epoch says the same.
pub(super) async fn an_id_older_than_what_is_kept_is_not_recovered(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        log_on(c);
        c.events.max_events = 1000;
        roomy(c);
    })
    .await;
    app.update_location("first", DRIVER).await;
    let first = page(&app, json!({})).await;
    let first_id = ids(&first)[0].clone();

    // Another epoch: not recovered, read from the oldest kept.
    let (head, seq) = first_id.rsplit_once(':').expect("an id");
    let (area, _) = head.split_once(':').expect("an id");
    let other_epoch = format!("{area}:zz0other:{seq}");
    let got = page(&app, json!({"after": other_epoch})).await;
    assert_eq!(got["recovered"], false, "{got}");
    assert_eq!(
        ids(&got),
        std::slice::from_ref(&first_id),
        "from the oldest kept"
    );

    // 1050 drivers come online and go offline: 2100 events.
    churn(&app, 1050).await;

    let got = eventually("the log to drop its oldest events", || async {
        let got = page(&app, json!({"after": first_id, "first": 5})).await;
        (got["recovered"] == false).then_some(got)
    })
    .await;
    let kept = events(&got);
    assert_eq!(kept.len(), 5, "{got}");
    assert_ne!(kept[0]["driverId"], "churn-0", "the oldest went");
    // Paging on from there is whole again.
    let on = page(&app, json!({"after": got["next"], "first": 5})).await;
    assert_eq!(on["recovered"], true, "{on}");
}
