//! What live maps cost the service: 5,000 drivers within 6 km, each moving
//! a few metres every 2 s (`updateLocations`, one batch of 1,000 every
//! 400 ms), watched by dashboards, each a WebSocket holding the dashboard's
//! own `fleet` subscription over 15 km and reading every event. The service
//! CPU the dashboards add is the CPU over 20 s with them, less the CPU of
//! the same moves with no dashboard (measured first, same service, same
//! run). Once with one event per change (`--fleet-interval 0s`, as before
//! CHANGES existed) and 10 dashboards; then as the service runs by default
//! (CHANGES every 250 ms) with 10 and with 50 dashboards.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::{mib, point, service, BATCH, CENTER};
use crate::{
    client::{connect, gql},
    error::{BenchError, Result},
    procs::{Redis, Service},
    report::Row,
    StoreKind,
};

const DRIVERS: u64 = 5_000;
const PER_BATCH: u64 = 1_000;
const EVERY: Duration = Duration::from_secs(2);
const BASELINE: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(20);
/// The dashboard's own documents.
const DOCUMENTS: &str = include_str!("../../../playground/documents.json");

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    rows.push(measure(store, redis, &["--fleet-interval", "0s"], 10).await?);
    for dashboards in [10, 50] {
        rows.push(measure(store, redis, &[], dashboards).await?);
    }
    Ok(rows)
}

/// Where driver `d` is after `step` moves: ~5 m further north each time.
fn position(d: u64, step: u64) -> (f64, f64) {
    let (lat, lng) = point(20_000_000 + d, 6.0);
    (lat + step as f64 * 0.000_05, lng)
}

async fn measure(
    store: StoreKind,
    redis: &Redis,
    flags: &[&str],
    dashboards: usize,
) -> Result<Row> {
    let documents: Value = serde_json::from_str(DOCUMENTS)
        .map_err(|e| BenchError::Unexpected(format!("playground/documents.json: {e}")))?;
    let fleet = documents["fleet"].as_str().unwrap_or_default().to_owned();
    let svc = service(store, redis, flags).await?;
    let http = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    // Every driver reports once, then the moves start.
    for first in (0..DRIVERS).step_by(PER_BATCH as usize) {
        report(&http, &svc.url, first, 0).await?;
    }
    let mover = tokio::spawn(move_drivers(
        http.clone(),
        svc.url.clone(),
        stop.clone(),
        failed.clone(),
        first_failure.clone(),
    ));
    tokio::time::sleep(EVERY).await;
    let baseline = cpu_over(&svc, BASELINE).await;

    let ws_url = format!("{}/ws", svc.url.replace("http", "ws"));
    let events = Arc::new(AtomicU64::new(0));
    let states = Arc::new(AtomicU64::new(0));
    let resyncs = Arc::new(AtomicU64::new(0));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..dashboards {
        // A bare socket, read without parsing each message into a tree
        // (the load generator shares the machine with the service: it must
        // keep up with 50 dashboards' worth of JSON on a fraction of it).
        let mut socket = connect(&ws_url).await?;
        let subscribe = json!({
            "id": "1",
            "type": "subscribe",
            "payload": {"query": fleet, "variables": {"lat": CENTER.0, "lng": CENTER.1, "r": 15.0}},
        });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .map_err(|e| BenchError::Request(format!("WebSocket: {e}")))?;
        // One dashboard at a time, as people open them: each waits for its
        // snapshot before the next connects.
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains("\"next\"") => break,
                Some(Ok(_)) => continue,
                _ => return Err(BenchError::Request("WebSocket: no snapshot".into())),
            }
        }
        let (events, states, resyncs) = (events.clone(), states.clone(), resyncs.clone());
        readers.spawn(async move {
            let mut snapshots = 1u64;
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let bytes = text.as_bytes();
                if !contains(bytes, b"\"type\":\"next\"") {
                    continue;
                }
                events.fetch_add(1, Ordering::Relaxed);
                // Each driver and each ride has exactly one status.
                states.fetch_add(count(bytes, b"\"status\""), Ordering::Relaxed);
                if contains(bytes, b"\"SNAPSHOT\"") {
                    snapshots += 1;
                    // Every snapshot after the first is a resync.
                    if snapshots > 1 {
                        resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    // Let the subscriptions settle past their snapshots.
    tokio::time::sleep(EVERY).await;
    let (events_before, states_before, resyncs_before) = (
        events.load(Ordering::Relaxed),
        states.load(Ordering::Relaxed),
        resyncs.load(Ordering::Relaxed),
    );
    let watched = cpu_over(&svc, WINDOW).await;
    let per_sec = |now: u64, before: u64| (now - before) as f64 / WINDOW.as_secs_f64();
    let event_rate = per_sec(events.load(Ordering::Relaxed), events_before);
    let state_rate = per_sec(states.load(Ordering::Relaxed), states_before);
    let resynced = resyncs.load(Ordering::Relaxed) - resyncs_before;
    stop.store(true, Ordering::Relaxed);
    let _ = mover.await;
    readers.abort_all();
    let failures = failed.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(BenchError::Unexpected(format!(
            "fleet-feed: {failures} location batches failed, the first with {}",
            first_failure
                .lock()
                .map(|f| f.clone().unwrap_or_default())
                .unwrap_or_default()
        )));
    }
    let added = (watched.0 - baseline.0) * 100.0;
    let mode = if flags.is_empty() {
        "CHANGES every 250 ms"
    } else {
        "one event per change"
    };
    let target_met = !flags.is_empty() || dashboards < 50 || added < 20.0;
    Ok(Row {
        scenario: "fleet-feed",
        store,
        flags: svc.flags.clone(),
        measured: format!(
            "{dashboards} dashboards, {mode}: they add {added:.0}% of a core; each gets {:.1} events/s carrying {:.0} driver and ride states/s; {resynced} resync snapshots",
            event_rate / dashboards as f64,
            state_rate / dashboards as f64,
        ),
        reference: format!(
            "the same moves, no dashboard: {:.0}% of a core",
            baseline.0 * 100.0
        ),
        result: format!("{added:.0}% of a core"),
        target: if flags.is_empty() && dashboards == 50 {
            "50 dashboards < 20% of a core".into()
        } else {
            "reported".into()
        },
        met: (flags.is_empty() && dashboards == 50).then_some(target_met),
        cpu_secs: watched.1,
        peak_rss_mib: mib(svc.stats().peak_rss_kib),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}

/// The service's CPU over `window`, as a share of one core, and in seconds.
async fn cpu_over(svc: &Service, window: Duration) -> (f64, f64) {
    let before = svc.stats();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let cpu = svc.stats().cpu_secs - before.cpu_secs;
    (cpu / started.elapsed().as_secs_f64(), cpu)
}

/// Moves every driver once per `EVERY`, a batch at a time.
async fn move_drivers(
    http: reqwest::Client,
    url: String,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
    first_failure: Arc<std::sync::Mutex<Option<String>>>,
) {
    let batches = DRIVERS / PER_BATCH;
    let pause = EVERY / batches as u32;
    let mut step = 1;
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        for b in 0..batches {
            next += pause;
            if let Err(error) = report(&http, &url, b * PER_BATCH, step).await {
                failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = first_failure.lock() {
                    first.get_or_insert_with(|| error.to_string());
                }
            }
            tokio::time::sleep_until(next.into()).await;
        }
        step += 1;
    }
}

/// Drivers `first..first + PER_BATCH` report where move `step` puts them.
async fn report(http: &reqwest::Client, url: &str, first: u64, step: u64) -> Result<()> {
    let updates: Vec<Value> = (first..first + PER_BATCH)
        .map(|d| {
            let (lat, lng) = position(d, step);
            json!({"driverId": format!("f{d}"), "lat": lat, "lng": lng})
        })
        .collect();
    let data = gql(http, url, BATCH, json!({"u": updates})).await?;
    match data["updateLocations"]["accepted"].as_u64() {
        Some(n) if n == PER_BATCH => Ok(()),
        _ => Err(BenchError::Unexpected(format!("updateLocations: {data}"))),
    }
}
