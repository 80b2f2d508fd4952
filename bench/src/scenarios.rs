//! The scenarios, each measured against its reference in the same run.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use futures_util::{future::join_all, SinkExt, StreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tracking::{
    domain::{Coordinates, Limit, RadiusKm},
    store::{memory::MemoryStore, redis::RedisSettings, redis::RedisStore, LocationReport, Store},
};

use crate::{
    client::{connect, gql, http_load, next_json, percentile, subscribe},
    procs::{Redis, Service},
    Row, StoreKind,
};

const CENTER: (f64, f64) = (-33.4489, -70.6693);
const UPDATE: &str = "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }";
const BATCH: &str =
    "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }";
const REQUEST: &str = "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }";
const RIDE_STATUS: &str = "subscription($id: ID!) { rideStatus(rideId: $id) { status } }";

/// A point within `km` of the centre, the same for the same `seed`.
fn point(seed: u64, km: f64) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let r = km * rng.random::<f64>().sqrt();
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    let lat = CENTER.0 + r * a.cos() / 111.2;
    let lng = CENTER.1 + r * a.sin() / (111.2 * CENTER.0.to_radians().cos());
    (lat, lng)
}

async fn service(store: StoreKind, redis: &Redis, extra: &[&str]) -> Result<Service, String> {
    let url = redis.url();
    Service::start((store == StoreKind::Redis).then_some(url.as_str()), extra).await
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `updateLocation` over HTTP, 64 connections, 10,000 drivers, against
/// `redis-benchmark -c 50` GEOADD on the same Redis.
pub async fn ingest(store: StoreKind, redis: &Redis) -> Result<Row, String> {
    let reference = redis.benchmark(
        50,
        1,
        200_000,
        &["GEOADD", "bench:ref", "-70.6", "-33.4", "m:__rand_int__"],
    )?;
    let svc = service(store, redis, &[]).await?;
    let before = svc.stats();
    let redis_before = redis.stats();
    let mut conn = redis.connection().await?;
    let _: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await;
    let run = http_load(&svc.url, 64, 300_000, Duration::from_secs(20), |i| {
        let (lat, lng) = point(i as u64, 15.0);
        json!({"query": UPDATE, "variables": {"d": format!("d{}", i % 10_000), "lat": lat, "lng": lng}}).to_string()
    })
    .await;
    let after = svc.stats();
    let redis_cpu = redis.stats().cpu_secs - redis_before.cpu_secs;
    let script = redis.usec_per_call("evalsha").await;
    let rate = run.per_sec();
    let redis_note = match store {
        StoreKind::Redis => format!(
            "; Redis busy {:.0}% ({script:.1} µs per script)",
            redis_cpu / run.elapsed.as_secs_f64() * 100.0
        ),
        StoreKind::Memory => String::new(),
    };
    Ok(Row {
        scenario: "ingest",
        store,
        measured: format!("{rate:.0} updates/s ({} errors){redis_note}", run.errors),
        reference: format!("GEOADD -c 50: {reference:.0}/s"),
        result: format!("{:.2}×", rate / reference),
        target: "≥ 0.3×".into(),
        met: Some(rate / reference >= 0.3 && run.errors == 0),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}

fn batch_body(batch: usize, size: usize) -> Value {
    let updates: Vec<Value> = (0..size)
        .map(|j| {
            let i = batch * size + j;
            let (lat, lng) = point(i as u64, 15.0);
            json!({"driverId": format!("d{}", i % 10_000), "lat": lat, "lng": lng})
        })
        .collect();
    json!({"u": updates})
}

/// `updateLocations` in batches of 1,000 over HTTP and over one WebSocket,
/// against `redis-benchmark -P 16` GEOADD (Redis's own write ceiling).
pub async fn ingest_batch(store: StoreKind, redis: &Redis) -> Result<Vec<Row>, String> {
    const SIZE: usize = 1000;
    let reference = redis.benchmark(
        50,
        16,
        2_000_000,
        &["GEOADD", "bench:ref", "-70.6", "-33.4", "m:__rand_int__"],
    )?;
    // The bodies are made before the clock starts: the client's JSON work
    // is not what is measured.
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..400)
            .map(|i| json!({"query": BATCH, "variables": batch_body(i, SIZE)}).to_string())
            .collect(),
    );
    let frames: Vec<String> = (0..400)
        .map(|i| {
            json!({"id": i.to_string(), "type": "subscribe", "payload": {"query": BATCH, "variables": batch_body(i, SIZE)}})
                .to_string()
        })
        .collect();
    let svc = service(store, redis, &[]).await?;
    let before = svc.stats();
    let http_bodies = bodies.clone();
    let redis_before = redis.stats();
    let run = http_load(&svc.url, 4, 400, Duration::from_secs(20), move |i| {
        http_bodies[i].clone()
    })
    .await;
    let mid = svc.stats();
    let redis_mid = redis.stats();
    let http_rate = run.per_sec() * SIZE as f64;

    // One WebSocket, four batches in flight.
    let mut socket = connect(&svc.ws_url).await?;
    let total = 400;
    let started = Instant::now();
    let (mut sent, mut done, mut errors) = (0usize, 0usize, 0usize);
    while done < total && started.elapsed() < Duration::from_secs(20) {
        while sent < total && sent - done < 4 {
            socket
                .send(Message::text(frames[sent].clone()))
                .await
                .map_err(|e| e.to_string())?;
            sent += 1;
        }
        let message = next_json(&mut socket).await?;
        match message["type"].as_str() {
            Some("next") if message["payload"].get("errors").is_some() => errors += 1,
            Some("complete") => done += 1,
            Some("error") => {
                errors += 1;
                done += 1;
            }
            _ => {}
        }
    }
    let ws_rate = (done - errors.min(done)) as f64 * SIZE as f64 / started.elapsed().as_secs_f64();
    let after = svc.stats();
    let redis_after = redis.stats();
    let ws_elapsed = started.elapsed().as_secs_f64();
    let busy = |cpu: f64, secs: f64| match store {
        StoreKind::Redis => format!("; Redis busy {:.0}%", cpu / secs * 100.0),
        StoreKind::Memory => String::new(),
    };
    let http_busy = busy(
        redis_mid.cpu_secs - redis_before.cpu_secs,
        run.elapsed.as_secs_f64(),
    );
    let ws_busy = busy(redis_after.cpu_secs - redis_mid.cpu_secs, ws_elapsed);
    let row = |transport: &str, rate: f64, errors: usize, cpu: f64, busy: &str| Row {
        scenario: "ingest-batch",
        store,
        measured: format!("{rate:.0} positions/s over {transport} ({errors} errors){busy}"),
        reference: format!("GEOADD -P 16: {reference:.0}/s"),
        result: format!("{:.2}×", rate / reference),
        target: "≥ 0.4×".into(),
        met: Some(rate / reference >= 0.4 && errors == 0),
        cpu_secs: cpu,
        peak_rss_mib: mib(after.peak_rss_kib),
    };
    Ok(vec![
        row(
            "HTTP",
            http_rate,
            run.errors,
            mid.cpu_secs - before.cpu_secs,
            &http_busy,
        ),
        row(
            "one WebSocket",
            ws_rate,
            errors,
            after.cpu_secs - mid.cpu_secs,
            &ws_busy,
        ),
    ])
}

/// The seed's search: the nearest driver within 5 km, sorting every driver
/// in that circle.
fn seed_query(at: Coordinates) -> redis::Cmd {
    let mut cmd = redis::cmd("GEOSEARCH");
    cmd.arg("bench:seed")
        .arg("FROMLONLAT")
        .arg(at.lng())
        .arg(at.lat())
        .arg(&["BYRADIUS", "5", "km", "ASC", "COUNT", "1"][..]);
    cmd
}

/// Match searches among 100,000 drivers within 20 km, against the seed's
/// query (`GEOSEARCH … BYRADIUS 5 km ASC COUNT 1`) on the same data.
pub async fn search(store: StoreKind, redis: &Redis) -> Result<Row, String> {
    const DRIVERS: usize = 100_000;
    let ttl = Duration::from_secs(3600);
    let radius = RadiusKm::parse(5.0).map_err(|e| e.to_string())?;
    let limit = Limit::parse(1).map_err(|e| e.to_string())?;
    let ours: Arc<dyn Store> = match store {
        StoreKind::Memory => Arc::new(MemoryStore::new(ttl)),
        StoreKind::Redis => Arc::new(
            RedisStore::connect(RedisSettings {
                url: redis.url(),
                prefix: "bench-search".into(),
                driver_ttl: ttl,
                match_radius: radius,
                lease: Duration::from_secs(5),
            })
            .await
            .map_err(|e| e.to_string())?,
        ),
    };
    // The same 100,000 drivers in our store and in a plain GEO set.
    let mut conn = redis.connection().await?;
    let now = Utc::now();
    for chunk in 0..DRIVERS / 1000 {
        let mut reports = Vec::with_capacity(1000);
        let mut pipe = redis::pipe();
        for j in 0..1000 {
            let i = chunk * 1000 + j;
            let (lat, lng) = point(1_000_000 + i as u64, 20.0);
            let id = format!("s{i}");
            pipe.cmd("GEOADD")
                .arg("bench:seed")
                .arg(lng)
                .arg(lat)
                .arg(&id)
                .ignore();
            reports.push(LocationReport {
                driver: tracking::domain::DriverId::parse(&id).map_err(|e| e.to_string())?,
                at: Coordinates::parse(lat, lng).map_err(|e| e.to_string())?,
                taken_at: now,
            });
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        ours.update_locations(&reports, now, 1e6)
            .await
            .map_err(|e| e.to_string())?;
    }
    let probe = |i: usize| {
        let (lat, lng) = point(2_000_000 + i as u64, 15.0);
        Coordinates::parse(lat, lng).unwrap_or_else(|_| unreachable!("points are in range"))
    };

    // The same driver found, for 200 places.
    let mut same = 0;
    for i in 0..200 {
        let at = probe(i);
        let mine = ours
            .nearby_drivers(at, radius, limit, Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        let seed: Vec<(String, f64)> = seed_query(at)
            .arg("WITHDIST")
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let agree = match (mine.first(), seed.first()) {
            (Some(m), Some((id, km))) => {
                m.driver.id.as_str() == id || (m.distance_km - km).abs() < 0.001
            }
            (None, None) => true,
            _ => false,
        };
        same += usize::from(agree);
    }

    // Rates, 16 concurrent searchers each, 5 s.
    let window = Duration::from_secs(5);
    let count = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    join_all((0..16).map(|w| {
        let (ours, count) = (ours.clone(), count.clone());
        async move {
            let mut i = w;
            while started.elapsed() < window {
                if ours
                    .nearby_drivers(probe(i % 10_000), radius, limit, Utc::now())
                    .await
                    .is_ok()
                {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                i += 16;
            }
        }
    }))
    .await;
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let count = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    join_all((0..16).map(|w| {
        let (mut conn, count) = (conn.clone(), count.clone());
        async move {
            let mut i = w;
            while started.elapsed() < window {
                let at = probe(i % 10_000);
                let found: redis::RedisResult<Vec<String>> =
                    seed_query(at).query_async(&mut conn).await;
                if found.is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                i += 16;
            }
        }
    }))
    .await;
    let reference = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let _: redis::RedisResult<()> = redis::cmd("FLUSHALL").query_async(&mut conn).await;
    Ok(Row {
        scenario: "search",
        store,
        measured: format!("{rate:.0} searches/s; same driver {same}/200"),
        reference: format!("seed's GEOSEARCH 5 km ASC COUNT 1: {reference:.0}/s"),
        result: format!("{:.0}×", rate / reference),
        target: "≥ 100×, same driver".into(),
        met: Some(rate / reference >= 100.0 && same == 200),
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    })
}

/// 1,000 rides searching with nobody near; drivers then appear one by one
/// near them: time from the driver's `updateLocation` response to the
/// rider's DRIVER_FOUND on its WebSocket, with a 30 s search interval.
pub async fn time_to_match(store: StoreKind, redis: &Redis) -> Result<Row, String> {
    const RIDES: usize = 1000;
    let svc = service(
        store,
        redis,
        &["--search-interval", "30s", "--request-timeout", "10m"],
    )
    .await?;
    let before = svc.stats();
    let http = reqwest::Client::new();
    // Rides on a grid 0.1° apart (about 11 km: more than twice the match radius).
    let place = |i: usize| (-33.0 - (i / 32) as f64 * 0.1, -70.0 - (i % 32) as f64 * 0.1);
    let mut arrivals = Vec::with_capacity(RIDES);
    let mut ids = Vec::with_capacity(RIDES);
    for i in 0..RIDES {
        let (lat, lng) = place(i);
        let ride = gql(
            &http,
            &svc.url,
            REQUEST,
            json!({"r": format!("r{i}"), "lat": lat, "lng": lng}),
        )
        .await?;
        ids.push(
            ride["requestDriver"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    // One subscriber per ride; each notes when DRIVER_FOUND arrives.
    let limit = Arc::new(Semaphore::new(64));
    let sockets = join_all(ids.iter().map(|id| {
        let (limit, ws) = (limit.clone(), svc.ws_url.clone());
        async move {
            let _permit = limit.acquire().await;
            let mut socket = connect(&ws).await?;
            subscribe(&mut socket, "1", RIDE_STATUS, json!({"id": id})).await?;
            next_json(&mut socket).await?;
            Ok::<_, String>(socket)
        }
    }))
    .await;
    for socket in sockets {
        let mut socket = socket?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            while let Ok(message) = next_json(&mut socket).await {
                if message["payload"]["data"]["rideStatus"]["status"] == "DRIVER_FOUND" {
                    let _ = tx.send(Instant::now());
                    return;
                }
            }
        });
        arrivals.push(rx);
    }
    let mut latencies = Vec::with_capacity(RIDES);
    for (i, arrival) in arrivals.into_iter().enumerate() {
        let (lat, lng) = place(i);
        gql(
            &http,
            &svc.url,
            UPDATE,
            json!({"d": format!("m{i}"), "lat": lat + 0.005, "lng": lng}),
        )
        .await?;
        let answered = Instant::now();
        let found = tokio::time::timeout(Duration::from_secs(35), arrival)
            .await
            .map_err(|_| format!("ride {i} was not matched"))?
            .map_err(|_| format!("ride {i}'s socket closed"))?;
        latencies.push(found.saturating_duration_since(answered).as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    let after = svc.stats();
    Ok(Row {
        scenario: "time-to-match",
        store,
        measured: format!(
            "p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms",
            latencies.last().copied().unwrap_or(f64::NAN)
        ),
        reference: "seed: next 30 s tick, p50 15 s, p99 29.7 s".into(),
        result: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
        target: "p50 ≤ 5 ms, p99 ≤ 25 ms".into(),
        met: Some(p50 <= 5.0 && p99 <= 25.0),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}

/// 20,000 WebSockets each holding a `rideStatus` subscription; then every
/// ride is cancelled: delivery time of each event, and memory per socket.
pub async fn subscribers(store: StoreKind, redis: &Redis, count: usize) -> Result<Row, String> {
    let svc = service(
        store,
        redis,
        &[
            "--search-interval",
            "60s",
            "--request-timeout",
            "30m",
            "--max-connections",
            "100000",
        ],
    )
    .await?;
    let http = reqwest::Client::new();
    let ids: Vec<String> = {
        let made = Arc::new(Mutex::new(vec![String::new(); count]));
        let limit = Arc::new(Semaphore::new(64));
        join_all((0..count).map(|i| {
            let (made, limit, http, url) =
                (made.clone(), limit.clone(), http.clone(), svc.url.clone());
            async move {
                let _permit = limit.acquire().await;
                // Far from any driver: they stay SEARCHING.
                let ride = gql(
                    &http,
                    &url,
                    REQUEST,
                    json!({"r": format!("s{i}"), "lat": 10.0, "lng": 10.0}),
                )
                .await?;
                let id = ride["requestDriver"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if let Ok(mut made) = made.lock() {
                    made[i] = id;
                }
                Ok::<_, String>(())
            }
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        let made = made.lock().map_err(|_| "poisoned")?.clone();
        made
    };
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
            let socket = async {
                let mut socket = connect(&ws).await?;
                subscribe(&mut socket, "1", RIDE_STATUS, json!({"id": id})).await?;
                next_json(&mut socket).await?;
                Ok::<_, String>(socket)
            }
            .await;
            drop(permit);
            let mut socket = match socket {
                Ok(socket) => socket,
                Err(error) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert(error);
                    }
                    return;
                }
            };
            ready.fetch_add(1, Ordering::Relaxed);
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    if text.contains("CANCELLED") {
                        if let Ok(mut d) = delivered.lock() {
                            d[i] = Some(Instant::now());
                        }
                        let _ = socket.close(None).await;
                        return;
                    }
                    if text.contains("\"ping\"") {
                        let _ = socket.send(Message::text("{\"type\":\"pong\"}")).await;
                    }
                }
            }
        });
    }
    let setup = Instant::now();
    while ready.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count {
        if setup.elapsed() > Duration::from_secs(300) {
            return Err("subscribers did not connect in time".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = ready.load(Ordering::Relaxed);
    let held = svc.stats();
    let per_socket_kib =
        (held.rss_kib.saturating_sub(base.rss_kib)) as f64 / connected.max(1) as f64;

    // Change every ride's status: cancel each, noting when it was answered.
    let answered: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; count]));
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
            let done = gql(
                &http,
                &url,
                "mutation($id: ID!) { cancelRequest(rideId: $id) { id } }",
                json!({"id": id}),
            )
            .await;
            if done.is_ok() {
                if let Ok(mut a) = answered.lock() {
                    a[i] = Some(Instant::now());
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
    let delivered = delivered.lock().map_err(|_| "poisoned")?.clone();
    let answered = answered.lock().map_err(|_| "poisoned")?.clone();
    let mut latencies: Vec<f64> = delivered
        .iter()
        .zip(&answered)
        .filter_map(|(d, a)| {
            Some(
                d.as_ref()?
                    .saturating_duration_since(*a.as_ref()?)
                    .as_secs_f64(),
            )
        })
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
        measured: format!(
            "{connected} sockets; {got} events, p99 {:.0} ms, max {:.0} ms after their cancel (wave of {count} cancels: {:.1} s); {per_socket_kib:.1} KiB RSS per socket{failures}",
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

/// 10,000 rides searching for their whole timeout with no driver anywhere:
/// the service's CPU and Redis's command rate.
pub async fn searching_load(store: StoreKind, redis: &Redis) -> Result<Row, String> {
    const RIDES: usize = 10_000;
    let timeout = Duration::from_secs(20);
    let svc = service(store, redis, &["--request-timeout", "20s"]).await?;
    let http = reqwest::Client::new();
    let limit = Arc::new(Semaphore::new(64));
    let last = join_all((0..RIDES).map(|i| {
        let (limit, http, url) = (limit.clone(), http.clone(), svc.url.clone());
        async move {
            let _permit = limit.acquire().await;
            let (lat, lng) = point(3_000_000 + i as u64, 15.0);
            gql(
                &http,
                &url,
                REQUEST,
                json!({"r": format!("w{i}"), "lat": lat, "lng": lng}),
            )
            .await
        }
    }))
    .await
    .into_iter()
    .filter_map(Result::ok)
    .filter_map(|r| r["requestDriver"]["id"].as_str().map(str::to_owned))
    .max_by_key(|id| id.parse::<u64>().unwrap_or(0))
    .ok_or("no ride was created")?;
    let before = svc.stats();
    let commands_before = redis.commands_processed().await;
    let started = Instant::now();
    tokio::time::sleep(timeout).await;
    loop {
        let ride = gql(
            &http,
            &svc.url,
            "query($id: ID!) { ride(id: $id) { status } }",
            json!({"id": last}),
        )
        .await?;
        if ride["ride"]["status"] == "EXPIRED" || started.elapsed() > timeout * 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let after = svc.stats();
    let commands = redis
        .commands_processed()
        .await
        .saturating_sub(commands_before) as f64
        / wall;
    let cpu_pct = (after.cpu_secs - before.cpu_secs) / wall * 100.0;
    Ok(Row {
        scenario: "searching-load",
        store,
        measured: format!("{RIDES} rides searching every 2 s: service CPU {cpu_pct:.1}% of a core; Redis {commands:.0} commands/s"),
        reference: "—".into(),
        result: format!("{cpu_pct:.1}% CPU"),
        target: "≤ 50% of one core".into(),
        met: Some(cpu_pct <= 50.0),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}
