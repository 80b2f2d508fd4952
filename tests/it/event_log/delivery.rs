//! What delivery stands on: one lease holder per (sink, area), positions
//! stored only by the holder, trimming that waits for every sink, and the
//! dead letters past the hard cap, redeliverable.

use std::time::Duration;

use tracking::{
    domain::EventId,
    store::{DeliveryLease, EventRetention, SinkId},
};

use super::harness::{open, PICKUP};
use crate::common::StoreKind;

fn sink(name: &str) -> SinkId {
    SinkId::parse(name).expect("a sink id")
}

const LEASE: Duration = Duration::from_secs(30);

/// Makes `n` events: a driver going offline and back.
async fn churn(h: &super::harness::Harness, n: usize) {
    for i in 0..n {
        if i % 2 == 0 {
            h.report("d1", PICKUP.0, PICKUP.1).await;
        } else {
            h.store
                .go_offline(&super::harness::driver("d1"), h.store.now())
                .await
                .expect("offline");
        }
    }
}

pub async fn one_holder_per_sink_and_a_lost_lease_acknowledges_nothing(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, 4).await;
    let events = h.all().await;
    assert_eq!(events.len(), 4);
    let (a, b) = (sink("webhook-a"), sink("nats"));
    let held = h
        .store
        .delivery_lease(&h.area, &a, "one", LEASE)
        .await
        .expect("lease");
    assert_eq!(
        held,
        DeliveryLease::Held { acked: None },
        "nothing delivered yet"
    );
    let other = h
        .store
        .delivery_lease(&h.area, &a, "two", LEASE)
        .await
        .expect("lease");
    assert_eq!(
        other,
        DeliveryLease::Elsewhere,
        "one holder per (sink, area)"
    );
    let own_b = h
        .store
        .delivery_lease(&h.area, &b, "two", LEASE)
        .await
        .expect("lease");
    assert!(
        matches!(own_b, DeliveryLease::Held { .. }),
        "another sink is leased apart"
    );
    let acked = h
        .store
        .acknowledge(&h.area, &a, "two", &events[1].id, &[])
        .await
        .expect("ack");
    assert!(!acked, "a non-holder's acknowledgement changes nothing");
    assert!(h
        .store
        .acknowledge(&h.area, &a, "one", &events[1].id, &[])
        .await
        .expect("ack"));
    assert!(
        h.store
            .delivery_lease(&h.area, &a, "one", LEASE)
            .await
            .is_ok(),
        "renewed"
    );
    h.store
        .release_delivery(&h.area, &a, "one")
        .await
        .expect("release");
    let taken = h
        .store
        .delivery_lease(&h.area, &a, "two", LEASE)
        .await
        .expect("lease");
    assert_eq!(
        taken,
        DeliveryLease::Held {
            acked: Some(events[1].id.clone())
        },
        "the next holder resumes after the last acknowledged event"
    );
    let rest = h
        .store
        .read_events(&h.area, Some(&events[1].id), 100)
        .await
        .expect("read");
    assert_eq!(rest.events, events[2..].to_vec(), "exactly what followed");
    assert!(rest.recovered);
}

pub async fn trimming_never_passes_what_a_sink_lacks(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, 6).await;
    let events = h.all().await;
    let s = sink("webhook-a");
    let everything_old = EventRetention {
        max_age: Duration::ZERO,
        max_events: 1000,
        max_dead_letters: 100,
    };
    let trimmed = h
        .store
        .trim_events(&h.area, std::slice::from_ref(&s), &everything_old)
        .await
        .expect("trim");
    assert_eq!(trimmed.trimmed, 0, "the sink has acknowledged nothing");
    assert_eq!(h.all().await.len(), 6);
    h.store
        .delivery_lease(&h.area, &s, "one", LEASE)
        .await
        .expect("lease");
    h.store
        .acknowledge(&h.area, &s, "one", &events[2].id, &[])
        .await
        .expect("ack");
    let trimmed = h
        .store
        .trim_events(&h.area, std::slice::from_ref(&s), &everything_old)
        .await
        .expect("trim");
    assert_eq!(
        (trimmed.trimmed, trimmed.kept),
        (3, 3),
        "up to what the sink has"
    );
    assert_eq!(h.all().await, events[3..].to_vec());
    // A reader after a trimmed event may have missed some: it is told.
    let page = h
        .store
        .read_events(&h.area, Some(&events[1].id), 100)
        .await
        .expect("read");
    assert!(!page.recovered, "events after it were trimmed");
    assert_eq!(page.events, events[3..].to_vec(), "from the oldest kept");
    let page = h
        .store
        .read_events(&h.area, Some(&events[2].id), 100)
        .await
        .expect("read");
    assert!(
        page.recovered,
        "nothing after the last trimmed one was lost"
    );
    // Another epoch's id: not comparable, said.
    let foreign = EventId {
        epoch: "zzzzzzzz".into(),
        ..events[3].id.clone()
    };
    let page = h
        .store
        .read_events(&h.area, Some(&foreign), 100)
        .await
        .expect("read");
    assert!(!page.recovered);
    assert_eq!(page.events.len(), 3);
    // Without sinks, age alone decides.
    let trimmed = h
        .store
        .trim_events(&h.area, &[], &everything_old)
        .await
        .expect("trim");
    assert_eq!(trimmed.kept, 0);
}

pub async fn past_the_cap_undelivered_events_become_dead_letters_and_come_back(kind: StoreKind) {
    let h = open(kind).await;
    churn(&h, 10).await;
    let events = h.all().await;
    let (a, b) = (sink("webhook-a"), sink("webhook-b"));
    h.store
        .delivery_lease(&h.area, &a, "one", LEASE)
        .await
        .expect("lease");
    h.store
        .acknowledge(&h.area, &a, "one", &events[5].id, &[])
        .await
        .expect("ack");
    let capped = EventRetention {
        max_age: Duration::from_secs(3600),
        max_events: 4,
        max_dead_letters: 100,
    };
    let trimmed = h
        .store
        .trim_events(&h.area, &[a.clone(), b.clone()], &capped)
        .await
        .expect("trim");
    assert_eq!((trimmed.dead_lettered, trimmed.kept), (6, 4), "{trimmed:?}");
    // b lacked all six, a none of them (it had up to the sixth).
    assert_eq!(h.store.dead_letter_count(&h.area).await.expect("count"), 6);
    assert_eq!(
        h.store
            .redeliver(&h.area, Some(&a), 100)
            .await
            .expect("redeliver"),
        0
    );
    assert_eq!(
        h.store
            .redeliver(&h.area, Some(&b), 4)
            .await
            .expect("redeliver"),
        4
    );
    assert_eq!(h.store.dead_letter_count(&h.area).await.expect("count"), 2);
    let queued = h
        .store
        .redeliveries(&h.area, &b, 100)
        .await
        .expect("queued");
    assert_eq!(
        queued,
        events[..4].to_vec(),
        "the same events, same ids, in order"
    );
    let done: Vec<EventId> = queued[..3].iter().map(|e| e.id.clone()).collect();
    h.store.redelivered(&h.area, &b, &done).await.expect("done");
    let left = h
        .store
        .redeliveries(&h.area, &b, 100)
        .await
        .expect("queued");
    assert_eq!(left, events[3..4].to_vec());
}
