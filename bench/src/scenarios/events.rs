//! `events` (issue 24), on Redis: the event log delivered to a webhook
//! receiver and to NATS JetStream while 200 rides a second go through every
//! phase; the time from each change (its event's `at`, the commit) to its
//! receipt; a 60 s receiver outage and how long its backlog takes to drain;
//! what a retained event costs in Redis; and `ingest-batch` with the log on
//! against off.
//!
//! The service runs with `--webhook` (and `--nats-url` when `nats-server`
//! is installed), which turn the log on; the receivers are this process's
//! own ([`super::event_sinks`]), the rides [`super::event_rides`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    event_rides::{place_drivers, Counts, Load, DRIVERS},
    event_sinks::{arrived_between, latency, lock, Latency, Nats, Receipt, Shared, Webhook},
    ingest_batch, mib, service, RELAXED,
};
use crate::{
    error::{BenchError, Result},
    procs::Redis,
    report::Row,
    StoreKind,
};

/// The default area's stream (the Redis key layout's hash tag, `:log`).
pub const LOG_KEY: &str = "{tracking}:log";
const RIDES_PER_SEC: u64 = 200;
/// Left out of the latency figures: connections and caches warming up.
const WARM_UP: Duration = Duration::from_secs(5);
const STEADY: Duration = Duration::from_secs(30);
const OUTAGE: Duration = Duration::from_secs(60);
/// The longest the backlog may take to drain before the scenario gives up.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);
const TARGET_P99_MS: f64 = 50.0;
const SECRET: &str = "bench-webhook-secret-of-32-bytes";

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    let mut rows = vec![ingest_on_off(store, redis).await?];
    flush(redis).await?;
    rows.extend(delivery(store, redis).await?);
    Ok(rows)
}

async fn flush(redis: &Redis) -> Result<()> {
    let mut conn = redis.connection().await?;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await?;
    Ok(())
}

/// `ingest-batch`'s HTTP pass, alternately without and with `--event-log
/// on` (three times each, an empty store each time); the best of each.
async fn ingest_on_off(store: StoreKind, redis: &Redis) -> Result<Row> {
    let bodies = ingest_batch::http_bodies();
    let on: Vec<&str> = RELAXED
        .iter()
        .copied()
        .chain(["--event-log", "on"])
        .collect();
    let (mut best, mut errors, mut logged, mut shown) = ([0f64; 2], 0, 0, String::new());
    let mut peak = 0u64;
    for _round in 0..3 {
        for (i, flags) in [RELAXED, on.as_slice()].into_iter().enumerate() {
            flush(redis).await?;
            let svc = service(store, redis, flags).await?;
            let run = ingest_batch::http_pass(&svc.url, bodies.clone()).await;
            errors += run.errors;
            best[i] = best[i].max(run.per_sec());
            peak = peak.max(svc.stats().peak_rss_kib);
            if i == 1 {
                logged = redis.stream_len(LOG_KEY).await;
                shown = svc.flags.clone();
            }
        }
    }
    let [off, on] = best;
    let ratio = on / off;
    Ok(Row {
        scenario: "events: ingest-batch",
        store,
        flags: shown,
        measured: format!(
            "updateLocations, batches of 1,000 over HTTP, four callers, best of three alternating passes each: {on:.0} positions/s with the log on, {off:.0} off ({errors} failed calls); a pass with it on logged {logged} events (each new driver's DRIVER_AVAILABLE; a position is never an event)"
        ),
        reference: format!("the same pass with the log off: {off:.0} positions/s"),
        result: format!("{ratio:.2}×"),
        target: "≥ 0.95×".into(),
        met: Some(ratio >= 0.95 && errors == 0),
        cpu_secs: f64::NAN,
        peak_rss_mib: mib(peak),
    })
}

/// Waits until `done` says so, checking every 100 ms; whether it did
/// within `limit`.
async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = std::time::Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// A std duration as chrono's, to move a time by.
fn delta(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or_default()
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

fn figures(l: &Latency) -> String {
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} events",
        l.p50, l.p99, l.max, l.count
    )
}

/// What a receiver got, against what the log holds.
fn completeness(received: &Shared, logged: u64) -> (u64, String) {
    let got = lock(received);
    let missing = logged.saturating_sub(got.len() as u64);
    (
        missing,
        format!(
            "{} of the {logged} events in the log received, {missing} missing, {} re-sent, {} out of log order",
            got.len(),
            got.duplicates,
            got.out_of_order
        ),
    )
}

/// The rides under load with both sinks, the outage, the memory per event.
async fn delivery(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    let hook = Webhook::start().await?;
    let nats = Nats::start().await?;
    let mut flags: Vec<String> = RELAXED.iter().map(|f| f.to_string()).collect();
    flags.extend(["--webhook".into(), hook.url.clone()]);
    flags.extend(["--webhook-secret".into(), SECRET.into()]);
    if let Some(nats) = &nats {
        flags.extend(["--nats-url".into(), nats.url.clone()]);
    }
    let shown = format!(
        "`{} --webhook <receiver> --webhook-secret <secret>{}`",
        RELAXED.join(" "),
        if nats.is_some() {
            " --nats-url <nats-server>"
        } else {
            ""
        }
    );
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let svc = service(store, redis, &refs).await?;
    let http = reqwest::Client::new();
    place_drivers(&http, &svc.url).await?;
    let before = svc.stats();
    let load = Load::start(&svc.url, &svc.ws_url, RIDES_PER_SEC).await?;
    let started = Utc::now();
    tokio::time::sleep(WARM_UP + STEADY).await;
    let steady_cpu = svc.stats().cpu_secs - before.cpu_secs;
    // The receiver answers 503 for a minute while the rides go on.
    hook.refuse(true);
    let down = Utc::now();
    tokio::time::sleep(OUTAGE).await;
    hook.refuse(false);
    let back = Utc::now();
    // Delivery is in log order: the first event received that was
    // committed after the return says the backlog before it has arrived.
    let drained = until(DRAIN_LIMIT, || {
        lock(hook.received())
            .latest_at()
            .is_some_and(|at| at >= back)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let counts = load.stop().await;
    let ended = Utc::now();
    // The rides are over: everything logged arrives, or the row says not.
    let mut logged = redis.stream_len(LOG_KEY).await;
    until(Duration::from_secs(60), || {
        lock(hook.received()).len() as u64 >= logged
    })
    .await;
    if let Some(nats) = &nats {
        until(Duration::from_secs(60), || {
            lock(nats.received()).len() as u64 >= logged
        })
        .await;
    }
    logged = redis.stream_len(LOG_KEY).await;
    let after = svc.stats();
    let stored = match &nats {
        Some(nats) => nats.stored().await,
        None => 0,
    };
    drop(svc);
    let peak = mib(after.peak_rss_kib);
    let load_text = load_figures(&counts, started, ended);
    let hooked = lock(hook.received()).receipts();
    let steady = (
        started + delta(WARM_UP),
        down - delta(Duration::from_secs(1)),
    );
    let hook_latency = latency(&hooked, steady.0, steady.1);
    let delivered = arrived_between(&hooked, steady.0, steady.1) as f64 / secs(steady.0, steady.1);
    let (hook_missing, hook_complete) = completeness(hook.received(), logged);
    let out_of_order = lock(hook.received()).out_of_order;
    let mut rows = vec![Row {
        scenario: "events: webhook",
        store,
        flags: shown.clone(),
        measured: format!(
            "{load_text}; {delivered:.0} events/s delivered while the receiver answered (commit to receipt {}); over the whole run {hook_complete}",
            figures(&hook_latency)
        ),
        reference: "—".into(),
        result: format!("p99 {:.1} ms, {delivered:.0} events/s", hook_latency.p99),
        target: format!("p99 ≤ {TARGET_P99_MS:.0} ms, none lost"),
        met: Some(hook_latency.p99 <= TARGET_P99_MS && hook_missing == 0 && out_of_order == 0),
        cpu_secs: steady_cpu,
        peak_rss_mib: peak,
    }];
    rows.push(outage_row(
        &hooked,
        (down, back),
        drained,
        &hook,
        store,
        &shown,
        peak,
    ));
    rows.push(match &nats {
        Some(nats) => {
            let got = lock(nats.received()).receipts();
            let during_steady = latency(&got, steady.0, steady.1);
            let during_outage = latency(&got, down, back);
            let (missing, complete) = completeness(nats.received(), logged);
            let order = lock(nats.received()).out_of_order;
            Row {
                scenario: "events: NATS",
                store,
                flags: shown.clone(),
                measured: format!(
                    "the same run, read back by an ordered JetStream consumer: commit to receipt {} (during the webhook's outage: {}); {complete}; the stream holds {stored}",
                    figures(&during_steady),
                    figures(&during_outage)
                ),
                reference: "—".into(),
                result: format!("p99 {:.1} ms", during_steady.p99),
                target: format!("p99 ≤ {TARGET_P99_MS:.0} ms, none lost"),
                met: Some(
                    during_steady.p99 <= TARGET_P99_MS
                        && missing == 0
                        && order == 0
                        && stored == logged,
                ),
                cpu_secs: f64::NAN,
                peak_rss_mib: peak,
            }
        }
        None => Row {
            scenario: "events: NATS",
            store,
            flags: shown.clone(),
            measured: "not measured: nats-server is not installed (Debian: apt-get install nats-server)".into(),
            reference: "—".into(),
            result: "—".into(),
            target: format!("p99 ≤ {TARGET_P99_MS:.0} ms"),
            met: None,
            cpu_secs: f64::NAN,
            peak_rss_mib: f64::NAN,
        },
    });
    rows.push(memory_row(redis, store, &shown, logged).await?);
    Ok(rows)
}

fn load_figures(counts: &Counts, started: DateTime<Utc>, ended: DateTime<Utc>) -> String {
    let requested = Counts::get(&counts.requested);
    let rate = requested as f64 / secs(started, ended);
    let failed = Counts::get(&counts.failed);
    format!(
        "{requested} rides ({rate:.0}/s over {:.0} s; {DRIVERS} drivers placed first) through request, match, approach, arrive, start, complete: {} completed, {failed} failed{}",
        secs(started, ended),
        Counts::get(&counts.completed),
        counts
            .first_error()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    )
}

/// The receiver's outage `(down, back)`: when deliveries resumed after its
/// return, when the backlog (events committed before the return) had all
/// arrived, and how fast it came.
fn outage_row(
    hooked: &[Receipt],
    (down, back): (DateTime<Utc>, DateTime<Utc>),
    drained: bool,
    hook: &Webhook,
    store: StoreKind,
    shown: &str,
    peak: f64,
) -> Row {
    let backlog: Vec<&Receipt> = hooked
        .iter()
        .filter(|r| r.at < back && r.received >= back)
        .collect();
    let first = hooked
        .iter()
        .map(|r| r.received)
        .filter(|t| *t >= back)
        .min();
    let done = backlog.iter().map(|r| r.received).max();
    let (_, refused) = hook.posts();
    let (measured, result, met) = match (first, done, drained) {
        (Some(first), Some(done), true) => {
            let draining = secs(first, done).max(0.001);
            let rate = arrived_between(hooked, first, done) as f64 / draining;
            (
                format!(
                    "the receiver answered 503 for {:.0} s ({refused} POSTs refused) while the rides went on: {} events waited; after its return the next delivery came {:.1} s later (the retry's backoff), the backlog had all arrived {:.1} s after the return, {rate:.0} events/s while draining (new events included)",
                    secs(down, back),
                    backlog.len(),
                    secs(back, first),
                    secs(back, done)
                ),
                format!("drained {:.1} s after the return", secs(back, done)),
                true,
            )
        }
        _ => (
            format!(
                "the receiver answered 503 for {:.0} s ({refused} POSTs refused); the backlog did not drain within {} s of its return",
                secs(down, back),
                DRAIN_LIMIT.as_secs()
            ),
            "not drained".into(),
            false,
        ),
    };
    Row {
        scenario: "events: outage",
        store,
        flags: shown.to_owned(),
        measured,
        reference: "—".into(),
        result,
        target: "drained, none lost (the webhook row)".into(),
        met: Some(met),
        cpu_secs: f64::NAN,
        peak_rss_mib: peak,
    }
}

/// What the area's stream costs in Redis: `used_memory` before and after
/// deleting it (the service stopped), over its length; and `MEMORY USAGE`.
async fn memory_row(redis: &Redis, store: StoreKind, shown: &str, logged: u64) -> Result<Row> {
    let mut conn = redis.connection().await?;
    let len = redis.stream_len(LOG_KEY).await;
    if len == 0 {
        return Err(BenchError::Unexpected(format!(
            "{LOG_KEY} is empty after the run: is the stream elsewhere?"
        )));
    }
    let usage: Option<u64> = redis::cmd("MEMORY")
        .arg(&["USAGE", LOG_KEY, "SAMPLES", "0"][..])
        .query_async(&mut conn)
        .await?;
    let with = redis.used_memory_mib().await;
    let _: () = redis::cmd("DEL")
        .arg(LOG_KEY)
        .query_async(&mut conn)
        .await?;
    let without = redis.used_memory_mib().await;
    let per_event = (with - without) * 1024.0 * 1024.0 / len as f64;
    let usage = usage.map_or(f64::NAN, |u| u as f64 / len as f64);
    Ok(Row {
        scenario: "events: memory",
        store,
        flags: shown.to_owned(),
        measured: format!(
            "{len} events in {LOG_KEY} after the run ({logged} at its end; each with the ride or driver as it then was): used_memory fell by {:.1} MiB when the stream was deleted, {per_event:.0} bytes per event; MEMORY USAGE {usage:.0} bytes per event",
            with - without
        ),
        reference: "—".into(),
        result: format!("{per_event:.0} bytes per retained event"),
        target: "—".into(),
        met: None,
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    })
}
