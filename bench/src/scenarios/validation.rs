//! What checking a document costs: `updateLocation` over HTTP with the
//! defaults on, once with the same document text every time (parsed and
//! validated once, then cached), once with a text the service has never
//! seen in every request (a comment numbered per request), so that every
//! request is parsed and checked against every validation rule. The
//! difference in service CPU per request is the cost of one uncached
//! document; the store plays no part, so it runs once, in memory.

use std::time::Duration;

use serde_json::json;

use super::{mib, point, service, UPDATE};
use crate::{
    client::{http_load, one_unless_errors, Run},
    error::{BenchError, Result},
    procs::Redis,
    report::Row,
    StoreKind,
};

const DRIVERS: usize = 10_000;
const REQUESTS: usize = 200_000;

pub async fn run(redis: &Redis) -> Result<Row> {
    let svc = service(StoreKind::Memory, redis, &[]).await?;
    let cached = phase(&svc, "c", false).await?;
    let uncached = phase(&svc, "u", true).await?;
    let after = svc.stats();
    let per_request = |(run, cpu): (Run, f64)| cpu / run.requests.max(1) as f64 * 1e6;
    let (cached_us, uncached_us) = (per_request(cached), per_request(uncached));
    for (name, (run, _)) in [("cached", cached), ("uncached", uncached)] {
        if run.errors > 0 {
            return Err(BenchError::Unexpected(format!(
                "validation ({name}): {} of {} requests failed",
                run.errors, run.requests
            )));
        }
    }
    Ok(Row {
        scenario: "validation",
        store: StoreKind::Memory,
        flags: svc.flags.clone(),
        measured: format!(
            "every text new: {:.0} updates/s, {uncached_us:.0} µs of service CPU per request",
            uncached.0.per_sec()
        ),
        reference: format!(
            "one text, cached: {:.0} updates/s, {cached_us:.0} µs per request",
            cached.0.per_sec()
        ),
        result: format!(
            "{:.0} µs per uncached document ({:.2}× the CPU)",
            uncached_us - cached_us,
            uncached_us / cached_us.max(1e-9)
        ),
        target: "reported".into(),
        met: None,
        cpu_secs: cached.1 + uncached.1,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}

/// One load run; its drivers creep a metre per report (the defaults'
/// speed check accepts that). Returns the run and the service's CPU
/// seconds over it.
async fn phase(
    svc: &crate::procs::Service,
    prefix: &'static str,
    new_text: bool,
) -> Result<(Run, f64)> {
    let before = svc.stats();
    let run = http_load(
        &svc.url,
        64,
        REQUESTS,
        Duration::from_secs(20),
        move |i| {
            let (lat, lng) = point((i % DRIVERS) as u64, 15.0);
            let step = (i / DRIVERS) as f64;
            let query = if new_text {
                format!("{UPDATE} # {i}")
            } else {
                UPDATE.to_string()
            };
            json!({
                "query": query,
                "variables": {"d": format!("{prefix}{}", i % DRIVERS), "lat": lat + step * 0.000_01, "lng": lng},
            })
            .to_string()
        },
        one_unless_errors,
    )
    .await;
    let after = svc.stats();
    Ok((run, after.cpu_secs - before.cpu_secs))
}
