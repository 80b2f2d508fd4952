//! What the replay scenarios start from: a service writing its event log,
//! rides taken through their phases, and the log read back page by page.

use serde_json::{json, Value};
use tracking::{startup::events_config::EventLogMode, Config};

use crate::common::{id_of, north_of, Client, DRIVER, RIDER};

/// The `events` query, every field of an event.
pub const EVENTS: &str = "query($area: ID, $after: String, $types: [EventType!], $first: Int) {
  events(area: $area, after: $after, types: $types, first: $first) {
    events { id v type at rideId driverId riderId reason
             ride { id status driverId } driver { id status } }
    next recovered
  }
}";

/// The `events` subscription, the fields the scenarios read.
pub const FOLLOW: &str = "subscription($area: ID, $after: String, $types: [EventType!]) {
  events(area: $area, after: $after, types: $types) {
    events { id type rideId driverId } next recovered
  }
}";

/// The service writes its event log (no sink).
pub fn log_on(c: &mut Config) {
    c.events.event_log = EventLogMode::On;
}

/// One page of `events`, as `data.events`.
pub async fn page(client: &Client, variables: Value) -> Value {
    client.data(EVENTS, variables).await["events"].clone()
}

/// The ids of a page's events.
pub fn ids(page: &Value) -> Vec<String> {
    events(page).iter().map(id_of).collect()
}

/// A page's events.
pub fn events(page: &Value) -> Vec<Value> {
    page["events"].as_array().cloned().unwrap_or_default()
}

/// The whole log, read in pages of `first`, with the `types` given; and
/// the last page's `next`.
pub async fn read_all(client: &Client, first: i64, types: Value) -> (Vec<Value>, Value) {
    let mut out = Vec::new();
    let mut after = Value::Null;
    // Bounded: a log of these scenarios fits in far fewer pages.
    for _ in 0..1000 {
        let got = page(
            client,
            json!({"after": after, "types": types, "first": first}),
        )
        .await;
        assert_eq!(got["recovered"], true, "nothing was trimmed: {got}");
        let batch = events(&got);
        let done = batch.is_empty();
        out.extend(batch);
        after = got["next"].clone();
        if done {
            return (out, after);
        }
    }
    panic!("the log never ended");
}

/// Runs a GraphQL trip step (`driverArrived`, `startTrip`) on a ride.
async fn step(client: &Client, op: &str, ride: &str) {
    client
        .data(
            &format!("mutation($id: ID!) {{ {op}(rideId: $id) {{ id }} }}"),
            json!({"id": ride}),
        )
        .await;
}

/// Three rides: the first and last completed through every phase, the
/// second cancelled once its driver was found; two drivers. Returns the
/// rides' ids.
pub async fn three_rides(client: &Client) -> Vec<String> {
    client.update_location("d1", DRIVER).await;
    client.update_location("d2", north_of(DRIVER, 2.0)).await;
    let mut rides = Vec::new();
    for (i, rider) in ["r1", "r2", "r3"].into_iter().enumerate() {
        let id = id_of(&client.request_driver(rider, RIDER).await);
        client.ride_reaches(&id, "DRIVER_FOUND").await;
        if i == 1 {
            client.cancel(&id).await;
        } else {
            step(client, "driverArrived", &id).await;
            step(client, "startTrip", &id).await;
            client.complete(&id).await;
        }
        rides.push(id);
    }
    rides
}

/// The ride events of one ride, by type, in log order.
pub fn ride_story(all: &[Value], ride: &str) -> Vec<String> {
    const DRIVER_EVENTS: [&str; 3] = ["DRIVER_AVAILABLE", "DRIVER_OFFLINE", "DRIVER_APPROACHING"];
    all.iter()
        .filter(|e| e["rideId"] == ride)
        .filter(|e| !DRIVER_EVENTS.iter().any(|t| e["type"] == *t))
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `n` drivers come online (in batches of 1000) and go offline (250 a
/// request): 2n events. The service needs room for such requests
/// ([`roomy`]).
pub async fn churn(client: &Client, n: usize) {
    let drivers: Vec<String> = (0..n).map(|i| format!("churn-{i}")).collect();
    for chunk in drivers.chunks(1000) {
        let updates: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (lat, lng) = north_of(DRIVER, 0.01 * i as f64);
                json!({"driverId": d, "lat": lat, "lng": lng})
            })
            .collect();
        let done = client
            .data(
                "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
                json!({"u": updates}),
            )
            .await;
        assert_eq!(done["updateLocations"]["accepted"], chunk.len());
    }
    for chunk in drivers.chunks(250) {
        let aliases: String = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| format!("o{i}: goOffline(driverId: \"{d}\") {{ id }} "))
            .collect();
        client
            .data(&format!("mutation {{ {aliases} }}"), json!({}))
            .await;
    }
}

/// Room for [`churn`]'s large requests.
pub fn roomy(c: &mut Config) {
    c.max_query_bytes = 1 << 20;
    c.max_complexity = 1_000_000;
}
