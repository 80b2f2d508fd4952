//! Match searches among 100,000 drivers within 20 km, against the seed's
//! query (`GEOSEARCH … BYRADIUS 5 km ASC COUNT 1`) on the same data. The
//! store is called directly (the same code a search task runs), so this
//! compares the search algorithms, not HTTP.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use futures_util::future::join_all;
use tracking::{
    domain::{Coordinates, Limit, LocationReport, RadiusKm},
    store::{
        memory::MemoryStore,
        redis::{Connector, RedisSettings, RedisStore, Target},
        Store,
    },
};

use super::point;
use crate::{
    error::{BenchError, Result},
    procs::Redis,
    report::Row,
    StoreKind,
};

fn domain(e: tracking::domain::error::Error) -> BenchError {
    BenchError::Unexpected(e.to_string())
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
pub async fn run(store: StoreKind, redis: &Redis) -> Result<Row> {
    const DRIVERS: usize = 100_000;
    let ttl = Duration::from_secs(3600);
    let radius = RadiusKm::parse(5.0).map_err(domain)?;
    let limit = Limit::parse(1).map_err(domain)?;
    let ours: Arc<dyn Store> = match store {
        StoreKind::Memory | StoreKind::Cluster => Arc::new(MemoryStore::new(ttl)),
        StoreKind::Redis => Arc::new(
            RedisStore::connect(RedisSettings {
                log: Default::default(),
                connector: Connector::new(Target::Node(redis.url()), None, None).map_err(domain)?,
                prefix: "bench-search".into(),
                area: None,
                driver_ttl: ttl,
                match_radius: radius,
                lease: Duration::from_secs(5),
                retention: Default::default(),
                max_report_batch: 256,
            })
            .await
            .map_err(domain)?,
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
                driver: tracking::domain::DriverId::parse(&id).map_err(domain)?,
                at: Coordinates::parse(lat, lng).map_err(domain)?,
                taken_at: now,
            });
        }
        pipe.query_async::<()>(&mut conn).await?;
        ours.update_locations(&reports, now, 1e6)
            .await
            .map_err(domain)?;
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
            .map_err(domain)?;
        let seed: Vec<(String, f64)> = seed_query(at)
            .arg("WITHDIST")
            .query_async(&mut conn)
            .await?;
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
        flags: "— (the store, called directly)".into(),
        measured: format!("{rate:.0} searches/s; same driver {same}/200"),
        reference: format!("seed's GEOSEARCH 5 km ASC COUNT 1: {reference:.0}/s"),
        result: format!("{:.0}×", rate / reference),
        target: "≥ 100×, same driver".into(),
        met: Some(rate / reference >= 100.0 && same == 200),
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    })
}
