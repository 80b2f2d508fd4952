//! `updateLocation` over HTTP, 64 connections, 10,000 drivers, against
//! `redis-benchmark -c 50` GEOADD on the same Redis: once with the limits
//! relaxed (drivers jump between random points), once with the defaults on
//! (each driver creeps a metre per report, as a real one would).

use std::time::Duration;

use serde_json::json;

use super::{mib, point, service, RELAXED, UPDATE};
use crate::{
    client::{http_load, one_unless_errors},
    error::Result,
    procs::Redis,
    report::Row,
    StoreKind,
};

const DRIVERS: usize = 10_000;

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    let reference = redis.benchmark(
        50,
        1,
        200_000,
        &["GEOADD", "bench:ref", "-70.6", "-33.4", "m:__rand_int__"],
    )?;
    let relaxed = measure(store, redis, RELAXED, reference, |i| {
        let (lat, lng) = point(i as u64, 15.0);
        (format!("d{}", i % DRIVERS), lat, lng)
    })
    .await?;
    let defaults = measure(store, redis, &[], reference, |i| {
        // Driver i % 10,000 at its own place, a metre further each report:
        // plausible at any rate this load reaches.
        let (lat, lng) = point((i % DRIVERS) as u64, 15.0);
        let step = (i / DRIVERS) as f64;
        (format!("w{}", i % DRIVERS), lat + step * 0.000_01, lng)
    })
    .await?;
    Ok(vec![relaxed, defaults])
}

async fn measure(
    store: StoreKind,
    redis: &Redis,
    flags: &[&str],
    reference: f64,
    report: fn(usize) -> (String, f64, f64),
) -> Result<Row> {
    let svc = service(store, redis, flags).await?;
    let before = svc.stats();
    let redis_before = redis.stats();
    let mut conn = redis.connection().await?;
    let _: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await;
    let run = http_load(
        &svc.url,
        64,
        300_000,
        Duration::from_secs(20),
        move |i| {
            let (d, lat, lng) = report(i);
            json!({"query": UPDATE, "variables": {"d": d, "lat": lat, "lng": lng}}).to_string()
        },
        one_unless_errors,
    )
    .await;
    let after = svc.stats();
    let redis_cpu = redis.stats().cpu_secs - redis_before.cpu_secs;
    let (calls, usec) = redis.command_stats("fcall").await;
    // Per accepted report, not per call: the group commit carries many
    // single reports in one call.
    let script = usec / (run.units.max(1) as f64);
    let per_call = run.units as f64 / calls.max(1.0);
    let rate = run.per_sec();
    // Issue 25's targets: Redis ≥ 0.25× (it was 0.12–0.15×); memory not
    // lower than before (≥ 0.35× in the run that set the target).
    let (target, floor) = match store {
        StoreKind::Memory => ("≥ 0.35×", 0.35),
        StoreKind::Redis | StoreKind::Cluster => ("≥ 0.25×", 0.25),
    };
    let redis_note = match store {
        StoreKind::Redis => format!(
            "; Redis busy {:.0}%, {script:.1} µs of Redis per report, {per_call:.1} reports per FCALL",
            redis_cpu / run.elapsed.as_secs_f64() * 100.0
        ),
        StoreKind::Memory | StoreKind::Cluster => String::new(),
    };
    Ok(Row {
        scenario: "ingest",
        store,
        flags: svc.flags.clone(),
        measured: format!(
            "{rate:.0} updates/s ({} of {} requests failed){redis_note}",
            run.errors, run.requests
        ),
        reference: format!("GEOADD -c 50: {reference:.0}/s"),
        result: format!("{:.2}×", rate / reference),
        target: target.into(),
        met: Some(rate / reference >= floor && run.errors == 0),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}
