//! 20,000 WebSockets each holding a `rideStatus` subscription; then every
//! ride is cancelled: the time from sending each cancel to its event on the
//! subscriber's socket, and memory per socket.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use serde_json::json;
use tokio::sync::Semaphore;

use super::{mib, request_rides, service, RIDE_STATUS};
use crate::{
    client::{gql, next_data, subscribe},
    error::{BenchError, Result},
    procs::Redis,
    report::{percentile, Row},
    StoreKind,
};

/// When a cancel was sent, and when its response came.
type SentAnswered = (Instant, Instant);

fn poisoned<T>(_: T) -> BenchError {
    BenchError::Unexpected("a lock was poisoned".into())
}

/// 20,000 WebSockets each holding a `rideStatus` subscription; then every
/// ride is cancelled: delivery time of each event, and memory per socket.
pub async fn run(store: StoreKind, redis: &Redis, wanted: usize) -> Result<Row> {
    let svc = service(
        store,
        redis,
        &["--search-interval", "60s", "--request-timeout", "30m"],
    )
    .await?;
    // As many sockets as asked, within the cap the service computed from
    // its open-file limit (less room for the HTTP clients of the scenario).
    let cap = svc
        .gauge("tracking_connections_max")
        .await
        .map(|c| c as usize)
        .ok_or_else(|| BenchError::Unexpected("no tracking_connections_max".into()))?;
    let count = wanted.min(cap.saturating_sub(128));
    let http = reqwest::Client::new();
    // Far from any driver: they stay SEARCHING.
    let ids = request_rides(&svc.url, "s", count, 64, |_| (10.0, 10.0)).await?;
    let base = svc.stats();
    let delivered: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; count]));
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let limit = Arc::new(Semaphore::new(256));
    for (i, id) in ids.iter().enumerate() {
        let (delivered, ready, failed, limit, ws, id, first_error) = (
            delivered.clone(),
            ready.clone(),
            failed.clone(),
            limit.clone(),
            svc.ws_url.clone(),
            id.clone(),
            first_error.clone(),
        );
        tokio::spawn(async move {
            let permit = limit.acquire().await;
            let subscription = subscribe(&ws, RIDE_STATUS, json!({"id": id})).await;
            drop(permit);
            let mut subscription = match subscription {
                Ok(subscription) => subscription,
                Err(error) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert(error.to_string());
                    }
                    return;
                }
            };
            ready.fetch_add(1, Ordering::Relaxed);
            while let Ok(data) = next_data(&mut subscription).await {
                if data["rideStatus"]["status"] == "CANCELLED" {
                    if let Ok(mut d) = delivered.lock() {
                        d[i] = Some(Instant::now());
                    }
                    return;
                }
            }
        });
    }
    let setup = Instant::now();
    while ready.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count {
        if setup.elapsed() > Duration::from_secs(300) {
            return Err(BenchError::Unexpected(
                "subscribers did not connect in time".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = ready.load(Ordering::Relaxed);
    let held = svc.stats();
    let per_socket_kib =
        (held.rss_kib.saturating_sub(base.rss_kib)) as f64 / connected.max(1) as f64;

    // Change every ride's status: cancel each, noting when the request was
    // sent (the clock starts there) and when it was answered.
    let answered: Arc<Mutex<Vec<Option<SentAnswered>>>> = Arc::new(Mutex::new(vec![None; count]));
    let limit = Arc::new(Semaphore::new(64));
    let cancels = Instant::now();
    join_all(ids.iter().enumerate().map(|(i, id)| {
        let (answered, limit, http, url) = (
            answered.clone(),
            limit.clone(),
            http.clone(),
            svc.url.clone(),
        );
        async move {
            let _permit = limit.acquire().await;
            let sent = Instant::now();
            let done = gql(
                &http,
                &url,
                "mutation($id: ID!) { cancelRequest(rideId: $id) { id } }",
                json!({"id": id}),
            )
            .await;
            if done.is_ok() {
                if let Ok(mut a) = answered.lock() {
                    a[i] = Some((sent, Instant::now()));
                }
            }
        }
    }))
    .await;
    let wave = cancels.elapsed();
    let waiting = Instant::now();
    loop {
        let missing = delivered
            .lock()
            .map(|d| d.iter().filter(|t| t.is_none()).count())
            .unwrap_or(0);
        if missing <= failed.load(Ordering::Relaxed) || waiting.elapsed() > Duration::from_secs(30)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = delivered.lock().map_err(poisoned)?.clone();
    let answered = answered.lock().map_err(poisoned)?.clone();
    let pairs: Vec<(Instant, (Instant, Instant))> = delivered
        .iter()
        .zip(&answered)
        .filter_map(|(d, a)| Some(((*d)?, (*a)?)))
        .collect();
    let before_response = pairs
        .iter()
        .filter(|(delivered, (_, answered))| delivered < answered)
        .count();
    let mut latencies: Vec<f64> = pairs
        .iter()
        .map(|(delivered, (sent, _))| delivered.duration_since(*sent).as_secs_f64())
        .collect();
    let got = latencies.len();
    latencies.sort_by(f64::total_cmp);
    let max = latencies.last().copied().unwrap_or(f64::NAN);
    let after = svc.stats();
    let failures = match first_error.lock().ok().and_then(|e| e.clone()) {
        Some(error) => format!(
            "; {} sockets failed, first: {error}",
            failed.load(Ordering::Relaxed)
        ),
        None => String::new(),
    };
    Ok(Row {
        scenario: "subscribers",
        store,
        flags: svc.flags.clone(),
        measured: format!(
            "{connected} sockets (the service's connection cap: {cap}); {got} events, p99 {:.0} ms, max {:.0} ms after their cancel was sent ({before_response} arrived before its response; wave of {count} cancels: {:.1} s); {per_socket_kib:.1} KiB RSS per socket{failures}",
            percentile(&latencies, 99.0) * 1000.0,
            max * 1000.0,
            wave.as_secs_f64()
        ),
        reference: "—".into(),
        result: format!("max {:.2} s, {per_socket_kib:.1} KiB/socket", max),
        target: "all within 2 s; ≤ 20 KiB/socket".into(),
        met: Some(got == count && max <= 2.0 && per_socket_kib <= 20.0),
        cpu_secs: after.cpu_secs - base.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}
