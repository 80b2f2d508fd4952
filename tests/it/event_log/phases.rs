//! What each change logs: one event per status change, in the order the
//! changes happened, with the ride or driver as it was right after.

use std::time::Duration;

use tracking::domain::{DriverStatus, EventType::*, OfferEndReason, RideStatus, Step};

use super::harness::{assert_in_order, driver, open, PICKUP};
use crate::common::StoreKind;

pub async fn a_ride_logs_each_phase_once_in_order(kind: StoreKind) {
    let h = open(kind).await;
    h.report("d1", PICKUP.0 + 0.01, PICKUP.1).await;
    let ride = h.request("r1").await;
    h.search(&ride, Duration::ZERO).await;
    // Reports on the way: only the first within 300 m is an event.
    h.report("d1", PICKUP.0 + 0.005, PICKUP.1).await;
    h.report("d1", PICKUP.0 + 0.002, PICKUP.1).await;
    h.report("d1", PICKUP.0 + 0.001, PICKUP.1).await;
    let now = h.store.now();
    for step in [Step::Arrive, Step::Start, Step::Complete] {
        h.store
            .advance_ride(&ride, step, now)
            .await
            .expect("a step");
    }
    let events = h.all().await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            DriverAvailable,
            RideRequested,
            DriverFound,
            DriverApproaching,
            DriverArrived,
            TripStarted,
            RideCompleted,
            DriverAvailable
        ],
        "{events:#?}"
    );
    assert_in_order(&events);
    let found = &events[2];
    assert_eq!(found.ride_id.as_ref(), Some(&ride));
    assert_eq!(found.driver_id, Some(driver("d1")));
    assert_eq!(found.rider_id.as_ref().map(|r| r.as_str()), Some("r1"));
    let snapshot = found.ride.as_ref().expect("the ride, as it was");
    assert_eq!(snapshot.status, RideStatus::DriverFound);
    let approaching = &events[3];
    assert_eq!(approaching.ride_id.as_ref(), Some(&ride));
    let d = approaching.driver.as_ref().expect("the driver, as it was");
    assert!(
        (d.location.expect("a position").lat() - (PICKUP.0 + 0.002)).abs() < 1e-9,
        "the report that came within 300 m: {d:?}"
    );
    assert_eq!(
        events[6].ride.as_ref().map(|r| r.status),
        Some(RideStatus::Completed)
    );
    let freed = events[7].driver.as_ref().expect("the driver freed");
    assert_eq!(freed.status, DriverStatus::Available);
    // Every id names the area and one epoch.
    for e in &events {
        assert_eq!(e.id.area, h.area);
        assert_eq!(e.id.epoch, events[0].id.epoch);
        assert_eq!(
            tracking::domain::EventId::parse(&e.id.to_string()).as_ref(),
            Some(&e.id)
        );
    }
}

pub async fn offers_log_their_ends_and_an_accept_is_two_events(kind: StoreKind) {
    let h = open(kind).await;
    h.report("d1", PICKUP.0 + 0.001, PICKUP.1).await;
    h.report("d2", PICKUP.0 + 0.003, PICKUP.1).await;
    let ride = h.request("r1").await;
    h.search(&ride, Duration::from_secs(30)).await;
    let now = h.store.now();
    h.store
        .answer_offer(&ride, Some(&driver("d1")), false, now)
        .await
        .expect("a decline");
    h.search(&ride, Duration::from_secs(30)).await;
    h.store
        .answer_offer(&ride, Some(&driver("d2")), true, now)
        .await
        .expect("an accept");
    h.store
        .advance_ride(&ride, Step::Cancel, now)
        .await
        .expect("a cancel");
    let events = h.all().await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            DriverAvailable,
            DriverAvailable,
            RideRequested,
            RideOffered,
            DriverAvailable,
            OfferEnded,
            RideOffered,
            OfferEnded,
            DriverFound,
            RideCancelled,
            DriverAvailable
        ],
        "{events:#?}"
    );
    assert_in_order(&events);
    assert_eq!(events[3].driver_id, Some(driver("d1")), "offered to d1");
    assert_eq!(events[5].reason, Some(OfferEndReason::Declined));
    assert_eq!(events[5].driver_id, Some(driver("d1")));
    assert_eq!(events[7].reason, Some(OfferEndReason::Accepted));
    assert_eq!(events[8].driver_id, Some(driver("d2")));
    assert_eq!(
        events[9].ride.as_ref().map(|r| r.status),
        Some(RideStatus::Cancelled)
    );
}

pub async fn drivers_log_status_changes_never_positions(kind: StoreKind) {
    let h = open(kind).await;
    for i in 0..20 {
        h.report("d1", PICKUP.0 + f64::from(i) * 1e-4, PICKUP.1)
            .await;
    }
    let now = h.store.now();
    h.store
        .go_offline(&driver("d1"), now)
        .await
        .expect("offline");
    h.store
        .go_offline(&driver("d1"), now)
        .await
        .expect("offline again");
    h.report("d1", PICKUP.0, PICKUP.1).await;
    let kinds = h.kinds().await;
    assert_eq!(
        kinds,
        [DriverAvailable, DriverOffline, DriverAvailable],
        "twenty reports are one status change; going offline twice is one"
    );
}
