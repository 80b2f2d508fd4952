//! Attacks on the event log's promises, at the store: counts a trim
//! reports, acknowledgements that go back, odd ids, what the Lua side does
//! with fields it did not write, many writers at once, and the memory and
//! Redis stores logging the same script alike.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tracking::{
    domain::{
        Coordinates, DriverId, Event, EventId, EventType, IdempotencyKey, LocationReport, RadiusKm,
        RideId, RiderId, Step,
    },
    store::{
        memory::MemoryStore, DeliveryLease, EventHub, EventRetention, Fleet, NewRide, Offers, Pick,
        SinkId, Upkeep,
    },
};

use super::harness::{
    assert_in_order, at, driver, open, open_on, open_on_with, open_ttl, Harness, LOG, PICKUP,
};
use crate::common::{RedisServer, StoreKind};

const LEASE: Duration = Duration::from_secs(30);

fn sink(name: &str) -> SinkId {
    SinkId::parse(name).expect("a sink id")
}

/// `n` events: a driver going offline and back.
async fn churn(h: &Harness, id: &str, n: usize) {
    for i in 0..n {
        if i % 2 == 0 {
            h.report(id, PICKUP.0, PICKUP.1).await;
        } else {
            h.store
                .go_offline(&driver(id), h.store.now())
                .await
                .expect("offline");
        }
    }
}

/// Past the cap, events every sink has (or with no sink at all) are
/// trimmed, not dead-lettered: the counts (and the metrics made of them)
/// say what happened, and match on every store.
pub async fn atk_trim_past_the_cap_counts_delivered_events_as_trimmed(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, "d1", 6).await;
    let young_but_capped = EventRetention {
        max_age: Duration::from_secs(3600),
        max_events: 2,
        max_dead_letters: 100,
    };
    let t = h
        .store
        .trim_events(&h.area, &[], &young_but_capped)
        .await
        .expect("trim");
    assert_eq!(
        (t.trimmed, t.dead_lettered, t.kept),
        (4, 0, 2),
        "no sink lacked them: trimmed, not dead letters: {t:?}"
    );
    assert_eq!(h.store.dead_letter_count(&h.area).await.expect("count"), 0);
    // A sink that has everything: the same. (A fresh store: the memory
    // log trims itself past twice the last cap it was given.)
    let h = open(kind).await;
    churn(&h, "d1", 6).await;
    let events = h.all().await;
    let s = sink("webhook-a");
    h.store
        .delivery_lease(&h.area, &s, "one", LEASE)
        .await
        .expect("lease");
    let last = events.last().expect("events").id.clone();
    assert!(h
        .store
        .acknowledge(&h.area, &s, "one", &last, &[])
        .await
        .expect("ack"));
    let t = h
        .store
        .trim_events(&h.area, std::slice::from_ref(&s), &young_but_capped)
        .await
        .expect("trim");
    assert_eq!(
        (t.trimmed, t.dead_lettered, t.kept),
        (4, 0, 2),
        "the sink had them all: {t:?}"
    );
    assert_eq!(h.store.dead_letter_count(&h.area).await.expect("count"), 0);
}

/// A late acknowledgement of an older event (a retry answered out of
/// order) never moves a sink's position back: trimming and the next
/// holder rely on it only going forward.
pub async fn atk_an_older_acknowledgement_never_moves_the_position_back(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, "d1", 6).await;
    let events = h.all().await;
    let s = sink("nats");
    h.store
        .delivery_lease(&h.area, &s, "one", LEASE)
        .await
        .expect("lease");
    for i in [3, 1] {
        assert!(h
            .store
            .acknowledge(&h.area, &s, "one", &events[i].id, &[])
            .await
            .expect("ack"));
    }
    let held = h
        .store
        .delivery_lease(&h.area, &s, "one", LEASE)
        .await
        .expect("lease");
    assert_eq!(
        held,
        DeliveryLease::Held {
            acked: Some(events[3].id.clone())
        },
        "the position stays at the newest acknowledged"
    );
}

/// The longest driver id of every allowed character, and the longest
/// sink id: logged, leased, acknowledged, dead-lettered and redelivered
/// as any other.
pub async fn atk_odd_ids_round_trip(kind: StoreKind) {
    let h = open(kind).await;
    let id = format!("{}.:-_", "D".repeat(60));
    assert_eq!(id.len(), 64);
    churn(&h, &id, 4).await;
    let events = h.all().await;
    assert_eq!(events.len(), 4, "{events:#?}");
    for e in &events {
        assert_eq!(
            e.driver_id.as_ref().map(DriverId::as_str),
            Some(id.as_str())
        );
    }
    let long = sink(&"s".repeat(40));
    h.store
        .delivery_lease(&h.area, &long, "holder-with:odd.chars", LEASE)
        .await
        .expect("lease");
    assert!(h
        .store
        .acknowledge(&h.area, &long, "holder-with:odd.chars", &events[0].id, &[])
        .await
        .expect("ack"));
    let capped = EventRetention {
        max_age: Duration::from_secs(3600),
        max_events: 1,
        max_dead_letters: 100,
    };
    let t = h
        .store
        .trim_events(&h.area, std::slice::from_ref(&long), &capped)
        .await
        .expect("trim");
    assert_eq!((t.trimmed, t.dead_lettered, t.kept), (1, 2, 1), "{t:?}");
    assert_eq!(
        h.store
            .redeliver(&h.area, Some(&long), 10)
            .await
            .expect("redeliver"),
        2
    );
    let queued = h
        .store
        .redeliveries(&h.area, &long, 10)
        .await
        .expect("queued");
    assert_eq!(queued, events[1..3].to_vec());
}

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

/// The memory store tells readers of every append, a driver's change too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_every_memory_append_wakes_readers() {
    let hub = Arc::new(EventHub::default());
    let store = MemoryStore::with_shared_events(Duration::from_secs(60), hub.clone()).with_log(LOG);
    let mut logged = hub.subscribe_logged();
    logged.mark_unchanged();
    store
        .report(
            &driver("d1"),
            at(PICKUP.0, PICKUP.1),
            store.now(),
            0.0,
            true,
        )
        .await
        .expect("a report");
    assert!(
        logged.has_changed().expect("the hub lives"),
        "DRIVER_AVAILABLE was appended: readers are told"
    );
}

/// An assigned driver near its pickup and a ride with one the assignment
/// made: returns the store's raw connection and the ride.
async fn assigned(redis: &RedisServer, h: &Harness) -> (redis::aio::MultiplexedConnection, RideId) {
    h.report("d1", PICKUP.0 + 0.01, PICKUP.1).await;
    let ride = h.request("r1").await;
    h.search(&ride, Duration::ZERO).await;
    let client = redis::Client::open(redis.url()).expect("a client");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    (conn, ride)
}

/// An `approach` field the service did not write (garbage, or numbers that
/// are not) never breaks the driver's reports, nor logs an approach from
/// afar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_a_garbage_approach_field_never_breaks_reports() {
    let redis = RedisServer::start().await;
    let h = open_on(&redis).await;
    let (mut conn, ride) = assigned(&redis, &h).await;
    for garbage in [
        "x,y,".to_owned() + ride.as_str(),
        "nan,nan,".to_owned() + ride.as_str(),
        "inf,-inf,".to_owned() + ride.as_str(),
        "1e999,0x10,".to_owned() + ride.as_str(),
        ",,,".to_owned(),
    ] {
        let () = redis::cmd("HSET")
            .arg("{tracking}:driver:d1")
            .arg("approach")
            .arg(&garbage)
            .query_async(&mut conn)
            .await
            .expect("HSET");
        h.store
            .report(
                &driver("d1"),
                at(PICKUP.0 + 0.01, PICKUP.1),
                h.store.now(),
                0.0,
                true,
            )
            .await
            .unwrap_or_else(|e| panic!("a report with approach {garbage:?}: {e}"));
    }
    let kinds = h.kinds().await;
    assert!(
        !kinds.contains(&EventType::DriverApproaching),
        "1.1 km away is not approaching: {kinds:?}"
    );
}

/// A ride hash whose fields are missing (evicted, written by hand) never
/// makes an entry that stops the log from being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_a_ride_hash_with_missing_fields_never_poisons_the_log() {
    let redis = RedisServer::start().await;
    let h = open_on(&redis).await;
    let (mut conn, ride) = assigned(&redis, &h).await;
    let () = redis::cmd("DEL")
        .arg(format!("{{tracking}}:ride:{ride}"))
        .query_async(&mut conn)
        .await
        .expect("DEL");
    h.report("d1", PICKUP.0 + 0.001, PICKUP.1).await;
    let page = h
        .store
        .read_events(&h.area, None, 100)
        .await
        .expect("the log reads on past an entry with a broken snapshot");
    let last = page.events.last().expect("events");
    assert_eq!(last.kind, EventType::DriverApproaching);
    assert_eq!(
        last.ride_id.as_ref(),
        Some(&ride),
        "it still names its ride"
    );
    assert_eq!(last.driver_id, Some(driver("d1")));
    // Entries whose snapshot does not decode (another writer's, an older
    // format's): read, without the snapshot, still naming their ride.
    for snapshot in [format!(r#"{{"id":"{ride}"}}"#), "{not json".to_owned()] {
        let () = redis::cmd("XADD")
            .arg("{tracking}:log")
            .arg("*")
            .arg(&[
                "v",
                "1",
                "type",
                "RIDE_CANCELLED",
                "at",
                "1733312345678",
                "ride",
            ])
            .arg(&snapshot)
            .query_async(&mut conn)
            .await
            .map(|_: String| ())
            .expect("XADD");
    }
    let events = h.all().await;
    let odd = &events[events.len() - 2..];
    assert_eq!(odd[0].ride_id.as_ref(), Some(&ride));
    assert!(odd[0].ride.is_none() && odd[1].ride.is_none());
    assert_eq!(odd[1].kind, EventType::RideCancelled);
}

/// Many tasks reporting, requesting and matching at once on one area:
/// every event once, ids unique and strictly increasing, each ride's
/// request and match logged once.
pub async fn atk_many_writers_at_once_keep_ids_unique_and_in_order(kind: StoreKind) {
    let h = Arc::new(open(kind).await);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let mut rides = Vec::new();
            for i in 0..5 {
                let d = format!("t{t}-d{i}");
                h.report(
                    &d,
                    PICKUP.0 + 0.001 * f64::from(i),
                    PICKUP.1 + 0.001 * f64::from(t),
                )
                .await;
                let ride = h.request(&format!("t{t}-r{i}")).await;
                h.search(&ride, Duration::ZERO).await;
                rides.push(ride);
            }
            rides
        }));
    }
    let mut rides = Vec::new();
    for task in tasks {
        rides.extend(task.await.expect("a task"));
    }
    let events = h.all().await;
    assert_in_order(&events);
    let mut ids: Vec<EventId> = events.iter().map(|e| e.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "ids are unique");
    for ride in &rides {
        let of = |k: EventType| {
            events
                .iter()
                .filter(|e| e.kind == k && e.ride_id.as_ref() == Some(ride))
                .count()
        };
        assert_eq!(of(EventType::RideRequested), 1, "{ride}");
        assert_eq!(
            of(EventType::DriverFound),
            1,
            "{ride} found a driver (40 drivers, 40 rides)"
        );
    }
    let available = events
        .iter()
        .filter(|e| e.kind == EventType::DriverAvailable)
        .count();
    assert_eq!(available, 40, "each driver's first report, once");
}

/// A driver crossing area borders, AVAILABLE all along, changes no
/// status: no event per crossing. (Today each area it enters logs it as
/// newly AVAILABLE: see the helper's report; the fix needs the move to
/// carry the driver's status into the target store.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known gap: a border crossing logs DRIVER_AVAILABLE in the area entered"]
async fn atk_crossing_area_borders_logs_no_change() {
    use tracking::{
        domain::{AreaId, ServiceAreas},
        store::areas::{AreaStores, AskEveryArea, OUTSIDE},
        store::EventLog,
    };
    let square = |id: &str, x: f64| {
        format!(
            r#"{{"type":"Feature","properties":{{"id":"{id}"}},"geometry":{{"type":"Polygon","coordinates":[[[{x},59.3],[{x2},59.3],[{x2},59.4],[{x},59.4],[{x},59.3]]]}}}}"#,
            x2 = x + 0.1
        )
    };
    let file = format!(
        r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
        square("a", 18.0),
        square("b", 18.1)
    );
    let areas = Arc::new(ServiceAreas::from_geojson(&file).expect("areas"));
    let hub = Arc::new(EventHub::default());
    let mut stores: Vec<Arc<dyn tracking::store::Store>> = Vec::new();
    for id in ["a", "b", OUTSIDE] {
        let area = AreaId::parse(id).expect("an area id");
        stores.push(Arc::new(
            MemoryStore::with_shared_events(Duration::from_secs(60), hub.clone())
                .with_log(LOG)
                .in_area(&area),
        ));
    }
    let store = AreaStores::new(areas, stores, Arc::new(AskEveryArea), hub).expect("areas");
    for lng in [18.05, 18.15, 18.05, 18.15] {
        store
            .report(&driver("d1"), at(59.35, lng), store.now(), 0.0, true)
            .await
            .expect("a report");
    }
    let mut kinds = Vec::new();
    for id in ["a", "b"] {
        let area = AreaId::parse(id).expect("an area id");
        let page = store.read_events(&area, None, 100).await.expect("a read");
        kinds.extend(page.events.iter().map(|e| (id, e.kind)));
    }
    assert_eq!(
        kinds,
        [("a", EventType::DriverAvailable)],
        "one status change: the first report"
    );
}

/// An instance with its log off (a rolling restart with other flags)
/// moves a driver on to another ride: an approach watched for its old
/// ride never becomes a DRIVER_APPROACHING for a ride it no longer has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_an_approach_watched_for_an_old_ride_is_never_logged() {
    let redis = RedisServer::start().await;
    let on = open_on(&redis).await;
    let off = open_on_with(&redis, tracking::store::LogSettings::default()).await;
    on.report("d1", PICKUP.0 + 0.01, PICKUP.1).await;
    let first = on.request("r1").await;
    on.search(&first, Duration::ZERO).await;
    // Without the log: the ride completes, the driver takes another.
    for step in [Step::Arrive, Step::Start, Step::Complete] {
        off.store
            .advance_ride(&first, step, off.store.now())
            .await
            .expect("a step");
    }
    let elsewhere = NewRide::new(
        RiderId::parse("r2").expect("a rider"),
        at(PICKUP.0 + 0.02, PICKUP.1),
        Duration::from_secs(60),
    );
    let second = off
        .store
        .create_ride(&elsewhere, off.store.now())
        .await
        .expect("a ride")
        .ride()
        .id
        .clone();
    off.search(&second, Duration::ZERO).await;
    // With the log again: the driver passes the first ride's pickup.
    on.report("d1", PICKUP.0, PICKUP.1).await;
    let events = on.all().await;
    assert!(
        !events
            .iter()
            .any(|e| e.kind == EventType::DriverApproaching),
        "{events:#?}"
    );
}

/// A huge backlog (50,000 events) trimmed at once: every call's work is
/// bounded, repeated calls drain it all, nothing is dead-lettered, and a
/// reader of the oldest is told it missed events.
pub async fn atk_a_huge_backlog_trims_in_bounded_steps(kind: StoreKind) {
    let h = open(kind).await;
    for batch in 0..50 {
        let reports: Vec<LocationReport> = (0..1000)
            .map(|i| LocationReport {
                driver: driver(&format!("b{batch}-{i}")),
                at: at(PICKUP.0 + f64::from(i) * 1e-5, PICKUP.1),
                taken_at: h.store.now(),
            })
            .collect();
        h.store
            .report_batch(&reports, h.store.now(), 0.0, true)
            .await
            .expect("a batch");
    }
    let first = h
        .store
        .read_events(&h.area, None, 1)
        .await
        .expect("a read")
        .events
        .remove(0);
    let everything_old = EventRetention {
        max_age: Duration::ZERO,
        max_events: 1_000_000,
        max_dead_letters: 100,
    };
    let (mut total, mut calls, mut slowest) = (0, 0, Duration::ZERO);
    loop {
        let started = std::time::Instant::now();
        let t = h
            .store
            .trim_events(&h.area, &[], &everything_old)
            .await
            .expect("trim");
        slowest = slowest.max(started.elapsed());
        assert_eq!(t.dead_lettered, 0);
        total += t.trimmed;
        calls += 1;
        if t.kept == 0 {
            break;
        }
        assert!(calls < 10, "a backlog drains in a few calls: {t:?}");
    }
    eprintln!("{kind:?}: 50,000 events trimmed in {calls} calls, the slowest {slowest:?}");
    assert_eq!(total, 50_000);
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    let page = h
        .store
        .read_events(&h.area, Some(&first.id), 10)
        .await
        .expect("a read");
    assert!(!page.recovered && page.events.is_empty());
}

/// A deliverer giving up on a batch the hard cap already moved to the dead
/// letters (a long outage) buries nothing twice: each event is redelivered
/// once.
pub async fn atk_giving_up_on_events_already_dead_lettered_buries_them_once(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, "d1", 6).await;
    let events = h.all().await;
    let s = sink("webhook-a");
    h.store
        .delivery_lease(&h.area, &s, "one", LEASE)
        .await
        .expect("lease");
    // The deliverer holds events[..3] in flight while the cap passes them.
    let capped = EventRetention {
        max_age: Duration::from_secs(3600),
        max_events: 3,
        max_dead_letters: 100,
    };
    let t = h
        .store
        .trim_events(&h.area, std::slice::from_ref(&s), &capped)
        .await
        .expect("trim");
    assert_eq!((t.dead_lettered, t.kept), (3, 3), "{t:?}");
    assert!(h
        .store
        .acknowledge(&h.area, &s, "one", &events[2].id, &events[..3])
        .await
        .expect("ack"));
    assert_eq!(
        h.store.dead_letter_count(&h.area).await.expect("count"),
        3,
        "each event dead once"
    );
    h.store
        .redeliver(&h.area, Some(&s), 100)
        .await
        .expect("redeliver");
    let queued = h
        .store
        .redeliveries(&h.area, &s, 100)
        .await
        .expect("queued");
    assert_eq!(queued, events[..3].to_vec());
}

/// Asking for no events gets none (on every store), still saying the
/// epoch and whether the reader missed any.
pub async fn atk_a_page_of_nothing_is_empty(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, "d1", 3).await;
    let page = h.store.read_events(&h.area, None, 0).await.expect("a read");
    assert!(page.events.is_empty(), "{page:?}");
    assert!(page.recovered && page.epoch.is_some());
    let s = sink("nats");
    assert!(h
        .store
        .redeliveries(&h.area, &s, 0)
        .await
        .expect("queued")
        .is_empty());
}

/// A holder whose lease ran out acknowledges nothing; the next holder
/// resumes after the last acknowledgement the first made in time.
pub async fn atk_a_lease_that_ran_out_acknowledges_nothing(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, "d1", 4).await;
    let events = h.all().await;
    let s = sink("webhook-a");
    let short = Duration::from_millis(200);
    h.store
        .delivery_lease(&h.area, &s, "one", short)
        .await
        .expect("lease");
    assert!(h
        .store
        .acknowledge(&h.area, &s, "one", &events[0].id, &[])
        .await
        .expect("ack"));
    // The lease runs out (time passing, nothing to await).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !h.store
            .acknowledge(&h.area, &s, "one", &events[2].id, &events[1..3])
            .await
            .expect("ack"),
        "a lease that ran out"
    );
    let taken = h
        .store
        .delivery_lease(&h.area, &s, "two", LEASE)
        .await
        .expect("lease");
    assert_eq!(
        taken,
        DeliveryLease::Held {
            acked: Some(events[0].id.clone())
        }
    );
    assert_eq!(h.store.dead_letter_count(&h.area).await.expect("count"), 0);
    assert_eq!(
        h.store
            .delivery_lease(&h.area, &s, "one", LEASE)
            .await
            .expect("lease"),
        DeliveryLease::Elsewhere,
        "the old holder cannot take it back"
    );
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
