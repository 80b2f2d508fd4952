//! The whole service publishing to NATS JetStream (`--nats-url`): rides
//! requested, matched and completed; every event of the log in the stream,
//! once, in id order. Needs the delivery runner: enabled with `mod
//! service;` in `mod.rs` once the runner drives the sinks.

use std::{cmp::Ordering, time::Duration};

use test_support::NatsServer;
use tracking::domain::EventId;

use super::helpers::{create_stream, jetstream_on, read_all, stored_count, stored_on, Stored};
use crate::common::{
    eventually, for_each_store, id_of, north_of, StoreKind, TestApp, DRIVER, RIDER,
};

for_each_store!(every_event_of_the_rides_reaches_the_stream_in_id_order);

async fn every_event_of_the_rides_reaches_the_stream_in_id_order(store: StoreKind) {
    let nats = NatsServer::start().await;
    let js = jetstream_on(&nats).await;
    create_stream(&js, "tracking.>", Duration::from_secs(120)).await;
    let url = nats.url();
    let app = TestApp::spawn(store, |c| c.events.nats_url = Some(url)).await;

    let mut rides = Vec::new();
    for n in 0..3 {
        let driver = format!("d-{n}");
        app.update_location(&driver, north_of(DRIVER, 0.01 * f64::from(n)))
            .await;
        let ride = id_of(&app.request_driver(&format!("rider-{n}"), RIDER).await);
        app.ride_reaches(&ride, "DRIVER_FOUND").await;
        rides.push(ride);
    }
    for ride in &rides {
        let done = app.complete(ride).await;
        assert_eq!(
            done["data"]["completeRide"]["status"], "COMPLETED",
            "{done}"
        );
    }

    // Per ride: RIDE_REQUESTED, DRIVER_FOUND, RIDE_COMPLETED at least; per
    // driver: DRIVER_AVAILABLE (the matching and freeing may add more).
    eventually("every ride's completion in the stream", || async {
        let completed = stored_on(&js, "tracking.*.RIDE_COMPLETED").await;
        (completed == rides.len()).then_some(())
    })
    .await;
    let stored: Vec<Stored> = read_all(&js).await;

    let mut previous: Option<EventId> = None;
    for s in &stored {
        let id = s.json["id"].as_str().expect("an id");
        assert_eq!(s.msg_id.as_deref(), Some(id), "Nats-Msg-Id is the event id");
        assert_eq!(
            s.subject,
            format!(
                "tracking.default.{}",
                s.json["type"].as_str().expect("a type")
            ),
        );
        let id = EventId::parse(id).expect("an event id");
        if let Some(before) = &previous {
            assert_eq!(
                before.compare(&id),
                Some(Ordering::Less),
                "ids increase in the stream: {before} then {id}"
            );
        }
        previous = Some(id);
    }
    for ride in &rides {
        let kinds: Vec<_> = stored
            .iter()
            .filter(|s| s.json["rideId"] == ride.as_str())
            .map(|s| s.json["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        let at = |k: &str| kinds.iter().position(|x| x == k);
        assert!(
            at("RIDE_REQUESTED") < at("DRIVER_FOUND") && at("DRIVER_FOUND") < at("RIDE_COMPLETED"),
            "ride {ride}'s events in order: {kinds:?}"
        );
        assert!(at("RIDE_REQUESTED").is_some(), "{kinds:?}");
    }
    let available = stored
        .iter()
        .filter(|s| s.json["type"] == "DRIVER_AVAILABLE")
        .count();
    assert!(available >= 3, "each driver's going available: {available}");
    assert_eq!(
        stored_count(&js).await,
        stored.len() as u64,
        "nothing twice"
    );
}
