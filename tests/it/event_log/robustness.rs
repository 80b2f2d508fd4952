//! What the Lua side does with what it did not write (garbage in a
//! driver's `approach`, a ride hash with fields missing, entries of
//! another writer), a log toggled across instances, border crossings, and
//! readers woken on every memory append.

use std::{sync::Arc, time::Duration};

use tracking::{
    domain::{EventType, RideId, RiderId, Step},
    store::{memory::MemoryStore, EventHub, Fleet, NewRide, Upkeep},
};

use super::harness::{at, driver, open_on, open_on_with, Harness, LOG, PICKUP};
use crate::common::RedisServer;

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

/// A driver crossing area borders, AVAILABLE all along: each area's log
/// is its market, so the area it leaves says DRIVER_OFFLINE and the area
/// it enters DRIVER_AVAILABLE (never an event per report within one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_crossing_borders_leaves_one_areas_market_for_the_others() {
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
    use EventType::{DriverAvailable as On, DriverOffline as Off};
    assert_eq!(
        kinds,
        [
            ("a", On),
            ("a", Off),
            ("a", On),
            ("a", Off),
            ("b", On),
            ("b", Off),
            ("b", On)
        ],
        "each area: the driver came, left, came"
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

/// With the log off, nothing is written: no entry, no approach watched
/// (the report path stays as it was), on memory and on Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_with_the_log_off_nothing_is_written() {
    let redis = RedisServer::start().await;
    let off = open_on_with(&redis, tracking::store::LogSettings::default()).await;
    let (mut conn, _) = assigned(&redis, &off).await;
    off.report("d1", PICKUP.0, PICKUP.1).await;
    let len: usize = redis::cmd("XLEN")
        .arg("{tracking}:log")
        .query_async(&mut conn)
        .await
        .expect("XLEN");
    assert_eq!(len, 0, "no stream entry");
    let approach: Option<String> = redis::cmd("HGET")
        .arg("{tracking}:driver:d1")
        .arg("approach")
        .query_async(&mut conn)
        .await
        .expect("HGET");
    assert_eq!(approach, None, "no approach watched");
    let memory = MemoryStore::new(Duration::from_secs(60));
    memory
        .report(
            &driver("d1"),
            at(PICKUP.0, PICKUP.1),
            memory.now(),
            0.0,
            true,
        )
        .await
        .expect("a report");
    let area = tracking::domain::AreaId::parse("default").expect("an area");
    let page = tracking::store::EventLog::read_events(&memory, &area, None, 10)
        .await
        .expect("a read");
    assert!(page.events.is_empty());
}
