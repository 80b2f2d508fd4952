//! What a position report costs Redis, against the floor: `GEOADD` itself.
//!
//! A fleet of 100,000 drivers in one area; then, on the same Redis, the
//! same reports (each driver a few metres on) applied three ways, each
//! phase's `INFO commandstats` read alone (Redis 7 also counts the commands
//! a function runs under their own names, so phases never overlap):
//!
//! - by the service in batches of 1,000 (`updateLocations`);
//! - by the service as single reports (`updateLocation`) from 16 concurrent
//!   callers, which the group commit gathers into shared calls;
//! - by the service as single reports from one caller, one at a time (no
//!   gathering possible);
//! - as bare `GEOADD`s into a plain set of the same 100,000 members: 1,000
//!   members per call, and one per call.
//!
//! Each service row is Redis µs per accepted report: the report function's
//! total time over the reports accepted (not over the calls), with reports
//! per call. The function's calls are told from the service's other calls
//! (its upkeep: sweeps, leases) by the slow log, set to record every
//! command for the phase; `INFO commandstats` counts every `FCALL` as one.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{mib, point, service, BATCH, RELAXED, UPDATE};
use crate::{
    client::{accepted, http_load, one_unless_errors},
    error::{BenchError, Result},
    procs::Redis,
    report::Row,
    StoreKind,
};

const DRIVERS: usize = 100_000;
const SIZE: usize = 1000;
/// Batches measured (each driver moves twice).
const BATCHES: usize = 200;
/// Single updates measured (concurrent callers).
const SINGLES: usize = 20_000;
/// The function single reports go through (the group commit's).
const GROUP: &str = "tracking_v3_update_group";
/// Single updates measured from one caller.
const ALONE: usize = 5_000;

/// Driver `i`'s position at round `round` (a few metres each round).
fn at(i: usize, round: usize) -> (f64, f64) {
    let (lat, lng) = point(9_000_000 + i as u64, 20.0);
    (lat + round as f64 * 0.000_03, lng)
}

fn batch(first: usize, round: usize) -> String {
    let updates: Vec<Value> = (first..first + SIZE)
        .map(|i| {
            let (lat, lng) = at(i % DRIVERS, round);
            json!({"driverId": format!("c{}", i % DRIVERS), "lat": lat, "lng": lng})
        })
        .collect();
    json!({"query": BATCH, "variables": {"u": updates}}).to_string()
}

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    if store != StoreKind::Redis {
        return Ok(Vec::new());
    }
    let svc = service(store, redis, RELAXED).await?;
    // The fleet: every driver once.
    let load = |round: usize, batches: usize| {
        let bodies: Arc<Vec<String>> =
            Arc::new((0..batches).map(|b| batch(b * SIZE, round)).collect());
        http_load(
            &svc.url,
            4,
            batches,
            std::time::Duration::from_secs(120),
            move |i| bodies[i].clone(),
            accepted,
        )
    };
    let fleet = load(0, DRIVERS / SIZE).await;
    if fleet.units != DRIVERS {
        return Err(BenchError::Unexpected(format!(
            "the fleet was not loaded: {} of {DRIVERS} accepted",
            fleet.units
        )));
    }
    // Batches.
    redis.record_calls().await?;
    redis.reset_stats().await?;
    let batches = load(1, BATCHES).await;
    let (calls, usec) = redis.function_stats("tracking_v3_update_batch").await?;
    let batch_inside_us = commands_inside(redis).await / batches.units.max(1) as f64;
    let batch_us = usec / batches.units.max(1) as f64;
    let batch_calls = calls;
    // Single updates: 16 callers, then one.
    let singles = |callers: usize, count: usize, round: usize| {
        http_load(
            &svc.url,
            callers,
            count,
            std::time::Duration::from_secs(120),
            move |i| {
                let (lat, lng) = at(i % DRIVERS, round + i / DRIVERS);
                json!({"query": UPDATE, "variables": {"d": format!("c{}", i % DRIVERS), "lat": lat, "lng": lng}})
                    .to_string()
            },
            one_unless_errors,
        )
    };
    redis.record_calls().await?;
    let gathered = singles(16, SINGLES, 2).await;
    let (single_calls, usec) = redis.function_stats(GROUP).await?;
    let single_us = usec / gathered.units.max(1) as f64;
    redis.record_calls().await?;
    redis.reset_stats().await?;
    let alone = singles(1, ALONE, 3).await;
    let (alone_calls, usec) = redis.function_stats(GROUP).await?;
    let alone_us = usec / alone.units.max(1) as f64;
    // Where a lone report's time goes: the commands the function runs
    // (Redis counts them under their own names too; the upkeep's few calls
    // add a little), and the floor, an FCALL of an empty function with the
    // same arguments.
    let inside_us = commands_inside(redis).await / alone.units.max(1) as f64;
    let floor_us = empty_call_floor(redis).await?;
    let stats = svc.stats();
    // The floor: the same reports as bare GEOADDs into a set of the same size.
    let mut conn = redis.connection().await?;
    let key = "bench:report-cost";
    let _: () = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
    for round in [0, 1] {
        if round == 1 {
            redis.reset_stats().await?;
        }
        for b in 0..DRIVERS / SIZE {
            let mut add = redis::cmd("GEOADD");
            add.arg(key);
            for i in b * SIZE..(b + 1) * SIZE {
                let (lat, lng) = at(i, round);
                add.arg(lng).arg(lat).arg(format!("c{i}"));
            }
            let _: () = add.query_async(&mut conn).await?;
        }
    }
    let (_, usec) = redis.command_stats("geoadd").await;
    let geoadd_batch_us = usec / DRIVERS as f64;
    redis.reset_stats().await?;
    for i in 0..SINGLES {
        let (lat, lng) = at(i % DRIVERS, 2);
        let _: () = redis::cmd("GEOADD")
            .arg(key)
            .arg(lng)
            .arg(lat)
            .arg(format!("c{}", i % DRIVERS))
            .query_async(&mut conn)
            .await?;
    }
    let (calls, usec) = redis.command_stats("geoadd").await;
    let geoadd_single_us = usec / calls.max(1.0);
    let _: () = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
    let failed = batches.errors + gathered.errors + alone.errors;
    let batch_ratio = batch_us / geoadd_batch_us;
    let single_ratio = single_us / geoadd_single_us;
    let alone_ratio = alone_us / geoadd_single_us;
    let per_call = |units: usize, calls: f64| units as f64 / calls.max(1.0);
    Ok(vec![
        Row {
            scenario: "report-cost",
            store,
            flags: svc.flags.clone(),
            measured: format!(
                "in batches of 1,000 ({batch_calls:.0} FCALLs, {:.0} reports per FCALL, {} reports, 100,000 drivers): {batch_us:.2} µs of Redis per report, of which the commands it runs {batch_inside_us:.2} µs",
                per_call(batches.units, batch_calls),
                batches.units
            ),
            reference: format!(
                "bare GEOADD, 1,000 members per call, same reports, same set size: {geoadd_batch_us:.2} µs per member"
            ),
            result: format!("{batch_ratio:.2}×, {batch_us:.2} µs"),
            target: "≤ 2.5×".into(),
            met: Some(batch_ratio <= 2.5 && failed == 0),
            cpu_secs: stats.cpu_secs,
            peak_rss_mib: mib(stats.peak_rss_kib),
        },
        Row {
            scenario: "report-cost",
            store,
            flags: svc.flags.clone(),
            measured: format!(
                "single reports, 16 concurrent callers ({single_calls:.0} FCALLs, {:.1} reports per FCALL, {} reports): {single_us:.2} µs of Redis per report",
                per_call(gathered.units, single_calls),
                gathered.units
            ),
            reference: format!("bare GEOADD of one member: {geoadd_single_us:.2} µs per call"),
            result: format!("{single_ratio:.2}×, {single_us:.2} µs"),
            target: "≤ 1.5×".into(),
            met: Some(single_ratio <= 1.5 && failed == 0),
            cpu_secs: stats.cpu_secs,
            peak_rss_mib: mib(stats.peak_rss_kib),
        },
        Row {
            scenario: "report-cost",
            store,
            flags: svc.flags.clone(),
            measured: format!(
                "single reports, one caller ({alone_calls:.0} FCALLs, {:.2} reports per FCALL, {} reports): {alone_us:.2} µs of Redis per report, of which the commands it runs {inside_us:.2} µs; an empty function's FCALL with the same arguments: {floor_us:.2} µs",
                per_call(alone.units, alone_calls),
                alone.units
            ),
            reference: format!("bare GEOADD of one member: {geoadd_single_us:.2} µs per call"),
            result: format!("{alone_ratio:.2}×, {alone_us:.2} µs"),
            target: "≤ 4×".into(),
            met: Some(alone_ratio <= 4.0 && failed == 0),
            cpu_secs: stats.cpu_secs,
            peak_rss_mib: mib(stats.peak_rss_kib),
        },
    ])
}

/// An FCALL of an empty function with a report's arguments, µs per call
/// (`INFO commandstats`, 5,000 calls): the floor no function goes under.
async fn empty_call_floor(redis: &Redis) -> Result<f64> {
    let mut conn = redis.connection().await?;
    let _: () = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg("#!lua name=bench_floor\nredis.register_function('bench_floor_empty', function(keys, args) return {} end)")
        .query_async(&mut conn)
        .await?;
    redis.reset_stats().await?;
    for _ in 0..5_000 {
        let _: () = redis::cmd("FCALL")
            .arg("bench_floor_empty")
            .arg(1)
            .arg("{tracking}:rides:ids")
            .arg(&[
                "{tracking}",
                "60000",
                "5",
                "604800000",
                "604800000",
                "PUBLISH",
                "10000",
                "0",
                "300",
            ])
            .arg(&["0.02", "c1", "-70.6", "-33.4", "0+", ""])
            .query_async(&mut conn)
            .await?;
    }
    let (calls, usec) = redis.command_stats("fcall").await;
    Ok(usec / calls.max(1.0))
}

/// Redis time (µs) of the commands a report function runs, since the
/// stats were reset: Redis counts them under their own names as well.
async fn commands_inside(redis: &Redis) -> f64 {
    let mut inside = 0.0;
    for command in [
        "time", "hmget", "hget", "hset", "geoadd", "zadd", "exists", "zrem",
    ] {
        inside += redis.command_stats(command).await.1;
    }
    inside
}
