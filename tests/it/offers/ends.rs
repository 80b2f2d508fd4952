//! An offer ended without an answer: withdrawn by a cancel or the ride's
//! expiry, declined by going offline, ignored until the driver is taken
//! offline; and every outcome counted in `/metrics`.

use std::time::Duration;

use crate::common::{
    dispatch::{expect_feed, feed, must, offering, on_ride, read},
    error_code_of, id_of, metric, north_of, StoreKind, TestApp, DRIVER, RIDER,
};

pub(super) async fn a_cancel_or_expiry_withdraws_the_offer(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.offer_timeout = Duration::from_secs(30);
        c.request_timeout = Duration::from_secs(30);
    })
    .await;
    app.update_location("d1", DRIVER).await;
    let (mut d1, _) = feed(&app, "d1").await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    expect_feed(&mut d1, "OFFER").await;
    let cancelled = app.cancel(&ride).await;
    assert_eq!(
        cancelled["data"]["cancelRequest"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let ended = expect_feed(&mut d1, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "WITHDRAWN");
    assert_eq!(ended["driver"]["status"], "AVAILABLE");
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");
    assert_eq!(read(&app, &ride).await["lastOfferEnd"], "WITHDRAWN");

    // Expiry: the ride's deadline comes before the offer's.
    let hasty = TestApp::spawn(store, |c| {
        c.offer_timeout = Duration::from_secs(30);
        c.request_timeout = Duration::from_millis(800);
    })
    .await;
    hasty.update_location("d2", DRIVER).await;
    let (mut d2, _) = feed(&hasty, "d2").await;
    let ride = id_of(&hasty.request_driver("bob", RIDER).await);
    expect_feed(&mut d2, "OFFER").await;
    let ended = expect_feed(&mut d2, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "WITHDRAWN");
    hasty.ride_reaches(&ride, "EXPIRED").await;
    assert_eq!(hasty.driver("d2").await["status"], "AVAILABLE");
    assert_eq!(
        error_code_of(&on_ride(&hasty, "acceptOffer", &ride).await),
        "CONFLICT"
    );
}

pub(super) async fn going_offline_declines_the_offer_held(store: StoreKind) {
    let app = offering(store, Duration::from_secs(30)).await;
    app.update_location("leaving", north_of(RIDER, 0.5)).await;
    app.update_location("staying", north_of(RIDER, 1.0)).await;
    let (mut leaving, _) = feed(&app, "leaving").await;
    let (mut staying, _) = feed(&app, "staying").await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    expect_feed(&mut leaving, "OFFER").await;
    let gone = app.go_offline("leaving").await;
    assert_eq!(gone["data"]["goOffline"]["status"], "OFFLINE", "{gone}");
    let ended = expect_feed(&mut leaving, "OFFER_ENDED").await;
    assert_eq!(ended["reason"], "DECLINED");
    let state = expect_feed(&mut leaving, "STATE").await;
    assert_eq!(state["driver"]["status"], "OFFLINE");
    let offer = expect_feed(&mut staying, "OFFER").await;
    assert_eq!(offer["offer"]["ride"]["id"], ride.as_str());
}

pub(super) async fn a_driver_who_ignores_offers_goes_offline(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.offer_timeout = Duration::from_millis(300);
        c.offer_ignore_limit = 2;
    })
    .await;
    app.update_location("absent", DRIVER).await;
    let (mut absent, _) = feed(&app, "absent").await;
    for rider in ["ana", "bob"] {
        app.request_driver(rider, RIDER).await;
        expect_feed(&mut absent, "OFFER").await;
        let ended = expect_feed(&mut absent, "OFFER_ENDED").await;
        assert_eq!(ended["reason"], "TIMED_OUT");
    }
    let state = expect_feed(&mut absent, "STATE").await;
    assert_eq!(state["driver"]["status"], "OFFLINE", "{state}");
    assert_eq!(app.driver("absent").await["status"], "OFFLINE");
    assert!(app.nearby(RIDER, 5.0, 10).await.is_empty());
    // Reporting again brings it back, with a clean slate.
    app.update_location("absent", DRIVER).await;
    let back = expect_feed(&mut absent, "STATE").await;
    assert_eq!(back["driver"]["status"], "AVAILABLE");
}

/// Each outcome is counted, and answers are timed. (The recorder is shared
/// by the whole test process: counts only ever grow, so this checks that
/// each grew by at least what happened here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_outcomes_are_counted_and_answers_timed() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.offer_timeout = Duration::from_millis(300);
    })
    .await;
    let outcome = |o: &str| format!("tracking_offers_total{{outcome=\"{o}\"}}");
    let before = app.metrics().await;
    app.update_location("d1", DRIVER).await;
    let (mut d1, _) = feed(&app, "d1").await;
    let accepted = id_of(&app.request_driver("a", RIDER).await);
    expect_feed(&mut d1, "OFFER").await;
    must(&app, "acceptOffer", &accepted).await;
    expect_feed(&mut d1, "OFFER_ENDED").await;
    expect_feed(&mut d1, "RIDE").await;
    must(&app, "completeRide", &accepted).await;
    expect_feed(&mut d1, "RIDE").await;
    for (rider, then) in [
        ("b", Some("declineOffer")),
        ("c", Some("cancelRequest")),
        ("d", None),
    ] {
        let ride = id_of(&app.request_driver(rider, RIDER).await);
        expect_feed(&mut d1, "OFFER").await;
        if let Some(operation) = then {
            must(&app, operation, &ride).await;
        }
        expect_feed(&mut d1, "OFFER_ENDED").await;
    }
    let after = app.metrics().await;
    for o in ["accepted", "declined", "withdrawn", "timed_out"] {
        assert!(
            metric(&after, &outcome(o)).unwrap_or(0.0)
                >= metric(&before, &outcome(o)).unwrap_or(0.0) + 1.0,
            "{o} counted:\n{after}"
        );
    }
    let answers = "tracking_offer_answer_seconds_count";
    assert!(
        metric(&after, answers).unwrap_or(0.0) >= metric(&before, answers).unwrap_or(0.0) + 2.0,
        "{after}"
    );
}
