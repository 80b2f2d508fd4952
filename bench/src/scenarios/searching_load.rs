//! 10,000 rides searching for their whole timeout with no driver anywhere:
//! the service's CPU and Redis's command rate, over a window that starts
//! before the first ride is requested (so the first searches count) and ends
//! when the last ride has expired. Every ride must be created and must
//! expire, or the scenario fails rather than print a figure.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use serde_json::json;
use tokio::sync::Semaphore;

use super::{mib, point, service, REQUEST};
use crate::{
    client::gql,
    error::{BenchError, Result},
    procs::Redis,
    report::Row,
    StoreKind,
};

const RIDES: usize = 10_000;
const TIMEOUT: Duration = Duration::from_secs(20);

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Row> {
    let svc = service(store, redis, &["--request-timeout", "20s"]).await?;
    let http = reqwest::Client::new();
    let before = svc.stats();
    let commands_before = redis.commands_processed().await;
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(64));
    let created: Vec<Result<String>> = join_all((0..RIDES).map(|i| {
        let (limit, http, url) = (limit.clone(), http.clone(), svc.url.clone());
        async move {
            let _permit = limit.acquire().await;
            let (lat, lng) = point(3_000_000 + i as u64, 15.0);
            let ride = gql(
                &http,
                &url,
                REQUEST,
                json!({"r": format!("w{i}"), "lat": lat, "lng": lng}),
            )
            .await?;
            ride["requestDriver"]["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| BenchError::Unexpected(format!("no ride id in {ride}")))
        }
    }))
    .await;
    let creating = started.elapsed();
    let failed = created.iter().filter(|r| r.is_err()).count();
    if let Some(Err(error)) = created.iter().find(|r| r.is_err()) {
        return Err(BenchError::Unexpected(format!(
            "{failed} of {RIDES} rides could not be requested; first: {error}"
        )));
    }
    let ids: Vec<String> = created.into_iter().filter_map(Result::ok).collect();

    // The last ride requested expires last: wait for it (bounded), then
    // check that every ride did.
    let last = ids.last().cloned().unwrap_or_default();
    let deadline = started + creating + TIMEOUT * 2;
    loop {
        let ride = gql(
            &http,
            &svc.url,
            "query($id: ID!) { ride(id: $id) { status } }",
            json!({"id": last}),
        )
        .await?;
        if ride["ride"]["status"] == "EXPIRED" {
            break;
        }
        if Instant::now() > deadline {
            return Err(BenchError::Unexpected(format!(
                "ride {last} did not expire within twice its timeout: {ride}"
            )));
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
    let still: Vec<String> = join_all(ids.iter().map(|id| {
        let (limit, http, url) = (limit.clone(), http.clone(), svc.url.clone());
        async move {
            let _permit = limit.acquire().await;
            let ride = gql(
                &http,
                &url,
                "query($id: ID!) { ride(id: $id) { status } }",
                json!({"id": id}),
            )
            .await
            .ok()?;
            (ride["ride"]["status"] != "EXPIRED").then(|| id.clone())
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    if !still.is_empty() {
        return Err(BenchError::Unexpected(format!(
            "{} rides did not expire, e.g. {}",
            still.len(),
            still[0]
        )));
    }
    let cpu_pct = (after.cpu_secs - before.cpu_secs) / wall * 100.0;
    Ok(Row {
        scenario: "searching-load",
        store,
        flags: svc.flags.clone(),
        measured: format!(
            "{} rides requested in {:.1} s, each searching every 2 s until it expired, all expired; over the {wall:.1} s from the first request to the last expiry: service CPU {cpu_pct:.1}% of a core; Redis {commands:.0} commands/s",
            ids.len(),
            creating.as_secs_f64()
        ),
        reference: "—".into(),
        result: format!("{cpu_pct:.1}% CPU"),
        target: "≤ 50% of one core".into(),
        met: Some(cpu_pct <= 50.0),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}
