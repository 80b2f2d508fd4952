//! Attacks on the event log's delivery side, at the store: the counts a
//! trim reports, acknowledgements that go back or come late, odd ids, a
//! huge backlog, pages of nothing, many writers at once.

use std::{sync::Arc, time::Duration};

use tracking::{
    domain::{DriverId, EventId, EventType, LocationReport},
    store::{DeliveryLease, EventRetention, SinkId},
};

use super::harness::{assert_in_order, at, driver, open, Harness, PICKUP};
use crate::common::StoreKind;

pub const LEASE: Duration = Duration::from_secs(30);

pub fn sink(name: &str) -> SinkId {
    SinkId::parse(name).expect("a sink id")
}

/// `n` events: a driver going offline and back.
pub async fn churn(h: &Harness, id: &str, n: usize) {
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

/// The memory log trims itself when appends outrun the sweep (past twice
/// the cap): what that trim dead-lettered is counted in the next trim's
/// result all the same (the metrics and the warning are made of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_a_memory_log_trimming_itself_still_counts_what_it_dead_lettered() {
    let h = open(StoreKind::Memory).await;
    let s = sink("webhook-a");
    let capped = EventRetention {
        max_age: Duration::from_secs(3600),
        max_events: 2,
        max_dead_letters: 100,
    };
    h.store
        .trim_events(&h.area, std::slice::from_ref(&s), &capped)
        .await
        .expect("trim");
    // Five events: the fifth passes twice the cap, the log trims to two.
    churn(&h, "d1", 5).await;
    let dead = h.store.dead_letter_count(&h.area).await.expect("count");
    assert_eq!(dead, 3, "the sink lacked them all");
    let t = h
        .store
        .trim_events(&h.area, std::slice::from_ref(&s), &capped)
        .await
        .expect("trim");
    assert_eq!((t.dead_lettered, t.kept), (3, 2), "{t:?}");
}
