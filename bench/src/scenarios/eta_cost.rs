//! What ranking by road time costs a search, on the dispatch path: a
//! search with roads reads the 16 nearest candidates, ranks them by their
//! driving time to the pickup (on the blocking pool, as the dispatcher
//! does) and claims the first still free; without roads it is the one
//! store call that claims the nearest. Both run here against the same
//! store (called directly: the search task's own calls, no HTTP), with 400
//! drivers on the streets of central Helsinki and pickups on the network.
//! Figures: p50/p99 per search, and matches per second (16 searchers at
//! once for 5 s, each match cancelled at once, which frees its driver).
//! The reference is the same search without roads, in the same run.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use futures_util::future::join_all;
use rand::{rngs::StdRng, Rng, SeedableRng};
use tracking::{
    dispatch::ranking::rank,
    domain::{Coordinates, DriverId, LocationReport, RadiusKm, RiderId, Step, StraightLine},
    roads::Roads,
    store::{
        memory::MemoryStore,
        redis::{Connector, RedisSettings, RedisStore, Target},
        NewRide, Pick, Requested, SearchOutcome, Store,
    },
};

use crate::{
    error::{BenchError, Result},
    procs::Redis,
    report::{percentile, Row},
    StoreKind,
};

const DRIVERS: usize = 400;
const CANDIDATES: usize = 16;

fn domain(e: tracking::domain::error::Error) -> BenchError {
    BenchError::Unexpected(e.to_string())
}

/// `count` points on the network, the same for the same `seed`.
fn on_streets(roads: &Roads, seed: u64, count: usize) -> Vec<Coordinates> {
    let Some((lo, hi)) = roads.bounds() else {
        return Vec::new();
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count * 50 {
        if out.len() == count {
            break;
        }
        let lat = rng.random_range(lo.lat()..=hi.lat());
        let lng = rng.random_range(lo.lng()..=hi.lng());
        if let Ok(at) = Coordinates::parse(lat, lng) {
            if roads.on_network(&at) {
                out.push(at);
            }
        }
    }
    out
}

/// One search for a fresh ride at `pickup`; its duration, and whether it matched.
async fn search(
    store: &Arc<dyn Store>,
    roads: Option<&Arc<Roads>>,
    rider: &str,
    pickup: Coordinates,
) -> Result<(Duration, bool)> {
    let radius = RadiusKm::parse(5.0).map_err(domain)?;
    let line = StraightLine::default();
    let new = NewRide {
        rider: RiderId::parse(rider).map_err(domain)?,
        pickup,
        dropoff: None,
        timeout: Duration::from_secs(600),
        idempotency_key: None,
        max_active: 0,
    };
    let ride = match store.create_ride(&new, Utc::now()).await.map_err(domain)? {
        Requested::Created(ride) => ride,
        other => return Err(BenchError::Unexpected(format!("no ride: {other:?}"))),
    };
    let started = Instant::now();
    let pick = match roads {
        None => Pick::Nearest(line),
        Some(roads) => {
            let found = store
                .candidates(&ride.id, pickup, radius, CANDIDATES, Utc::now())
                .await
                .map_err(domain)?;
            let roads = roads.clone();
            let ranked = tokio::task::spawn_blocking(move || {
                rank(Some(&roads), &found, pickup, &line, None)
            })
            .await
            .map_err(|e| BenchError::Unexpected(e.to_string()))?;
            Pick::Ranked(ranked)
        }
    };
    let outcome = store
        .try_match(&ride.id, radius, Default::default(), &pick, Utc::now())
        .await
        .map_err(domain)?;
    let took = started.elapsed();
    let matched = matches!(outcome, SearchOutcome::Matched(_));
    // Cancelled at once: the driver is free for the next search.
    store
        .advance_ride(&ride.id, Step::Cancel, Utc::now())
        .await
        .map_err(domain)?;
    Ok((took, matched))
}

/// p50 and p99 (ms) of 1,000 searches one at a time, then matches/s with 16 at once.
async fn measure(
    store: &Arc<dyn Store>,
    roads: Option<&Arc<Roads>>,
    pickups: &[Coordinates],
    tag: &str,
) -> Result<(f64, f64, f64)> {
    let mut times = Vec::with_capacity(1000);
    for i in 0..1000 {
        let pickup = pickups[i % pickups.len()];
        let (took, _) = search(store, roads, &format!("{tag}{i}"), pickup).await?;
        times.push(took.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let window = Duration::from_secs(5);
    let matches = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = join_all((0..16).map(|w| {
        let matches = matches.clone();
        async move {
            let mut i = w;
            while started.elapsed() < window {
                let pickup = pickups[i % pickups.len()];
                let (_, matched) = search(store, roads, &format!("{tag}w{w}-{i}"), pickup).await?;
                matches.fetch_add(usize::from(matched), Ordering::Relaxed);
                i += 16;
            }
            Ok::<_, BenchError>(())
        }
    }))
    .await;
    workers.into_iter().collect::<Result<Vec<_>>>()?;
    let rate = matches.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    Ok((percentile(&times, 50.0), percentile(&times, 99.0), rate))
}

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Row> {
    let path = super::cities::helsinki()?;
    let roads = Arc::new(
        tokio::task::spawn_blocking(move || Roads::load(&path))
            .await
            .map_err(|e| BenchError::Unexpected(e.to_string()))?
            .map_err(|e| BenchError::Unexpected(e.to_string()))?,
    );
    let ttl = Duration::from_secs(3600);
    let ours: Arc<dyn Store> = match store {
        StoreKind::Memory | StoreKind::Cluster => Arc::new(MemoryStore::new(ttl)),
        StoreKind::Redis => Arc::new(
            RedisStore::connect(RedisSettings {
                log: Default::default(),
                connector: Connector::new(Target::Node(redis.url()), None, None).map_err(domain)?,
                prefix: "bench-eta".into(),
                area: None,
                driver_ttl: ttl,
                match_radius: RadiusKm::parse(5.0).map_err(domain)?,
                lease: Duration::from_secs(60),
                retention: Default::default(),
                max_report_batch: 256,
            })
            .await
            .map_err(domain)?,
        ),
    };
    let now = Utc::now();
    let reports = on_streets(&roads, 7, DRIVERS)
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            Ok(LocationReport {
                driver: DriverId::parse(&format!("h{i}")).map_err(domain)?,
                at,
                taken_at: now,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    ours.update_locations(&reports, now, 1e6)
        .await
        .map_err(domain)?;
    let pickups = on_streets(&roads, 11, 500);
    let (p50, p99, with) = measure(&ours, Some(&roads), &pickups, "eta").await?;
    let (q50, q99, without) = measure(&ours, None, &pickups, "line").await?;
    if store == StoreKind::Redis {
        let mut conn = redis.connection().await?;
        let _: redis::RedisResult<()> = redis::cmd("FLUSHALL").query_async(&mut conn).await;
    }
    let ratio = with / without;
    Ok(Row {
        scenario: "eta-cost",
        store,
        flags: "— (the store and the ranking, called directly; Helsinki)".into(),
        measured: format!(
            "with roads: p50 {p50:.3} ms, p99 {p99:.3} ms per search; {with:.0} matches/s"
        ),
        reference: format!(
            "without roads: p50 {q50:.3} ms, p99 {q99:.3} ms; {without:.0} matches/s"
        ),
        result: format!("{ratio:.2}× matches/s"),
        target: "p99 ≤ 1 ms; ≥ 0.5× matches/s".into(),
        met: Some(p99 <= 1.0 && ratio >= 0.5),
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    })
}
