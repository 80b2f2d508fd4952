//! `roads-load`: what a road network costs the service to have. For the
//! Helsinki extract and a generated million-node grid (arterials every
//! tenth street): the time `tracking roads prepare` takes to read the OSM
//! file, build the contraction hierarchy and write the `.roads` file; the
//! time a service started with `--roads FILE.roads` takes to become ready,
//! against the same service without roads; and the resident memory the
//! roads add, per node. The store plays no part: it runs once, in memory.

use std::time::{Duration, Instant};

use test_support::city::Grid;

use super::{
    cities::{self, Prepared},
    mib, service,
};
use crate::{
    error::{BenchError, Result},
    procs::{Redis, Service},
    report::Row,
    StoreKind,
};

/// Targets: build (prepare) time, and load time of the prepared file.
const BUILD_TARGET: Duration = Duration::from_secs(120);
const LOAD_TARGET: Duration = Duration::from_secs(5);

pub async fn run(redis: &Redis) -> Result<Vec<Row>> {
    let helsinki = cities::helsinki()?;
    let helsinki_bytes = std::fs::metadata(&helsinki).map(|m| m.len()).unwrap_or(0);
    let mut rows = vec![
        network(
            redis,
            "Helsinki extract (.osm.pbf)",
            helsinki_bytes,
            &helsinki,
            "helsinki",
        )
        .await?,
    ];
    let grid = Grid::million();
    let (path, bytes) = cities::write_grid(&grid, "grid-1m")?;
    let row = network(
        redis,
        "generated 1000 × 1000 grid (.osm XML)",
        bytes,
        &path,
        "grid-1m",
    )
    .await;
    // A hundred megabytes not worth keeping between runs.
    let _ = std::fs::remove_file(&path);
    rows.push(row?);
    Ok(rows)
}

/// Time to ready and resident memory of a service, once it answers.
async fn ready(redis: &Redis, flags: &[&str]) -> Result<(Service, Duration, u64)> {
    let started = Instant::now();
    let svc = service(StoreKind::Memory, redis, flags).await?;
    let took = started.elapsed();
    let rss = svc.stats().rss_kib;
    Ok((svc, took, rss))
}

async fn network(
    redis: &Redis,
    what: &str,
    file_bytes: u64,
    input: &std::path::Path,
    name: &str,
) -> Result<Row> {
    let Prepared {
        roads,
        nodes,
        edges,
        elapsed: build,
        cpu_secs,
        peak_rss_kib,
    } = cities::prepare(input, name).await?;
    let roads_bytes = std::fs::metadata(&roads).map(|m| m.len()).unwrap_or(0);
    let (plain, plain_ready, plain_rss) = ready(redis, &[]).await?;
    drop(plain);
    let file = roads.to_string_lossy().into_owned();
    let (svc, load, rss) = ready(redis, &["--roads", &file]).await?;
    let per_node = (rss.saturating_sub(plain_rss) * 1024) as f64 / nodes.max(1) as f64;
    if nodes == 0 {
        return Err(BenchError::Unexpected(format!("{what}: no nodes")));
    }
    let met = build <= BUILD_TARGET && load <= LOAD_TARGET;
    let flags = format!("`--roads {name}.roads`");
    let stats = svc.stats();
    drop(svc);
    Ok(Row {
        scenario: "roads-load",
        store: StoreKind::Memory,
        flags,
        measured: format!(
            "{what}, {:.1} MiB: {nodes} nodes, {edges} edges; `roads prepare` {:.2} s ({cpu_secs:.1} s CPU, peak RSS {:.0} MiB), `.roads` {:.1} MiB; service with it ready in {:.2} s, RSS {:.0} MiB",
            file_bytes as f64 / 1048576.0,
            build.as_secs_f64(),
            mib(peak_rss_kib),
            roads_bytes as f64 / 1048576.0,
            load.as_secs_f64(),
            mib(rss),
        ),
        reference: format!(
            "service without roads: ready in {:.2} s, RSS {:.0} MiB",
            plain_ready.as_secs_f64(),
            mib(plain_rss)
        ),
        result: format!(
            "build {:.2} s, load {:.2} s, {per_node:.0} B resident per node",
            build.as_secs_f64(),
            load.as_secs_f64()
        ),
        target: format!(
            "build ≤ {} s, load ≤ {} s",
            BUILD_TARGET.as_secs(),
            LOAD_TARGET.as_secs()
        ),
        met: Some(met),
        cpu_secs: stats.cpu_secs,
        peak_rss_mib: mib(stats.peak_rss_kib),
    })
}
