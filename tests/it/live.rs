//! Live maps under pressure: a subscriber that falls behind skips to the
//! present instead of slowing anyone down.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use tracking::store::{
    events::{Capacities, EventHub},
    memory::MemoryStore,
};

use crate::common::{Protocol, TestApp, RIDER};

const FLEET: &str = "subscription { fleet(lat: -33.44262, lng: -70.63054, radiusKm: 20) { kind resync drivers { id } rides { id } } }";

/// A `fleet` subscriber that falls behind (here: 50 driver changes in one
/// store operation, with room for 8) gets a fresh SNAPSHOT marked `resync`,
/// holding every driver, and goes on from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_subscriber_that_falls_behind_gets_a_resync_snapshot() {
    let hub = EventHub::with_capacities(Capacities {
        drivers: 8,
        ..Capacities::default()
    });
    let store = Arc::new(MemoryStore::with_events(Duration::from_secs(60), hub));
    let app = TestApp::spawn_on(store, |_| {}).await;
    let mut map = app.subscribe(Protocol::TransportWs, FLEET, json!({})).await;
    let first = map.next_fleet().await;
    assert_eq!(
        (first["kind"].as_str(), first["resync"].as_bool()),
        (Some("SNAPSHOT"), Some(false))
    );

    let updates: Vec<_> = (0..50)
        .map(|i| json!({"driverId": format!("d{i}"), "lat": RIDER.0 + i as f64 * 0.001, "lng": RIDER.1}))
        .collect();
    let done = app
        .data(
            "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
            json!({"u": updates}),
        )
        .await;
    assert_eq!(done["updateLocations"]["accepted"], 50);

    // Whatever DRIVER events made it before the lag, a resync follows with
    // all fifty drivers.
    let resync = loop {
        let event = map.next_fleet().await;
        match event["kind"].as_str() {
            Some("DRIVER") => continue,
            Some("SNAPSHOT") => break event,
            _ => panic!("unexpected {event}"),
        }
    };
    assert_eq!(resync["resync"], true, "{resync}");
    assert_eq!(resync["drivers"].as_array().map(Vec::len), Some(50));

    // And it goes on with live events.
    app.update_location("late", RIDER).await;
    let event = map.next_fleet().await;
    assert_eq!(event["kind"], "DRIVER");
    assert_eq!(event["drivers"][0]["id"], "late");
}
