//! `updateLocations` in batches of 1,000 over HTTP and over one WebSocket,
//! against `redis-benchmark -P 16` GEOADD (Redis's own write ceiling).
//! Positions count only as far as the answers' `accepted` says.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::{mib, point, service, BATCH, RELAXED};
use crate::{
    client::{accepted, connect, http_load, next_json, Run},
    error::{BenchError, Result},
    procs::Redis,
    report::Row,
    StoreKind,
};

const SIZE: usize = 1000;
const BATCHES: usize = 400;

fn batch_body(batch: usize) -> Value {
    let updates: Vec<Value> = (0..SIZE)
        .map(|j| {
            let i = batch * SIZE + j;
            let (lat, lng) = point(i as u64, 15.0);
            json!({"driverId": format!("d{}", i % 10_000), "lat": lat, "lng": lng})
        })
        .collect();
    json!({"u": updates})
}

/// The HTTP bodies of the batches (made before any clock starts: the
/// client's JSON work is not what is measured).
pub fn http_bodies() -> Arc<Vec<String>> {
    Arc::new(
        (0..BATCHES)
            .map(|i| json!({"query": BATCH, "variables": batch_body(i)}).to_string())
            .collect(),
    )
}

/// The HTTP pass alone (four callers, `BATCHES` batches of `SIZE`) on a
/// running service: what the `events` scenario repeats with the event log
/// on and off.
pub async fn http_pass(url: &str, bodies: Arc<Vec<String>>) -> Run {
    http_load(
        url,
        4,
        BATCHES,
        Duration::from_secs(20),
        move |i| bodies[i].clone(),
        accepted,
    )
    .await
}

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    let reference = redis.benchmark(
        50,
        16,
        2_000_000,
        &["GEOADD", "bench:ref", "-70.6", "-33.4", "m:__rand_int__"],
    )?;
    let bodies = http_bodies();
    let frames: Vec<String> = (0..BATCHES)
        .map(|i| {
            json!({"id": i.to_string(), "type": "subscribe", "payload": {"query": BATCH, "variables": batch_body(i)}})
                .to_string()
        })
        .collect();
    let svc = service(store, redis, RELAXED).await?;
    let before = svc.stats();
    let http_bodies = bodies.clone();
    let redis_before = redis.stats();
    redis.reset_stats().await?;
    let run = http_pass(&svc.url, http_bodies).await;
    let mid = svc.stats();
    let (_, http_usec) = redis.command_stats("fcall").await;
    redis.reset_stats().await?;
    let redis_mid = redis.stats();
    let http_rate = run.per_sec();

    // One WebSocket, four batches in flight.
    let mut socket = connect(&svc.ws_url).await?;
    let started = Instant::now();
    let (mut sent, mut done, mut errors, mut positions) = (0usize, 0usize, 0usize, 0usize);
    while done < BATCHES && started.elapsed() < Duration::from_secs(20) {
        while sent < BATCHES && sent - done < 4 {
            socket
                .send(Message::text(frames[sent].clone()))
                .await
                .map_err(|e| BenchError::Request(e.to_string()))?;
            sent += 1;
        }
        let message = next_json(&mut socket).await?;
        match message["type"].as_str() {
            Some("next") => {
                match message["payload"]["data"]["updateLocations"]["accepted"].as_u64() {
                    Some(n) if message["payload"].get("errors").is_none() => {
                        positions += usize::try_from(n).unwrap_or(0)
                    }
                    _ => errors += 1,
                }
            }
            Some("complete") => done += 1,
            Some("error") => {
                errors += 1;
                done += 1;
            }
            _ => {}
        }
    }
    let ws_elapsed = started.elapsed().as_secs_f64();
    let ws_rate = positions as f64 / ws_elapsed;
    let after = svc.stats();
    let redis_after = redis.stats();
    let busy = |cpu: f64, secs: f64, per_report: f64| match store {
        StoreKind::Redis => format!(
            "; Redis busy {:.0}%, {per_report:.2} µs of Redis per report",
            cpu / secs * 100.0
        ),
        StoreKind::Memory | StoreKind::Cluster => String::new(),
    };
    let (_, ws_usec) = redis.command_stats("fcall").await;
    let http_busy = busy(
        redis_mid.cpu_secs - redis_before.cpu_secs,
        run.elapsed.as_secs_f64(),
        http_usec / run.units.max(1) as f64,
    );
    let ws_busy = busy(
        redis_after.cpu_secs - redis_mid.cpu_secs,
        ws_elapsed,
        ws_usec / positions.max(1) as f64,
    );
    let row = |transport: &str, rate: f64, calls: usize, errors: usize, cpu: f64, busy: &str| {
        Row {
        scenario: "ingest-batch",
        store,
        flags: svc.flags.clone(),
        measured: format!(
            "{rate:.0} positions/s accepted over {transport} ({errors} of {calls} calls failed){busy}"
        ),
        reference: format!("GEOADD -P 16: {reference:.0}/s"),
        result: format!("{:.2}×", rate / reference),
        target: "≥ 0.4×".into(),
        met: Some(rate / reference >= 0.4 && errors == 0),
        cpu_secs: cpu,
        peak_rss_mib: mib(after.peak_rss_kib),
    }
    };
    Ok(vec![
        row(
            "HTTP",
            http_rate,
            run.requests,
            run.errors,
            mid.cpu_secs - before.cpu_secs,
            &http_busy,
        ),
        row(
            "one WebSocket",
            ws_rate,
            done,
            errors,
            after.cpu_secs - mid.cpu_secs,
            &ws_busy,
        ),
    ])
}
