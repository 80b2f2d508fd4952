//! The memory and Redis stores, given the same operations, log the same
//! sequence: a script of every kind of change (and of refusals that must
//! change nothing), batch windows, silent drivers.

use std::{collections::HashMap, time::Duration};

use tracking::{
    domain::{
        Coordinates, DriverId, Event, EventType, IdempotencyKey, LocationReport, RadiusKm, RideId,
        RiderId, Step,
    },
    store::{NewRide, Offers, Pick},
};

use super::harness::{assert_in_order, at, driver, open, open_ttl, Harness, PICKUP};
use crate::common::StoreKind;

/// The same operations on the memory store and on Redis log the same
/// sequence: types, rides (by order of appearance), drivers, reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_memory_and_redis_log_the_same_script_alike() {
    let memory = open(StoreKind::Memory).await;
    let redis = open(StoreKind::Redis).await;
    let a = script(&memory).await;
    let b = script(&redis).await;
    let (ma, mb) = (memory.all().await, redis.all().await);
    assert_in_order(&ma);
    assert_in_order(&mb);
    assert_eq!(a, b, "the script's outcomes");
    let (sa, sb) = (summary(&ma), summary(&mb));
    for (i, (x, y)) in sa.iter().zip(&sb).enumerate() {
        assert_eq!(x, y, "event {i} differs:\nmemory {sa:#?}\nredis {sb:#?}");
    }
    assert_eq!(sa.len(), sb.len(), "memory {sa:#?}\nredis {sb:#?}");
    // And what it logs is what the script should: one event per change.
    use EventType::*;
    let kinds: Vec<EventType> = ma.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            DriverAvailable,
            DriverAvailable,
            DriverAvailable, // d1 d2 d3
            RideRequested,
            RideOffered,
            DriverAvailable,
            OfferEnded, // d2 declines
            RideOffered,
            OfferEnded,
            DriverFound, // d1 accepts
            DriverApproaching,
            DriverArrived,
            RideCancelled,
            DriverAvailable,
            RideRequested,
            RideOffered,
            DriverAvailable,
            OfferEnded, // times out
            RideOffered,
            DriverAvailable,
            OfferEnded,
            RideCancelled, // withdrawn
            DriverOffline,
            DriverAvailable, // d3, once each
            DriverAvailable,
            DriverAvailable,
            RideRequested,
            RideRequested, // batches
            DriverFound,
            RideOffered,
            RideCancelled,
            DriverAvailable,
            DriverAvailable,
            OfferEnded,
            RideCancelled,
        ],
        "{sa:#?}"
    );
    assert_eq!(
        a,
        [false, false, false, true, false, true, true, false, false, false, false, false, false, false, true],
        "refused: the implausible jump, the answer not held, the answer to no offer, a start after cancelling"
    );
}

/// Each event as (type, ride by order of appearance, driver, reason).
fn summary(events: &[Event]) -> Vec<String> {
    let mut rides: HashMap<RideId, usize> = HashMap::new();
    events
        .iter()
        .map(|e| {
            let ride = e.ride_id.as_ref().map(|r| {
                let n = rides.len();
                *rides.entry(r.clone()).or_insert(n)
            });
            format!(
                "{} ride={ride:?} driver={:?} reason={:?}",
                e.kind.as_str(),
                e.driver_id.as_ref().map(DriverId::as_str),
                e.reason
            )
        })
        .collect()
}

fn near(metres_north: f64) -> Coordinates {
    at(PICKUP.0 + metres_north / 111_000.0, PICKUP.1)
}

/// Runs the script; returns whether each refusable step was refused.
async fn script(h: &Harness) -> Vec<bool> {
    let s = &h.store;
    let mut refused = Vec::new();
    let report = async |id: &str, p: Coordinates, speed: f64| {
        s.report(&driver(id), p, s.now(), speed, true)
            .await
            .is_err()
    };
    refused.push(report("d1", near(1100.0), 0.0).await);
    refused.push(report("d2", near(330.0), 0.0).await);
    refused.push(report("d3", near(20_000.0), 0.0).await);
    // An implausible jump changes nothing.
    refused.push(report("d3", near(-200_000.0), 100.0).await);
    // A stale report changes nothing.
    let stale = LocationReport {
        driver: driver("d2"),
        at: near(900.0),
        taken_at: s.now() - chrono::Duration::seconds(30),
    };
    s.report_batch(&[stale], s.now(), 0.0, true)
        .await
        .expect("a batch");
    // A request and its retry: one ride.
    let mut new = NewRide::new(
        RiderId::parse("r1").expect("a rider"),
        near(0.0),
        Duration::from_secs(60),
    );
    new.idempotency_key = Some(IdempotencyKey::parse("k1").expect("a key"));
    let ride = s
        .create_ride(&new, s.now())
        .await
        .expect("a ride")
        .ride()
        .id
        .clone();
    let again = s.create_ride(&new, s.now()).await.expect("a retry");
    refused.push(again.ride().id != ride);
    let offers = Offers {
        timeout: Duration::from_secs(30),
        ignore_limit: 0,
    };
    let radius = RadiusKm::parse(5.0).expect("a radius");
    let pick = Pick::Nearest(Default::default());
    s.try_match(&ride, radius, offers, &pick, s.now())
        .await
        .expect("offered to d2");
    // Searching again while the offer waits: nothing.
    s.try_match(&ride, radius, offers, &pick, s.now())
        .await
        .expect("still offered");
    // An answer by a driver not holding the offer: refused, nothing.
    refused.push(
        s.answer_offer(&ride, Some(&driver("d1")), true, s.now())
            .await
            .is_err(),
    );
    s.answer_offer(&ride, Some(&driver("d2")), false, s.now())
        .await
        .expect("d2 declines");
    refused.push(s.answer_offer(&ride, None, true, s.now()).await.is_err());
    s.try_match(&ride, radius, offers, &pick, s.now())
        .await
        .expect("offered to d1");
    s.answer_offer(&ride, None, true, s.now())
        .await
        .expect("d1 accepts");
    // Reports on the way: one approach only, and none after arriving.
    for m in [900.0, 500.0, 250.0, 100.0, 400.0, 50.0] {
        refused.push(report("d1", near(m), 0.0).await);
    }
    s.advance_ride(&ride, Step::Arrive, s.now())
        .await
        .expect("arrived");
    refused.push(report("d1", near(10.0), 0.0).await);
    s.advance_ride(&ride, Step::Cancel, s.now())
        .await
        .expect("cancelled");
    s.advance_ride(&ride, Step::Cancel, s.now())
        .await
        .expect("cancelling a cancelled ride changes nothing");
    refused.push(s.advance_ride(&ride, Step::Start, s.now()).await.is_err());
    // A ride not due: expiring it does nothing.
    let r2 = s
        .create_ride(
            &NewRide::new(
                RiderId::parse("r2").expect("a rider"),
                near(0.0),
                Duration::from_secs(60),
            ),
            s.now(),
        )
        .await
        .expect("a ride")
        .ride()
        .id
        .clone();
    s.expire_ride(&r2, s.now()).await.expect("not due");
    // An offer that times out.
    let short = Offers {
        timeout: Duration::from_millis(30),
        ignore_limit: 0,
    };
    s.try_match(&r2, radius, short, &pick, s.now())
        .await
        .expect("offered");
    tokio::time::sleep(Duration::from_millis(80)).await;
    s.try_match(&r2, radius, short, &pick, s.now())
        .await
        .expect("timed out, offered to the next");
    s.advance_ride(&r2, Step::Cancel, s.now())
        .await
        .expect("cancelled");
    // Offline twice is one change; reports in a batch one availability.
    s.go_offline(&driver("d3"), s.now()).await.expect("offline");
    s.go_offline(&driver("d3"), s.now()).await.expect("again");
    let batch: Vec<_> = [20_000.0, 20_010.0, 20_020.0]
        .into_iter()
        .map(|m| LocationReport {
            driver: driver("d3"),
            at: near(m),
            taken_at: s.now(),
        })
        .collect();
    s.report_batch(&batch, s.now(), 0.0, true)
        .await
        .expect("a batch");
    batches(h).await;
    refused
}

/// Batch windows: a claim whose driver another pair took, a claim of a
/// ride matched already, or holding an offer, logs nothing.
async fn batches(h: &Harness) {
    use tracking::{
        domain::{Eta, EtaSource},
        store::{BatchPair, WindowLimits},
    };
    let s = &h.store;
    for (id, m) in [("b1", 200.0), ("b2", 600.0)] {
        s.report(&driver(id), near(m), s.now(), 0.0, true)
            .await
            .expect("a report");
    }
    let mut rides = Vec::new();
    for rider in ["q1", "q2"] {
        let new = NewRide::new(
            RiderId::parse(rider).expect("a rider"),
            near(0.0),
            Duration::from_secs(60),
        );
        rides.push(
            s.create_ride(&new, s.now())
                .await
                .expect("a ride")
                .ride()
                .id
                .clone(),
        );
    }
    let radius = RadiusKm::parse(5.0).expect("a radius");
    let limits = WindowLimits {
        max_rides: 10,
        max_drivers: 10,
        radius,
        per_ride: 4,
    };
    s.batch_window(&h.area, limits, s.now())
        .await
        .expect("a window");
    let pair = |r: usize, d: &str| BatchPair {
        ride: rides[r].clone(),
        driver: driver(d),
        eta: Eta {
            seconds: 60,
            road_km: 1.0,
            source: EtaSource::StraightLine,
        },
    };
    let assign = Offers {
        timeout: Duration::ZERO,
        ignore_limit: 0,
    };
    let offer = Offers {
        timeout: Duration::from_secs(30),
        ignore_limit: 0,
    };
    let claims = [
        (vec![pair(0, "b1"), pair(1, "b1")], assign),
        (vec![pair(0, "b2")], assign),
        (vec![pair(1, "b2")], offer),
        (vec![pair(1, "b2")], offer),
    ];
    for (pairs, offers) in claims {
        s.claim_batch(&h.area, &pairs, &[], 2, radius, offers, s.now())
            .await
            .expect("a claim");
    }
    for ride in &rides {
        s.advance_ride(ride, Step::Cancel, s.now())
            .await
            .expect("cancelled");
    }
}

/// Silent drivers: each goes OFFLINE once, whether a sweep or a search
/// finds it; one holding an offer declines it first; sweeping again, or a
/// driver silent but still before the sweep, logs nothing more. The same
/// on memory and Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_silent_drivers_go_offline_once_alike() {
    let ttl = Duration::from_millis(400);
    let mut logs = Vec::new();
    for kind in [StoreKind::Memory, StoreKind::Redis] {
        let h = open_ttl(kind, ttl).await;
        h.report("swept", PICKUP.0 + 0.001, PICKUP.1).await;
        h.report("offered", PICKUP.0 + 0.002, PICKUP.1).await;
        h.report("searched", PICKUP.0 + 0.003, PICKUP.1 + 0.1).await;
        let ride = h.request("r1").await;
        h.search(&ride, Duration::from_secs(30)).await;
        // Silence (time passing: nothing to await).
        tokio::time::sleep(ttl * 2).await;
        let s = &h.store;
        // A search near the third finds it silent first; then the sweeps.
        let far = NewRide::new(
            RiderId::parse("r2").expect("a rider"),
            at(PICKUP.0 + 0.003, PICKUP.1 + 0.1),
            Duration::from_secs(60),
        );
        let r2 = s
            .create_ride(&far, s.now())
            .await
            .expect("a ride")
            .ride()
            .id
            .clone();
        h.search(&r2, Duration::from_secs(30)).await;
        s.sweep(s.now()).await.expect("a sweep");
        s.sweep(s.now()).await.expect("again");
        logs.push(summary(&h.all().await));
    }
    // One sweep takes independent drivers in an order of its own (memory:
    // by last report; Redis: by last-seen bucket, then id): each driver's
    // and each ride's own events compare, and the whole as a set.
    let of = |log: &[String], who: &str| -> Vec<String> {
        log.iter().filter(|e| e.contains(who)).cloned().collect()
    };
    for who in [
        "\"swept\"",
        "\"offered\"",
        "\"searched\"",
        "Some(0)",
        "Some(1)",
    ] {
        assert_eq!(
            of(&logs[0], who),
            of(&logs[1], who),
            "memory, then Redis: {who}"
        );
    }
    let (mut a, mut b) = (logs[0].clone(), logs[1].clone());
    a.sort();
    b.sort();
    assert_eq!(a, b, "memory {:#?}\nredis {:#?}", logs[0], logs[1]);
    let offline = logs[0]
        .iter()
        .filter(|e| e.starts_with("DRIVER_OFFLINE"))
        .count();
    assert_eq!(offline, 3, "{:#?}", logs[0]);
}
