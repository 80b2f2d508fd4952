//! Ten minutes of a city's life, to see whether memory plateaus: about 2,000
//! drivers reporting every 2 s (300 joining and 300 falling silent each
//! minute), 50 rides a second through their whole life (matched then
//! completed or cancelled, or expired with nobody near), with short
//! retentions (`--ride-retention 60s --driver-retention 120s`) so that what
//! ends is removed within the run. The service's RSS (and, on Redis,
//! `used_memory` and `DBSIZE`) is read every minute; the target is that the
//! last five minutes grow by at most 5%. With the event log on (the
//! default: `--event-log on --event-retention 60s`, as issue 24 asks) the
//! log is trimmed within the run too, and on Redis each minute's sample
//! also says the length of the area's stream.
//!
//! And a second figure: the RSS of a service that verifies tokens after 20
//! clients, without a token, each sent a 60 MB WebSocket message.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures_util::{future::join_all, SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};

use super::{mib, point, service, BATCH, REQUEST};
use crate::{
    client::{gql, next_data, subscribe},
    error::{BenchError, Result},
    procs::Redis,
    report::Row,
    StoreKind,
};

/// Drivers reporting at any moment.
const DRIVERS: u64 = 2000;
/// Drivers joining (and others falling silent) per second: 300 a minute.
const CHURN_PER_SEC: u64 = 5;
const RIDES_PER_SEC: u64 = 50;

/// Where driver `d` is at second `t`: a walk around its home, ~10 m/s.
fn position(d: u64, t: f64) -> (f64, f64) {
    let (lat, lng) = point(10_000_000 + d, 12.0);
    let phase = (d % 360) as f64;
    let angle = (t / 60.0 + phase).sin() * std::f64::consts::PI;
    let r = t * 0.00001 % 0.01;
    (lat + r * angle.cos(), lng + r * angle.sin())
}

/// The soak's service flags; with `event_log`, the log on and kept 60 s.
fn flags(event_log: bool) -> Vec<&'static str> {
    let mut flags = vec![
        "--ride-retention",
        "60s",
        "--driver-retention",
        "120s",
        "--request-timeout",
        "20s",
    ];
    if event_log {
        flags.extend(["--event-log", "on", "--event-retention", "60s"]);
    }
    flags
}

/// One soak on one store; `minutes` long (10 for the figures), with the
/// event log on or off.
pub async fn run(store: StoreKind, redis: &Redis, minutes: u64, event_log: bool) -> Result<Row> {
    let svc = service(store, redis, &flags(event_log)).await?;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));

    // Drivers: every 200 ms a batch with the tenth of the active drivers
    // whose turn it is (each reports every 2 s).
    let reporting = {
        let (http, url, stop, errors) =
            (http.clone(), svc.url.clone(), stop.clone(), errors.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let t = started.elapsed().as_secs_f64();
                let first = (t as u64) * CHURN_PER_SEC;
                let updates: Vec<Value> = (first..first + DRIVERS)
                    .filter(|d| d % 10 == round % 10)
                    .map(|d| {
                        let (lat, lng) = position(d, t);
                        json!({"driverId": format!("soak-{d}"), "lat": lat, "lng": lng})
                    })
                    .collect();
                round += 1;
                if gql(&http, &url, BATCH, json!({"u": updates}))
                    .await
                    .is_err()
                {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // Rides: 50 a second; four in five near the drivers, one far from all.
    let requesting = {
        let (http, url, stop, errors) =
            (http.clone(), svc.url.clone(), stop.clone(), errors.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / RIDES_PER_SEC));
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let (lat, lng) = if n.is_multiple_of(5) {
                    (10.0 + (n % 100) as f64 * 0.01, 10.0)
                } else {
                    point(20_000_000 + n, 10.0)
                };
                let (http, url, errors) = (http.clone(), url.clone(), errors.clone());
                tokio::spawn(async move {
                    let made = gql(
                        &http,
                        &url,
                        REQUEST,
                        json!({"r": format!("soak-rider-{n}"), "lat": lat, "lng": lng}),
                    )
                    .await;
                    if made.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        })
    };

    // Matched rides end: seven in ten completed after 5 s, the rest
    // cancelled after 2 s. Matches are learnt from one `fleet` subscription.
    let ending = {
        let (http, url, ws, stop) = (
            http.clone(),
            svc.url.clone(),
            svc.ws_url.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let center = super::CENTER;
            let mut subscription = subscribe(
                &ws,
                "subscription($lat: Float!, $lng: Float!) { fleet(lat: $lat, lng: $lng, radiusKm: 30) { kind rides { id status } } }",
                json!({"lat": center.0, "lng": center.1}),
            )
            .await?;
            let due: Arc<Mutex<VecDeque<(Instant, String, bool)>>> = Arc::default();
            let ender = {
                let (due, http, url, stop) = (due.clone(), http.clone(), url.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        loop {
                            let next = {
                                let mut due = due.lock().await;
                                match due.front() {
                                    Some((at, _, _)) if *at <= Instant::now() => due.pop_front(),
                                    _ => None,
                                }
                            };
                            let Some((_, id, complete)) = next else { break };
                            let op = if complete {
                                "completeRide"
                            } else {
                                "cancelRequest"
                            };
                            let _ = gql(
                                &http,
                                &url,
                                &format!("mutation($id: ID!) {{ {op}(rideId: $id) {{ id }} }}"),
                                json!({"id": id}),
                            )
                            .await;
                        }
                    }
                })
            };
            let mut matched = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let data = match tokio::time::timeout(
                    Duration::from_secs(1),
                    next_data(&mut subscription),
                )
                .await
                {
                    Ok(data) => data?,
                    Err(_) => continue,
                };
                // Rides changed: one per RIDE event, or several in a
                // CHANGES event (the service's default).
                if data["fleet"]["kind"] != "RIDE" && data["fleet"]["kind"] != "CHANGES" {
                    continue;
                }
                for ride in data["fleet"]["rides"].as_array().into_iter().flatten() {
                    if ride["status"] == "DRIVER_FOUND" {
                        matched += 1;
                        let complete = matched % 10 < 7;
                        let wait = if complete { 5 } else { 2 };
                        let id = ride["id"].as_str().unwrap_or_default().to_owned();
                        due.lock().await.push_back((
                            Instant::now() + Duration::from_secs(wait),
                            id,
                            complete,
                        ));
                    }
                }
            }
            ender.abort();
            Ok::<u64, BenchError>(matched)
        })
    };

    // A sample a minute.
    let mut samples = Vec::new();
    let mut log_lengths = Vec::new();
    for minute in 1..=minutes {
        tokio::time::sleep_until((started + Duration::from_secs(60 * minute)).into()).await;
        let rss = mib(svc.stats().rss_kib);
        let (used, keys, events) = match store {
            StoreKind::Redis => (
                redis.used_memory_mib().await,
                redis.dbsize().await,
                redis.stream_len(super::events::LOG_KEY).await,
            ),
            StoreKind::Memory | StoreKind::Cluster => (f64::NAN, 0, 0),
        };
        eprintln!(
            "  soak {} minute {minute}: RSS {rss:.1} MiB, Redis {used:.1} MiB, {keys} keys{}",
            store_name(store),
            if store == StoreKind::Redis && event_log {
                format!(", {events} events in the log")
            } else {
                String::new()
            }
        );
        samples.push((rss, used, keys));
        log_lengths.push(events);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reporting.await;
    let _ = requesting.await;
    let matched = ending
        .await
        .map_err(|e| BenchError::Unexpected(e.to_string()))??;
    let after = svc.stats();
    let half = samples.len() / 2;
    let growth = |f: fn(&(f64, f64, u64)) -> f64| {
        let (mid, last) = (
            f(&samples[half.saturating_sub(1)]),
            f(&samples[samples.len() - 1]),
        );
        (last - mid) / mid * 100.0
    };
    let rss_growth = growth(|s| s.0);
    let redis_growth = growth(|s| s.1);
    let keys_growth = growth(|s| s.2 as f64);
    let per_minute: Vec<String> = samples
        .iter()
        .map(|(rss, used, keys)| match store {
            StoreKind::Redis => format!("{rss:.0}/{used:.0}/{keys}"),
            StoreKind::Memory | StoreKind::Cluster => format!("{rss:.0}"),
        })
        .collect();
    let errors = errors.load(Ordering::Relaxed);
    let log = if event_log && store == StoreKind::Redis {
        let lengths: Vec<String> = log_lengths.iter().map(u64::to_string).collect();
        format!("; events in the log per minute: {}", lengths.join(", "))
    } else {
        String::new()
    };
    let (measured, met) = match store {
        StoreKind::Redis => (
            format!(
                "{minutes} min; {matched} rides matched; {errors} failed calls; per minute RSS MiB/Redis used_memory MiB/DBSIZE: {}{log}; last half: RSS {rss_growth:+.1}%, used_memory {redis_growth:+.1}%, DBSIZE {keys_growth:+.1}%",
                per_minute.join(", ")
            ),
            rss_growth <= 5.0 && redis_growth <= 5.0 && keys_growth <= 5.0,
        ),
        StoreKind::Memory | StoreKind::Cluster => (
            format!(
                "{minutes} min; {matched} rides matched; {errors} failed calls; RSS MiB per minute: {}; last half: {rss_growth:+.1}%",
                per_minute.join(", ")
            ),
            rss_growth <= 5.0,
        ),
    };
    Ok(Row {
        scenario: "soak",
        store,
        flags: svc.flags.clone(),
        measured,
        reference: "—".into(),
        result: format!("{rss_growth:+.1}% RSS over the last half"),
        target: "≤ +5% over the last five minutes".into(),
        met: Some(met && matched > 0 && minutes >= 10),
        cpu_secs: f64::NAN,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}

fn store_name(store: StoreKind) -> &'static str {
    match store {
        StoreKind::Memory | StoreKind::Cluster => "memory",
        StoreKind::Redis => "redis",
    }
}

/// 20 clients without a token each send a 60 MB WebSocket message to a
/// service that verifies tokens: its RSS afterwards, against idle.
pub async fn oversized_messages(redis: &Redis) -> Result<Row> {
    let svc = service(
        StoreKind::Memory,
        redis,
        &["--jwt-secret", "a-secret-of-at-least-16-bytes"],
    )
    .await?;
    let idle = svc.stats();
    let message = Arc::new("x".repeat(60 * 1024 * 1024));
    let refused = join_all((0..20).map(|_| {
        let (ws, message) = (svc.ws_url.clone(), message.clone());
        async move {
            let mut request = ws.into_client_request().ok()?;
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static("graphql-transport-ws"),
            );
            let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
            config.max_message_size = None;
            config.max_frame_size = None;
            let (mut socket, _) =
                tokio_tungstenite::connect_async_with_config(request, Some(config), false)
                    .await
                    .ok()?;
            let _ = socket.send(Message::text(message.as_str())).await;
            // The server's answer: a close frame with 1009.
            while let Some(Ok(frame)) = socket.next().await {
                if let Message::Close(Some(close)) = frame {
                    return Some(u16::from(close.code));
                }
            }
            None
        }
    }))
    .await;
    let closed_1009 = refused.iter().filter(|c| **c == Some(1009)).count();
    let after = svc.stats();
    let grown = mib(after.rss_kib) - mib(idle.rss_kib);
    Ok(Row {
        scenario: "ws-oversized",
        store: StoreKind::Memory,
        flags: svc.flags.clone(),
        measured: format!(
            "20 clients without a token each sent a 60 MB message: {closed_1009} closed with 1009; RSS {:.1} MiB idle, {:.1} MiB after ({grown:+.1} MiB), peak {:.1} MiB",
            mib(idle.rss_kib),
            mib(after.rss_kib),
            mib(after.peak_rss_kib)
        ),
        reference: "—".into(),
        result: format!("{grown:+.1} MiB"),
        target: "< +50 MiB over idle".into(),
        met: Some(grown < 50.0 && closed_1009 == 20),
        cpu_secs: f64::NAN,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}
