//! Attacks on dead letters sent back (`redeliverEvents`): what a lane's
//! acknowledgement of a redelivered batch costs the store.

use std::time::{Duration, Instant};

use chrono::Utc;
use tracking::{
    domain::{AreaId, Coordinates, DriverId, DEFAULT_AREA},
    store::{memory::MemoryStore, DeliveryLease, EventLog, Fleet, LogSettings, SinkId},
};

/// Dead letters in the memory store's queue.
const DEAD: usize = 100_000;
/// The largest batch a lane acknowledges at once (`--webhook-batch`'s max).
const BATCH: usize = 1000;

/// A full redelivery queue (the default `--max-dead-letters`), and a lane
/// acknowledging its first batch (the runner calls `redelivered` with the
/// batch's ids, under the memory store's one lock). That must cost about
/// the queue's length, not the queue times the batch (10⁸ id comparisons,
/// seconds during which the whole service, every ride and driver, waits;
/// and it happens again for each of the 100 batches).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_acknowledging_a_redelivered_batch_does_not_stall_the_store() {
    let store = MemoryStore::new(Duration::from_secs(3600)).with_log(LogSettings {
        enabled: true,
        ..LogSettings::default()
    });
    let area = AreaId::parse(DEFAULT_AREA).unwrap();
    let sink = SinkId::parse("webhook-attack").unwrap();
    let at = Coordinates::parse(0.0, 0.0).unwrap();
    for i in 0..DEAD / 2 {
        let id = DriverId::parse(&format!("d{i}")).unwrap();
        store
            .update_location(&id, at, Utc::now(), 0.0)
            .await
            .unwrap();
        store.go_offline(&id, Utc::now()).await.unwrap();
    }
    let holder = "attacker";
    let lease = store
        .delivery_lease(&area, &sink, holder, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(lease, DeliveryLease::Held { .. }));
    // Every event given up on: all dead letters of the sink.
    let mut cursor = None;
    loop {
        let page = store
            .read_events(&area, cursor.as_ref(), BATCH)
            .await
            .unwrap();
        let Some(last) = page.events.last().map(|e| e.id.clone()) else {
            break;
        };
        assert!(store
            .acknowledge(&area, &sink, holder, &last, &page.events)
            .await
            .unwrap());
        cursor = Some(last);
    }
    assert_eq!(store.dead_letter_count(&area).await.unwrap(), DEAD);
    assert_eq!(
        store.redeliver(&area, Some(&sink), DEAD).await.unwrap(),
        DEAD
    );

    let batch = store.redeliveries(&area, &sink, BATCH).await.unwrap();
    assert_eq!(batch.len(), BATCH);
    let ids: Vec<_> = batch.iter().map(|e| e.id.clone()).collect();
    let started = Instant::now();
    store.redelivered(&area, &sink, &ids).await.unwrap();
    let took = started.elapsed();
    let next = store.redeliveries(&area, &sink, 1).await.unwrap();
    assert_ne!(next[0].id, ids[0], "the batch left the queue");
    assert!(
        took < Duration::from_millis(300),
        "acknowledging one redelivered batch held the store's lock {took:?}"
    );
}
