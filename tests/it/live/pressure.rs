//! Live maps under pressure: a subscriber that falls behind skips to the
//! present instead of slowing anyone down, and fifty dashboards opening
//! one map share its snapshot while reports go on.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::{future::join_all, SinkExt, StreamExt};
use serde::{de::IgnoredAny, Deserialize};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tracking::store::{
    events::{Capacities, EventHub},
    memory::MemoryStore,
};

use crate::common::{
    metric, within, Protocol, RedisServer, ServiceProcess, Subscription, TestApp, PATIENCE, RIDER,
};

/// A live map of everything within 20 km of the seed's rider.
pub(super) const WIDE_MAP: &str = "subscription { fleet(lat: -33.44262, lng: -70.63054, radiusKm: 20) { kind resync drivers { id } rides { id } } }";

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
    let mut map = app
        .subscribe(Protocol::TransportWs, WIDE_MAP, json!({}))
        .await;
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

/// The dashboard's own documents (playground/documents.json), as it sends them.
const DASHBOARD_DOCUMENTS: &str = include_str!("../../../playground/documents.json");

/// The live map's `fleet` document, exactly as the dashboard selects it:
/// every driver's status and position, every ride in full.
fn dashboard_fleet() -> String {
    let documents: Value = serde_json::from_str(DASHBOARD_DOCUMENTS).expect("documents.json");
    documents["fleet"]
        .as_str()
        .expect("the dashboard's fleet document")
        .to_owned()
}

const UPDATE_LOCATIONS: &str =
    "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted stale refused { code message } } }";

/// Drivers on the map, and how many one `updateLocations` call carries.
const FLEET_SIZE: usize = 5000;

const BATCH: usize = 1000;

/// What the test reads of a dashboard's first event: typed, so that fifty
/// 5,000-driver snapshots are checked without building fifty JSON trees
/// (most of a second each in a debug build, on the test's side).
#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    data: Option<Data>,
    #[serde(default)]
    errors: Vec<Value>,
}

#[derive(Deserialize)]
struct Data {
    fleet: Snapshot,
}

#[derive(Deserialize)]
struct Snapshot {
    kind: String,
    drivers: Vec<Spot>,
}

#[derive(Deserialize)]
struct Spot {
    location: Option<IgnoredAny>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a dashboard's live map (graphql-transport-ws, no token) and reads
/// its first event.
async fn open_dashboard(addr: SocketAddr, document: String, area: Value) -> (Socket, Snapshot) {
    let mut socket = Subscription::connect(addr, Protocol::TransportWs).await;
    let init = json!({"type": "connection_init", "payload": {}});
    socket
        .send(WsMessage::text(init.to_string()))
        .await
        .expect("send");
    let subscribe =
        json!({"id": "1", "type": "subscribe", "payload": {"query": document, "variables": area}});
    let mut sent = false;
    loop {
        let message = match within(PATIENCE, "a dashboard's message", socket.next()).await {
            Some(Ok(WsMessage::Text(text))) => serde_json::from_str::<Message>(text.as_str())
                .unwrap_or_else(|e| panic!("a dashboard's message: {e}")),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => panic!("a dashboard's socket: {other:?}"),
        };
        let reply = match message.kind.as_str() {
            "connection_ack" if !sent => subscribe.clone(),
            "ping" => json!({"type": "pong"}),
            "next" => {
                let payload = message.payload.expect("a payload");
                assert!(payload.errors.is_empty(), "{:?}", payload.errors);
                return (socket, payload.data.expect("data").fleet);
            }
            other => panic!("a dashboard got {other}"),
        };
        sent = true;
        socket
            .send(WsMessage::text(reply.to_string()))
            .await
            .expect("send");
    }
}

/// One batch of reports: drivers `from..from + BATCH`, spread over a few
/// km around the rider, nudged by `step` metres north each round.
fn batch(from: usize, step: usize) -> Value {
    let updates: Vec<Value> = (from..from + BATCH)
        .map(|i| {
            let (row, col) = ((i / 100) as f64, (i % 100) as f64);
            json!({
                "driverId": format!("fleet-{i}"),
                "lat": RIDER.0 + row * 0.0008 + step as f64 * 0.00001,
                "lng": RIDER.1 + col * 0.0008,
            })
        })
        .collect();
    json!({ "u": updates })
}

/// Every dashboard reconnects at once after a deploy: fifty open the same
/// live map over 5,000 drivers on Redis while the drivers keep reporting.
/// No report fails, every dashboard gets its snapshot with every driver,
/// and the snapshot is read from the store a few times, not fifty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_dashboards_opening_one_map_share_its_snapshot_and_reports_go_on() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let service = ServiceProcess::start(&["--redis-url", &url]);
    let app = Arc::new(TestApp::attach(service.addr));
    for from in (0..FLEET_SIZE).step_by(BATCH) {
        let done = app.data(UPDATE_LOCATIONS, batch(from, 0)).await;
        assert_eq!(done["updateLocations"]["accepted"], BATCH, "{done}");
    }
    let before = metric(&app.metrics().await, "tracking_area_snapshots_total").unwrap_or(0.0);

    // Reports flow throughout, one batch after another.
    let stop = Arc::new(AtomicBool::new(false));
    let reporter = tokio::spawn({
        let (app, stop) = (app.clone(), stop.clone());
        async move {
            let mut failures = Vec::new();
            let mut calls = 0;
            // A steady flow (a batch every 200 ms), not a flood.
            let mut pace = tokio::time::interval(Duration::from_millis(200));
            while !stop.load(Ordering::Relaxed) {
                pace.tick().await;
                let body = app
                    .gql(UPDATE_LOCATIONS, batch((calls % 5) * BATCH, calls / 5 + 1))
                    .await;
                if body.get("errors").is_some()
                    || body["data"]["updateLocations"]["accepted"] != BATCH
                {
                    failures.push(body.to_string().chars().take(300).collect::<String>());
                }
                calls += 1;
            }
            (calls, failures)
        }
    });

    let area = json!({"lat": RIDER.0, "lng": RIDER.1, "r": 20.0});
    let document = dashboard_fleet();
    // Each dashboard on a task of its own, as fifty browsers would be.
    let dashboards: Vec<_> = (0..50)
        .map(|_| tokio::spawn(open_dashboard(app.addr, document.clone(), area.clone())))
        .collect();
    let opened = within(
        PATIENCE,
        "fifty dashboards to get their snapshots",
        join_all(dashboards),
    )
    .await;
    for opened in &opened {
        let (_, first) = opened.as_ref().expect("a dashboard");
        let located = first
            .drivers
            .iter()
            .filter(|d| d.location.is_some())
            .count();
        assert_eq!(
            (first.kind.as_str(), first.drivers.len(), located),
            ("SNAPSHOT", FLEET_SIZE, FLEET_SIZE),
            "a dashboard's first event"
        );
    }
    // Reports went on while the maps opened, and go on after.
    stop.store(true, Ordering::Relaxed);
    let (calls, failures) = within(PATIENCE, "the reporter to stop", reporter)
        .await
        .expect("reporter");
    assert!(
        calls >= 2,
        "reports did not flow while the maps opened ({calls} calls)"
    );
    assert!(
        failures.is_empty(),
        "{} of {calls} report batches failed: {failures:#?}",
        failures.len()
    );

    let taken =
        metric(&app.metrics().await, "tracking_area_snapshots_total").unwrap_or(0.0) - before;
    assert!(
        (1.0..=5.0).contains(&taken),
        "fifty dashboards of one map took {taken} snapshots from the store"
    );
    drop(opened);
}
