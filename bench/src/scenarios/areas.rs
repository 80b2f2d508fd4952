//! Several cities on a Redis Cluster: four areas whose slots spread over a
//! local three-node Cluster, batched reports spread over the four, and the
//! same load on one Redis in the same run. Positions per second, and each
//! node's commands per second, so the spread is visible.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};
use test_support::RedisCluster;

use super::{mib, BATCH, RELAXED};
use crate::{
    client::{accepted, http_load},
    error::{BenchError, Result},
    procs::{commands_processed, Redis, Service},
    report::Row,
    StoreKind,
};

const AREAS: usize = 4;
const DRIVERS: usize = 40_000;
const SIZE: usize = 1000;
const BATCHES: usize = 200;

/// Four areas side by side (0.3° squares), named so that their slots cover
/// every node of `cluster`.
async fn four_areas(cluster: &RedisCluster) -> (Vec<String>, Value) {
    let mut chosen: Vec<(String, u16)> = Vec::new();
    let mut n = 0;
    while chosen.len() < AREAS && n < 1000 {
        let id = format!("city{n}");
        n += 1;
        let node = cluster.primary_of(&format!("{{tracking:{id}}}")).await;
        let nodes: std::collections::HashSet<u16> = chosen.iter().map(|(_, p)| *p).collect();
        // Every node first, then any.
        if nodes.len() < 3 && nodes.contains(&node) {
            continue;
        }
        chosen.push((id, node));
    }
    let features: Vec<Value> = chosen
        .iter()
        .enumerate()
        .map(|(i, (id, _))| {
            let west = -70.8 + i as f64 * 0.3;
            let east = west + 0.3;
            json!({"type": "Feature", "properties": {"id": id}, "geometry": {"type": "Polygon",
                "coordinates": [[[west, -33.6], [east, -33.6], [east, -33.3], [west, -33.3], [west, -33.6]]]}})
        })
        .collect();
    (
        chosen.into_iter().map(|(id, _)| id).collect(),
        json!({"type": "FeatureCollection", "features": features}),
    )
}

/// Driver `i`'s position: in area `i % 4`, a few metres on each round.
fn body(batch: usize, round: usize) -> String {
    let updates: Vec<Value> = (batch * SIZE..(batch + 1) * SIZE)
        .map(|i| {
            let d = i % DRIVERS;
            let area = d % AREAS;
            let lng = -70.8 + area as f64 * 0.3 + 0.01 + (d / AREAS % 280) as f64 * 0.001;
            let lat = -33.59 + (d / AREAS / 280) as f64 * 0.008 + round as f64 * 0.000_03;
            json!({"driverId": format!("a{d}"), "lat": lat, "lng": lng})
        })
        .collect();
    json!({"query": BATCH, "variables": {"u": updates}}).to_string()
}

/// Loads the fleet once, then measures `BATCHES` batches.
async fn drive(svc: &Service) -> Result<(f64, usize)> {
    let load = |round: usize, batches: usize| {
        let bodies: Arc<Vec<String>> = Arc::new((0..batches).map(|b| body(b, round)).collect());
        http_load(
            &svc.url,
            4,
            batches,
            Duration::from_secs(120),
            move |i| bodies[i].clone(),
            accepted,
        )
    };
    let fleet = load(0, DRIVERS / SIZE).await;
    if fleet.units != DRIVERS {
        return Err(BenchError::Unexpected(format!(
            "the fleet was not loaded: {} of {DRIVERS}",
            fleet.units
        )));
    }
    let run = load(1, BATCHES).await;
    Ok((run.per_sec(), run.errors))
}

/// `requestDriver` round trips, one after another: p50 and p99 in ms.
async fn request_latency(svc: &Service) -> Result<(f64, f64)> {
    let http = reqwest::Client::new();
    let mut ms = Vec::with_capacity(RIDES);
    for i in 0..RIDES {
        let sent = std::time::Instant::now();
        crate::client::gql(
            &http,
            &svc.url,
            super::REQUEST,
            json!({"r": format!("w{i}"), "lat": -33.45, "lng": -70.65 + (i % 100) as f64 * 0.001}),
        )
        .await?;
        ms.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((
        crate::report::percentile(&ms, 50.0),
        crate::report::percentile(&ms, 99.0),
    ))
}

/// Rides requested to time `WAIT 1`.
const RIDES: usize = 500;

/// What acknowledging a ride only once a replica has it costs: the same
/// requests on a Cluster with replicas (`WAIT 1` after each ride write) and
/// on one without.
async fn wait_cost() -> Result<Row> {
    let mut figures = Vec::new();
    for replicas in [0, 1] {
        let cluster = RedisCluster::start(3, replicas).await;
        let nodes = cluster.urls().join(",");
        let svc = Service::start(&["--redis-cluster", &nodes], RELAXED).await?;
        figures.push((request_latency(&svc).await?, svc.flags.clone()));
    }
    let ((p50, p99), flags) = figures[1].clone();
    let ((r50, r99), _) = figures[0].clone();
    Ok(Row {
        scenario: "wait-1",
        store: StoreKind::Cluster,
        flags,
        measured: format!(
            "{RIDES} requestDriver one after another, 3 primaries with a replica each (each ride write waits for a replica): p50 {p50:.2} ms, p99 {p99:.2} ms"
        ),
        reference: format!("the same on 3 primaries without replicas (no wait): p50 {r50:.2} ms, p99 {r99:.2} ms"),
        result: format!("+{:.2} ms at p50", p50 - r50),
        target: "— (reported)".into(),
        met: None,
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    })
}

/// `requestDriver` in area `area` of [`four_areas`], `WAVE` at once, `WAVES`
/// times: every latency in ms (its clock starts when the request is sent)
/// and how many failed.
async fn wave_latency(svc: &Service, area: usize, tag: &str) -> Result<(Vec<f64>, usize)> {
    let http = reqwest::Client::new();
    let mut ms = Vec::with_capacity(WAVE * WAVES);
    let mut failed = 0;
    for wave in 0..WAVES {
        let answers = futures_util::future::join_all((0..WAVE).map(|i| {
            let http = &http;
            async move {
                let sent = std::time::Instant::now();
                let answer = crate::client::gql(
                    http,
                    &svc.url,
                    super::REQUEST,
                    json!({"r": format!("{tag}-{wave}-{i}"), "lat": -33.45,
                        "lng": -70.8 + area as f64 * 0.3 + 0.01 + i as f64 * 0.001}),
                )
                .await;
                (answer, sent.elapsed().as_secs_f64() * 1000.0)
            }
        }))
        .await;
        for (answer, took) in answers {
            match answer {
                Ok(_) => ms.push(took),
                _ => failed += 1,
            }
        }
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms, failed))
}

/// Rides at once, and rounds of them, in the failover row.
const WAVE: usize = 20;
const WAVES: usize = 10;

/// Writes after a failover: four areas on a Cluster with a replica per
/// primary; the primary of the first area SIGKILLed and replaced by its
/// replica (which has none of its own). Then waves of `requestDriver` in
/// that area and in another, in the same run: the failed-over area's p99
/// within 2× the other's, and nothing failed.
async fn after_failover() -> Result<Row> {
    let cluster = RedisCluster::start(3, 1).await;
    let (ids, file) = four_areas(&cluster).await;
    let path = std::env::temp_dir().join(format!(
        "tracking-bench-failover-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, file.to_string()).map_err(|e| BenchError::Process(e.to_string()))?;
    let path = path.to_string_lossy().into_owned();
    let nodes = cluster.urls().join(",");
    let svc = Service::start(&["--redis-cluster", &nodes, "--areas", &path], RELAXED).await?;
    let tag = format!("{{tracking:{}}}", ids[0]);
    let before = cluster.primary_of(&tag).await;
    // Another area on another node, as the reference.
    let mut other = 1;
    for (i, id) in ids.iter().enumerate().skip(1) {
        if cluster.primary_of(&format!("{{tracking:{id}}}")).await != before {
            other = i;
            break;
        }
    }
    cluster.kill(before);
    cluster.wait_healed(&tag).await;
    // Until the area takes writes again (the client learns the new primary).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while wave_latency(&svc, 0, "probe").await?.1 > 0 {
        if std::time::Instant::now() > deadline {
            return Err(BenchError::Process(
                "the area never took writes again".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (failed_over, failed_a) = wave_latency(&svc, 0, "after").await?;
    let (reference, failed_b) = wave_latency(&svc, other, "other").await?;
    let p99 = crate::report::percentile(&failed_over, 99.0);
    let r99 = crate::report::percentile(&reference, 99.0);
    let _ = std::fs::remove_file(&path);
    Ok(Row {
        scenario: "failover-writes",
        store: StoreKind::Cluster,
        flags: svc.flags.clone(),
        measured: format!(
            "after the primary of {} was SIGKILLed (its replica took over, with none of its own): {WAVES} waves of {WAVE} requestDriver at once there: p50 {:.2} ms, p99 {p99:.2} ms, {failed_a} failed",
            ids[0],
            crate::report::percentile(&failed_over, 50.0)
        ),
        reference: format!(
            "the same waves in {} (a primary with its replica): p50 {:.2} ms, p99 {r99:.2} ms, {failed_b} failed",
            ids[other],
            crate::report::percentile(&reference, 50.0)
        ),
        result: format!("{:.2}× at p99", p99 / r99),
        target: "≤ 2× at p99, none failed".into(),
        met: Some(p99 <= 2.0 * r99 && failed_a == 0 && failed_b == 0),
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    })
}

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    if store != StoreKind::Redis {
        return Ok(Vec::new());
    }
    let waiting = wait_cost().await?;
    let failover = after_failover().await?;
    let cluster = RedisCluster::start(3, 0).await;
    let (ids, file) = four_areas(&cluster).await;
    let path =
        std::env::temp_dir().join(format!("tracking-bench-areas-{}.json", std::process::id()));
    std::fs::write(&path, file.to_string()).map_err(|e| BenchError::Process(e.to_string()))?;
    let path = path.to_string_lossy().into_owned();

    // One Redis, the same four areas.
    let single = Service::start(&["--redis-url", &redis.url(), "--areas", &path], RELAXED).await?;
    let (single_rate, single_errors) = drive(&single).await?;
    drop(single);

    // The Cluster.
    let urls = cluster.urls();
    let nodes = urls.join(",");
    let svc = Service::start(&["--redis-cluster", &nodes, "--areas", &path], RELAXED).await?;
    let before = svc.stats();
    let started: Vec<u64> =
        futures_util::future::join_all(urls.iter().map(|u| commands_processed(u))).await;
    let clock = std::time::Instant::now();
    let (rate, errors) = drive(&svc).await?;
    let secs = clock.elapsed().as_secs_f64();
    let ended: Vec<u64> =
        futures_util::future::join_all(urls.iter().map(|u| commands_processed(u))).await;
    let after = svc.stats();
    let per_node: Vec<f64> = started
        .iter()
        .zip(&ended)
        .map(|(a, b)| b.saturating_sub(*a) as f64 / secs)
        .collect();
    let total: f64 = per_node.iter().sum();
    let spread = per_node
        .iter()
        .map(|c| format!("{c:.0}"))
        .collect::<Vec<_>>()
        .join(" / ");
    let every_node_busy = per_node.iter().all(|c| *c >= total * 0.15);
    let _ = std::fs::remove_file(&path);
    Ok(vec![waiting, failover, Row {
        scenario: "areas",
        store: StoreKind::Cluster,
        flags: svc.flags.clone(),
        measured: format!(
            "4 areas ({}) on 3 primaries, {DRIVERS} drivers, batches of {SIZE} spread over them: {rate:.0} positions/s ({errors} calls failed); commands/s per node: {spread}",
            ids.join(", ")
        ),
        reference: format!(
            "the same four areas and load on one Redis: {single_rate:.0} positions/s ({single_errors} calls failed)"
        ),
        result: format!("{:.2}×; every node carries its areas", rate / single_rate),
        target: "every node ≥ 15% of the commands".into(),
        met: Some(every_node_busy && errors == 0 && single_errors == 0),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    }])
}
