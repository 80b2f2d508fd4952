//! Opening the store the configuration names: in memory or on Redis (one
//! node or a Cluster), for one area covering the Earth or for the areas of
//! an areas file ([`AreaStores`] over one store per area, plus one for
//! drivers outside every area).

use std::sync::Arc;

use tracing::info;

use super::{config::Config, error::StartError};
use crate::{
    domain::{
        error::{Error, Result},
        AreaId, RadiusKm, ServiceAreas,
    },
    store::{
        areas::{AreaStores, AskEveryArea, Directory, OneProcess, RiderLease, OUTSIDE},
        memory::MemoryStore,
        redis::{
            pointers::Pointers, riders::RiderLeases, Connector, RedisSettings, RedisStore, Target,
        },
        EventHub, LogSettings, Retention, Store,
    },
};

/// The areas file, read and checked; without one, the Earth.
pub fn read_areas(config: &Config) -> Result<ServiceAreas, StartError> {
    let Some(path) = &config.areas else {
        return Ok(ServiceAreas::everywhere());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartError::Config(format!("--areas {}: {e}", path.display())))?;
    let areas = ServiceAreas::from_geojson(&text)
        .map_err(|e| StartError::Config(format!("--areas {}: {e}", path.display())))?;
    if areas.all().iter().any(|a| a.id.as_str() == OUTSIDE) {
        return Err(StartError::Config(format!(
            "--areas {}: the area id {OUTSIDE:?} is reserved (for drivers outside every area)",
            path.display()
        )));
    }
    Ok(areas)
}

/// How to reach Redis, when the configuration names one.
pub fn connector(config: &Config) -> Result<Option<Connector>, StartError> {
    let target = match (&config.redis_url, config.redis_cluster.as_slice()) {
        (Some(url), _) => Target::Node(url.clone()),
        (None, []) => return Ok(None),
        (None, nodes) => Target::Cluster(
            nodes
                .iter()
                .map(|n| {
                    if n.contains("://") {
                        n.clone()
                    } else {
                        format!("redis://{n}")
                    }
                })
                .collect(),
        ),
    };
    Ok(Some(Connector::new(
        target,
        config.redis_ca.as_deref(),
        config.redis_password.clone(),
    )?))
}

/// `tracking migrate`: converts the fleet under `--redis-prefix` from the
/// previous key layout, in place; says what it did.
pub async fn migrate(config: &Config) -> Result<String, StartError> {
    let connector = connector(config)?
        .ok_or_else(|| StartError::Config("migrate needs --redis-url or --redis-cluster".into()))?;
    let mut conn = connector.connect().await?;
    let done =
        crate::store::redis::layout::migrate(&mut conn, &config.redis_prefix, config.driver_ttl)
            .await?;
    Ok(format!(
        "{}: {} drivers converted; the fleet under {{{}}} is on key layout {}",
        connector.describe(),
        done.drivers,
        config.redis_prefix,
        crate::store::redis::layout::VERSION
    ))
}

/// The store for the configuration and its areas.
pub async fn open_store(
    config: &Config,
    areas: &Arc<ServiceAreas>,
    match_radius: RadiusKm,
) -> Result<Arc<dyn Store>, StartError> {
    let retention = Retention {
        rides: config.ride_retention,
        drivers: config.driver_retention,
    };
    let log_on = config.events.log_on(areas);
    let log = |approach: Option<f64>| LogSettings {
        enabled: log_on,
        approach_meters: approach.unwrap_or(config.events.approach_meters),
        max_dead_letters: usize::try_from(config.events.max_dead_letters).unwrap_or(usize::MAX),
    };
    let memory = |events: Arc<EventHub>, log: LogSettings| {
        MemoryStore::with_shared_events(config.driver_ttl, events)
            .with_retention(retention)
            .with_log(log)
    };
    let connector = connector(config)?;
    if connector.is_some() && config.instance_lease < std::time::Duration::from_millis(100) {
        return Err(StartError::Config(
            "--instance-lease must be at least 100ms".into(),
        ));
    }
    let redis = |connector: &Connector,
                 area: Option<AreaId>,
                 radius: RadiusKm,
                 log: LogSettings| RedisSettings {
        log,
        connector: connector.clone(),
        prefix: config.redis_prefix.clone(),
        area,
        driver_ttl: config.driver_ttl,
        match_radius: radius,
        lease: config.instance_lease,
        retention,
        max_report_batch: usize::try_from(config.max_report_batch).unwrap_or(256),
    };
    if areas.is_everywhere() {
        let Some(connector) = connector else {
            return Ok(Arc::new(memory(Arc::new(EventHub::default()), log(None))));
        };
        let store = RedisStore::connect(redis(&connector, None, match_radius, log(None))).await?;
        info!(prefix = %config.redis_prefix, redis = %connector.describe(), "fleet kept in Redis");
        return Ok(Arc::new(store));
    }
    let events = Arc::new(EventHub::default());
    let mut ids: Vec<(AreaId, RadiusKm, LogSettings)> = areas
        .all()
        .iter()
        .map(|a| {
            let radius = a.rules.match_radius.unwrap_or(match_radius);
            (a.id.clone(), radius, log(a.rules.approach_meters))
        })
        .collect();
    // Drivers outside every area hold no ride: nothing to log.
    ids.push((
        AreaId::parse(OUTSIDE).map_err(Error::internal)?,
        match_radius,
        LogSettings::default(),
    ));
    let mut stores: Vec<Arc<dyn Store>> = Vec::with_capacity(ids.len());
    let (directory, riders): (Arc<dyn Directory>, Arc<dyn RiderLease>) = match &connector {
        None => {
            for (id, _, log) in &ids {
                stores.push(Arc::new(memory(events.clone(), *log).in_area(id)));
            }
            (Arc::new(AskEveryArea), Arc::new(OneProcess))
        }
        Some(connector) => {
            let conn = connector.connect().await?;
            for (id, radius, log) in &ids {
                let settings = redis(connector, Some(id.clone()), *radius, *log);
                stores.push(Arc::new(
                    RedisStore::on(settings, conn.clone(), events.clone()).await?,
                ));
            }
            info!(
                areas = ids.len() - 1,
                prefix = %config.redis_prefix,
                redis = %connector.describe(),
                "fleet kept in Redis, one slot per area"
            );
            (
                Arc::new(Pointers::new(conn.clone(), &config.redis_prefix)),
                Arc::new(RiderLeases::new(conn, &config.redis_prefix)),
            )
        }
    };
    Ok(Arc::new(
        AreaStores::new(areas.clone(), stores, directory, events)?.with_rider_lease(riders),
    ))
}
