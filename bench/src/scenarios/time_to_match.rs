//! 1,000 rides searching with nobody near; drivers then appear one by one
//! near them: the time from sending the driver's `updateLocation` to the
//! rider's DRIVER_FOUND arriving on its WebSocket, with a 30 s search
//! interval (so only a wake-up explains a quick match).
//!
//! The clock starts when the request is sent, not when its response
//! arrives: the event is published inside the store operation and often
//! beats the response. How many did is reported.
//!
//! The reference is the seed measured in this run, not typed in: a model of
//! its V2 loop (one task per ride, a 30 s ticker whose first search is at
//! the first tick, `GEOSEARCH … 5 km ASC COUNT 1` on a plain GEO set in the
//! run's Redis), with drivers appearing at random moments: the time from
//! sending their `GEOADD` to the ride's task finding them.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use tokio::sync::{OnceCell, Semaphore};

use super::{mib, request_rides, service, RIDE_STATUS, UPDATE};
use crate::{
    client::{gql, next_data, subscribe},
    error::{BenchError, Result},
    procs::Redis,
    report::{percentile, Row},
    StoreKind,
};

const RIDES: usize = 1000;
/// The seed's tick.
const SEED_TICK: Duration = Duration::from_secs(30);
/// Rides in the seed model (their drivers appear within one tick).
const SEED_RIDES: usize = 200;

/// The seed model's figures, measured once per run and shown on both rows.
static SEED: OnceCell<String> = OnceCell::const_new();

/// Rides on a grid 0.1° apart (about 11 km: more than twice the match radius).
pub fn place(i: usize) -> (f64, f64) {
    (-33.0 - (i / 32) as f64 * 0.1, -70.0 - (i % 32) as f64 * 0.1)
}

/// Driver `m{i}` reports half a kilometre from ride `i`'s pickup: when the
/// report was sent, and when its response came.
pub async fn driver_appears(
    http: &reqwest::Client,
    url: &str,
    i: usize,
) -> Result<(Instant, Instant)> {
    let (lat, lng) = place(i);
    let sent = Instant::now();
    gql(
        http,
        url,
        UPDATE,
        json!({"d": format!("m{i}"), "lat": lat + 0.005, "lng": lng}),
    )
    .await?;
    Ok((sent, Instant::now()))
}

/// The seed model's figures (measured at the first call of the run).
pub async fn seed_reference(redis: &Redis) -> Result<String> {
    Ok(SEED.get_or_try_init(|| seed_model(redis)).await?.clone())
}

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Row> {
    let reference = seed_reference(redis).await?;
    let svc = service(
        store,
        redis,
        &["--search-interval", "30s", "--request-timeout", "10m"],
    )
    .await?;
    let before = svc.stats();
    let http = reqwest::Client::new();
    let ids = request_rides(&svc.url, "r", RIDES, 1, place).await?;
    // One subscriber per ride; each notes when DRIVER_FOUND arrives.
    let limit = Arc::new(Semaphore::new(64));
    let sockets = join_all(ids.iter().map(|id| {
        let (limit, ws) = (limit.clone(), svc.ws_url.clone());
        async move {
            let _permit = limit.acquire().await;
            subscribe(&ws, RIDE_STATUS, json!({"id": id})).await
        }
    }))
    .await;
    let mut arrivals = Vec::with_capacity(RIDES);
    for subscription in sockets {
        let mut subscription = subscription?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            while let Ok(data) = next_data(&mut subscription).await {
                if data["rideStatus"]["status"] == "DRIVER_FOUND" {
                    let _ = tx.send(Instant::now());
                    return;
                }
            }
        });
        arrivals.push(rx);
    }
    let mut latencies = Vec::with_capacity(RIDES);
    let mut before_response = 0;
    for (i, arrival) in arrivals.into_iter().enumerate() {
        let (sent, answered) = driver_appears(&http, &svc.url, i).await?;
        let found = tokio::time::timeout(Duration::from_secs(35), arrival)
            .await
            .map_err(|_| BenchError::Unexpected(format!("ride {i} was not matched")))?
            .map_err(|_| BenchError::Unexpected(format!("ride {i}'s socket closed")))?;
        if found < answered {
            before_response += 1;
        }
        latencies.push(found.duration_since(sent).as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    let after = svc.stats();
    Ok(Row {
        scenario: "time-to-match",
        store,
        flags: svc.flags.clone(),
        measured: format!(
            "from the driver's request sent: p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms; {before_response} of {RIDES} events arrived before their request's response",
            latencies.last().copied().unwrap_or(f64::NAN)
        ),
        reference,
        result: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
        target: "p50 ≤ 5 ms, p99 ≤ 25 ms".into(),
        met: Some(p50 <= 5.0 && p99 <= 25.0),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}

/// The seed's V2 search loop, run for real against the run's Redis.
async fn seed_model(redis: &Redis) -> Result<String> {
    let key = "bench:seed-ttm";
    let mut conn = redis.connection().await?;
    let _: () = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
    let start = tokio::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(7);
    let offsets: Vec<Duration> = (0..SEED_RIDES)
        .map(|_| SEED_TICK.mul_f64(rng.random::<f64>()))
        .collect();
    // One task per ride, as the seed's goroutines: first search at +30 s.
    let searches = (0..SEED_RIDES).map(|i| {
        let mut conn = conn.clone();
        async move {
            let (lat, lng) = place(i);
            let mut tick = tokio::time::interval_at(start + SEED_TICK, SEED_TICK);
            loop {
                tick.tick().await;
                let found: Vec<String> = redis::cmd("GEOSEARCH")
                    .arg(key)
                    .arg("FROMLONLAT")
                    .arg(lng)
                    .arg(lat)
                    .arg(&["BYRADIUS", "5", "km", "ASC", "COUNT", "1"][..])
                    .query_async(&mut conn)
                    .await?;
                if !found.is_empty() {
                    return Ok::<_, BenchError>(Instant::now());
                }
                if start.elapsed() > SEED_TICK * 3 {
                    return Err(BenchError::Unexpected(format!(
                        "the seed model never found ride {i}'s driver"
                    )));
                }
            }
        }
    });
    // Drivers appear at random moments within the first tick.
    let arrivals = offsets.iter().enumerate().map(|(i, offset)| {
        let mut conn = conn.clone();
        let offset = *offset;
        async move {
            tokio::time::sleep_until(start + offset).await;
            let (lat, lng) = place(i);
            let sent = Instant::now();
            let _: () = redis::cmd("GEOADD")
                .arg(key)
                .arg(lng)
                .arg(lat + 0.005)
                .arg(format!("m{i}"))
                .query_async(&mut conn)
                .await?;
            Ok::<_, BenchError>(sent)
        }
    });
    let (found, sent) = tokio::join!(join_all(searches), join_all(arrivals));
    let mut latencies = Vec::with_capacity(SEED_RIDES);
    for (found, sent) in found.into_iter().zip(sent) {
        latencies.push(found?.duration_since(sent?).as_secs_f64());
    }
    let _: () = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
    latencies.sort_by(f64::total_cmp);
    Ok(format!(
        "the seed's 30 s tick, measured here on {SEED_RIDES} rides: p50 {:.1} s, p99 {:.1} s",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    ))
}
