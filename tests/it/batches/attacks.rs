//! Attacks on batched matching where it meets the rest: offers left
//! unanswered inside a window's offer, rides across instances (the batch
//! holder not the ride's instance), a subscriber on the ride's instance.

use std::time::Duration;

use serde_json::json;

use crate::common::{
    eventually, id_of, instances::two_instances, north_of, Protocol, StoreKind, TestApp, RIDER,
};

fn at(km: f64) -> (f64, f64) {
    north_of(RIDER, km)
}

/// Waits (bounded) until the ride's offer is to `want`.
async fn offered_to(app: &TestApp, id: &str, want: &str) {
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
