//! The in-memory store, with time injected: TTLs, expiry, retention and
//! the spatial index, checked to the second.

use chrono::TimeZone;

use super::*;
use crate::{
    domain::{Limit, RiderId, Step},
    store::{Fleet, NewRide, Rides, SearchOutcome, Swept, Upkeep},
};

fn at(lat: f64, lng: f64) -> Coordinates {
    Coordinates::parse(lat, lng).unwrap()
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn id(s: &str) -> DriverId {
    DriverId::parse(s).unwrap()
}

fn radius(km: f64) -> RadiusKm {
    RadiusKm::parse(km).unwrap()
}

/// A ride by rider `r`, searching for `secs` from `now`.
async fn create(
    store: &MemoryStore,
    pickup: Coordinates,
    now: DateTime<Utc>,
    secs: u64,
) -> Arc<Ride> {
    let rider = RiderId::parse("r").unwrap();
    store
        .create_ride(&NewRide::new(rider, pickup, Duration::from_secs(secs)), now)
        .await
        .unwrap()
        .ride()
        .clone()
}

#[tokio::test]
async fn a_silent_driver_is_offline_and_pruned_from_the_index() {
    let store = MemoryStore::new(Duration::from_secs(60));
    store
        .update_location(&id("a"), at(0.0, 0.0), t(0), 300.0)
        .await
        .unwrap();
    store
        .update_location(&id("b"), at(0.0, 0.01), t(30), 300.0)
        .await
        .unwrap();
    let near =
        |now| store.nearby_drivers(at(0.0, 0.0), radius(10.0), Limit::parse(10).unwrap(), now);
    assert_eq!(
        near(t(60)).await.unwrap().len(),
        2,
        "60 s is still within the TTL"
    );
    let later = near(t(61)).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].driver.id, id("b"));
    assert_eq!(
        store.lock().fleet.available_count(),
        1,
        "the silent driver left the index"
    );
    let a = store.driver(&id("a"), t(61)).await.unwrap().unwrap();
    assert_eq!(a.status, DriverStatus::Offline);
    // Reporting again puts it back.
    store
        .update_location(&id("a"), at(0.0, 0.0), t(62), 300.0)
        .await
        .unwrap();
    assert_eq!(store.lock().fleet.available_count(), 2);
}

#[tokio::test]
async fn a_search_after_the_deadline_expires_instead_of_matching() {
    let store = MemoryStore::new(Duration::from_secs(600));
    let ride = create(&store, at(0.0, 0.0), t(0), 240).await;
    store
        .update_location(&id("d"), at(0.0, 0.001), t(240), 300.0)
        .await
        .unwrap();
    let outcome = store
        .try_match(
            &ride.id,
            radius(5.0),
            Default::default(),
            &nearest(),
            t(240),
        )
        .await
        .unwrap();
    match outcome {
        SearchOutcome::Ended(ride) => assert_eq!(ride.status, RideStatus::Expired),
        other => panic!("expected expiry, got {other:?}"),
    }
    let d = store.driver(&id("d"), t(240)).await.unwrap().unwrap();
    assert_eq!(
        d.status,
        DriverStatus::Available,
        "the driver was not taken"
    );
}

#[tokio::test]
async fn expiry_waits_for_the_deadline() {
    let store = MemoryStore::new(Duration::from_secs(600));
    let ride = create(&store, at(0.0, 0.0), t(0), 240).await;
    assert_eq!(
        store.expire_ride(&ride.id, t(239)).await.unwrap().status,
        RideStatus::Searching
    );
    let expired = store.expire_ride(&ride.id, t(240)).await.unwrap();
    assert_eq!(expired.status, RideStatus::Expired);
    assert_eq!(expired.revision, 2);
}

#[tokio::test]
async fn nearest_search_is_exact_across_the_antimeridian() {
    let store = MemoryStore::new(Duration::from_secs(600));
    store
        .update_location(&id("east"), at(0.0, 179.99), t(0), 300.0)
        .await
        .unwrap();
    store
        .update_location(&id("west"), at(0.0, -179.995), t(0), 300.0)
        .await
        .unwrap();
    let found = store
        .nearby_drivers(
            at(0.0, -179.999),
            radius(5.0),
            Limit::parse(10).unwrap(),
            t(0),
        )
        .await
        .unwrap();
    let ids: Vec<_> = found.iter().map(|n| n.driver.id.as_str()).collect();
    assert_eq!(ids, ["west", "east"]);
}

#[tokio::test]
async fn the_sweep_takes_silent_drivers_off_the_market_once_and_says_so() {
    let store = MemoryStore::new(Duration::from_secs(60));
    let mut changes = store.events().subscribe_drivers();
    store
        .update_location(&id("quiet"), at(0.0, 0.0), t(0), 300.0)
        .await
        .unwrap();
    store
        .update_location(&id("busy"), at(0.0, 0.01), t(50), 300.0)
        .await
        .unwrap();
    while changes.try_recv().is_ok() {}
    assert_eq!(
        store.sweep(t(60)).await.unwrap(),
        Swept::default(),
        "not yet"
    );
    let swept = store.sweep(t(61)).await.unwrap();
    assert_eq!(swept.went_offline, 1);
    let event = changes.try_recv().unwrap();
    assert_eq!(
        (event.id.as_str(), event.status),
        ("quiet", DriverStatus::Offline)
    );
    assert!(
        changes.try_recv().is_err(),
        "one event, for the silent one only"
    );
    assert_eq!(store.sweep(t(62)).await.unwrap().went_offline, 0, "once");
    assert_eq!(store.lock().fleet.available_count(), 1);
}

#[tokio::test]
async fn ended_rides_and_silent_drivers_are_removed_after_their_retention() {
    let store = MemoryStore::new(Duration::from_secs(60)).with_retention(Retention {
        rides: Duration::from_secs(100),
        drivers: Duration::from_secs(1000),
    });
    let ride = create(&store, at(0.0, 0.0), t(0), 240).await;
    let open = create(&store, at(0.0, 0.0), t(0), 240).await;
    store
        .advance_ride(&ride.id, Step::Cancel, t(10))
        .await
        .unwrap();
    store
        .update_location(&id("gone"), at(0.0, 0.0), t(0), 300.0)
        .await
        .unwrap();
    assert_eq!(store.counts(), (1, 2));
    let swept = store.sweep(t(109)).await.unwrap();
    assert_eq!((swept.rides_removed, swept.went_offline), (0, 1));
    assert!(store.ride(&ride.id).await.unwrap().is_some(), "kept 100 s");
    let swept = store.sweep(t(111)).await.unwrap();
    assert_eq!((swept.rides_removed, swept.went_offline), (1, 0));
    assert!(
        store.ride(&ride.id).await.unwrap().is_none(),
        "then removed"
    );
    assert!(
        store.ride(&open.id).await.unwrap().is_some(),
        "an open ride stays"
    );
    assert_eq!(store.sweep(t(999)).await.unwrap().drivers_removed, 0);
    assert_eq!(store.sweep(t(1001)).await.unwrap().drivers_removed, 1);
    assert!(store.driver(&id("gone"), t(1001)).await.unwrap().is_none());
    assert_eq!(store.counts(), (0, 1));
}

#[tokio::test]
async fn an_area_snapshot_holds_the_active_rides_in_it_only() {
    let store = MemoryStore::new(Duration::from_secs(60));
    let near = create(&store, at(0.0, 0.0), t(0), 240).await;
    let ended = create(&store, at(0.0, 0.001), t(0), 240).await;
    store
        .advance_ride(&ended.id, Step::Cancel, t(1))
        .await
        .unwrap();
    create(&store, at(1.0, 1.0), t(0), 240).await;
    let area = store
        .area_snapshot(at(0.0, 0.0), radius(5.0), t(2))
        .await
        .unwrap();
    let ids: Vec<&RideId> = area.rides.iter().map(|r| &r.id).collect();
    assert_eq!(ids, [&near.id]);
}

/// Today's rule: the nearest by straight line.
fn nearest() -> crate::store::Pick {
    crate::store::Pick::Nearest(Default::default())
}

fn offers(secs: u64, ignore_limit: u32) -> crate::store::Offers {
    crate::store::Offers {
        timeout: Duration::from_secs(secs),
        ignore_limit,
    }
}

/// An answer at the offer's deadline or after it is refused and changes
/// nothing; the next search times the offer out and offers the next driver,
/// never the one who let it time out.
#[tokio::test]
async fn an_answer_on_the_deadline_is_refused_and_the_next_search_moves_on() {
    let store = MemoryStore::new(Duration::from_secs(600));
    for (driver, lat) in [("near", 0.001), ("far", 0.002)] {
        store
            .update_location(&id(driver), at(lat, 0.0), t(0), 0.0)
            .await
            .unwrap();
    }
    let ride = create(&store, at(0.0, 0.0), t(0), 240).await;
    let offered = match store
        .try_match(&ride.id, radius(5.0), offers(15, 3), &nearest(), t(1))
        .await
        .unwrap()
    {
        SearchOutcome::Offered(ride) => ride,
        other => panic!("expected an offer, got {other:?}"),
    };
    assert_eq!(offered.offer.as_ref().unwrap().driver, id("near"));
    assert_eq!(offered.offer.as_ref().unwrap().expires_at, t(16));
    // Just before the deadline the search waits; on it, answers are late.
    assert!(matches!(
        store
            .try_match(&ride.id, radius(5.0), offers(15, 3), &nearest(), t(15))
            .await
            .unwrap(),
        SearchOutcome::Offered(_)
    ));
    let late = store
        .answer_offer(&ride.id, Some(&id("near")), true, t(16))
        .await;
    assert!(matches!(late, Err(Error::Conflict(_))), "{late:?}");
    assert_eq!(
        store.ride(&ride.id).await.unwrap().unwrap(),
        offered,
        "nothing changed"
    );
    // Another driver's answer is no answer.
    let other = store
        .answer_offer(&ride.id, Some(&id("far")), true, t(2))
        .await;
    assert!(matches!(other, Err(Error::Conflict(_))), "{other:?}");

    let next = match store
        .try_match(&ride.id, radius(5.0), offers(15, 3), &nearest(), t(16))
        .await
        .unwrap()
    {
        SearchOutcome::Offered(ride) => ride,
        other => panic!("expected the next offer, got {other:?}"),
    };
    assert_eq!(next.offer.as_ref().unwrap().driver, id("far"));
    let end = next.offer_end.as_ref().unwrap();
    assert_eq!(
        (end.driver.as_str(), end.reason),
        ("near", OfferEndReason::TimedOut)
    );
    let near = store.driver(&id("near"), t(16)).await.unwrap().unwrap();
    assert_eq!(near.status, DriverStatus::Available);
    // `far` declines: nobody is left but the one who timed out.
    store
        .answer_offer(&ride.id, None, false, t(17))
        .await
        .unwrap();
    assert!(matches!(
        store
            .try_match(&ride.id, radius(5.0), offers(15, 3), &nearest(), t(17))
            .await
            .unwrap(),
        SearchOutcome::NoDriver(_)
    ));
    // The ride's expiry withdraws nothing (no offer); its end forgets who declined.
    let expired = store.expire_ride(&ride.id, t(240)).await.unwrap();
    assert_eq!(expired.status, RideStatus::Expired);
    assert!(store.lock().rides.declined(&ride.id).is_none());
}
