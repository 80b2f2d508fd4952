//! The delivery lanes over a memory store and a sink of the test's own:
//! types a sink does not want are acknowledged past, a refused batch is
//! re-sent as it was (same ids) and dead-lettered once past its max age,
//! and a stopped delivery gives its leases up.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::Utc;

use super::{Delivery, DeliveryPlan, Route, Sink, SinkError};
use crate::{
    domain::{AreaId, Coordinates, DriverId, Event, EventId, EventType, DEFAULT_AREA},
    store::{
        memory::MemoryStore, DeliveryLease, EventLog, EventRetention, Fleet, LogSettings, SinkId,
        Store,
    },
};

/// Records every try; refuses the first `refuse` of them.
struct Recorder {
    id: SinkId,
    only: Option<EventType>,
    refuse: Mutex<usize>,
    max_age: Option<Duration>,
    tries: Mutex<Vec<Vec<EventId>>>,
}

impl Recorder {
    fn new(only: Option<EventType>, refuse: usize, max_age: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            id: SinkId::parse("test-sink").unwrap(),
            only,
            refuse: Mutex::new(refuse),
            max_age,
            tries: Mutex::new(Vec::new()),
        })
    }

    fn tries(&self) -> Vec<Vec<EventId>> {
        self.tries.lock().unwrap().clone()
    }
}

#[async_trait]
impl Sink for Recorder {
    fn id(&self) -> &SinkId {
        &self.id
    }
    fn wants(&self, kind: EventType) -> bool {
        self.only.is_none_or(|only| only == kind)
    }
    fn max_batch(&self) -> usize {
        3
    }
    fn max_age(&self) -> Option<Duration> {
        self.max_age
    }
    async fn send(&self, _area: &AreaId, events: &[Event]) -> Result<(), SinkError> {
        self.tries
            .lock()
            .unwrap()
            .push(events.iter().map(|e| e.id.clone()).collect());
        let mut refuse = self.refuse.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return Err(SinkError::Retry("no".into()));
        }
        Ok(())
    }
}

fn area() -> AreaId {
    AreaId::parse(DEFAULT_AREA).unwrap()
}

/// A store whose log holds `n` drivers' AVAILABLE then OFFLINE.
async fn store_with_drivers(n: usize) -> Arc<MemoryStore> {
    let store = Arc::new(
        MemoryStore::new(Duration::from_secs(60)).with_log(LogSettings {
            enabled: true,
            ..LogSettings::default()
        }),
    );
    for i in 0..n {
        let id = DriverId::parse(&format!("d{i}")).unwrap();
        let at = Coordinates::parse(0.0, i as f64 * 0.1).unwrap();
        store
            .update_location(&id, at, Utc::now(), 0.0)
            .await
            .unwrap();
        store.go_offline(&id, Utc::now()).await.unwrap();
    }
    store
}

fn start(store: &Arc<MemoryStore>, sink: Arc<Recorder>) -> Delivery {
    let store: Arc<dyn Store> = store.clone();
    Delivery::start(
        store,
        DeliveryPlan {
            routes: vec![Route {
                sink,
                areas: vec![area()],
            }],
            areas: vec![area()],
            retention: EventRetention::default(),
            lease: Duration::from_millis(600),
        },
        tokio_util::sync::CancellationToken::new(),
    )
}

/// The sink's acknowledged id, once its lease is free.
async fn acked(store: &MemoryStore) -> Option<EventId> {
    let sink = SinkId::parse("test-sink").unwrap();
    match store
        .delivery_lease(&area(), &sink, "the-test", Duration::from_secs(1))
        .await
        .unwrap()
    {
        DeliveryLease::Held { acked } => acked,
        DeliveryLease::Elsewhere => panic!("a stopped delivery gives its lease up"),
    }
}

async fn until(what: &str, check: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test]
async fn types_a_sink_does_not_want_are_acknowledged_past_unsent() {
    let store = store_with_drivers(4).await;
    let sink = Recorder::new(Some(EventType::DriverOffline), 0, None);
    let delivery = start(&store, sink.clone());
    until("the 4 OFFLINE events", || sink.tries().concat().len() == 4).await;
    delivery.stop().await;
    let page = store.read_events(&area(), None, 100).await.unwrap();
    let sent = sink.tries().concat();
    let offline: Vec<EventId> = page
        .events
        .iter()
        .filter(|e| e.kind == EventType::DriverOffline)
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(sent, offline);
    assert_eq!(
        acked(&store).await,
        page.events.last().map(|e| e.id.clone())
    );
}

#[tokio::test]
async fn a_refused_batch_is_resent_as_it_was_then_dead_lettered_past_its_max_age() {
    let store = store_with_drivers(1).await;
    let sink = Recorder::new(None, usize::MAX, Some(Duration::from_millis(300)));
    let delivery = start(&store, sink.clone());
    until("the batch dead-lettered", || {
        futures_util::FutureExt::now_or_never(store.dead_letter_count(&area()))
            .and_then(Result::ok)
            .is_some_and(|n| n == 2)
    })
    .await;
    delivery.stop().await;
    let tries = sink.tries();
    assert!(tries.len() >= 2, "retried before giving up: {tries:?}");
    assert!(
        tries.iter().all(|t| *t == tries[0]),
        "the same batch each time: {tries:?}"
    );
    let page = store.read_events(&area(), None, 100).await.unwrap();
    assert_eq!(
        acked(&store).await,
        page.events.last().map(|e| e.id.clone())
    );
}

#[tokio::test]
async fn a_batch_refused_a_few_times_is_delivered_once_taken_in_order() {
    let store = store_with_drivers(5).await;
    let sink = Recorder::new(None, 3, None);
    let delivery = start(&store, sink.clone());
    until("every event delivered", || {
        let tries = sink.tries();
        tries.len() >= 4 && tries[3..].concat().len() == 10
    })
    .await;
    delivery.stop().await;
    let tries = sink.tries();
    assert!(tries[..4].iter().all(|t| *t == tries[0]));
    let page = store.read_events(&area(), None, 100).await.unwrap();
    let ids: Vec<EventId> = page.events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(tries[3..].concat(), ids, "each event once, in log order");
    assert_eq!(store.dead_letter_count(&area()).await.unwrap(), 0);
}
