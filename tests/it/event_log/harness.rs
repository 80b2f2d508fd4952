//! A store of each kind, opened directly, with its event log on.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tracking::{
    domain::{AreaId, Coordinates, DriverId, Event, EventType, RadiusKm, RiderId, DEFAULT_AREA},
    store::{
        memory::MemoryStore,
        redis::{Connector, RedisSettings, RedisStore, Target},
        LogSettings, NewRide, Offers, Pick, Retention, Store,
    },
};

use crate::common::{RedisServer, StoreKind};

pub struct Harness {
    pub store: Arc<dyn Store>,
    pub area: AreaId,
    _redis: Option<RedisServer>,
    _cluster: Option<test_support::RedisCluster>,
}

pub const LOG: LogSettings = LogSettings {
    enabled: true,
    approach_meters: 300.0,
    max_dead_letters: 1000,
};

fn settings(target: Target) -> RedisSettings {
    RedisSettings {
        connector: Connector::new(target, None, None).expect("a connector"),
        prefix: "tracking".into(),
        area: None,
        driver_ttl: Duration::from_secs(60),
        match_radius: RadiusKm::parse(5.0).expect("a radius"),
        lease: Duration::from_secs(5),
        retention: Retention::default(),
        log: LOG,
        max_report_batch: 256,
    }
}

/// A Redis store on a server the test holds.
pub async fn open_on(redis: &RedisServer) -> Harness {
    open_on_with(redis, LOG).await
}

/// A Redis store on a server the test holds, logging as `log` says (an
/// instance started with other flags).
pub async fn open_on_with(redis: &RedisServer, log: LogSettings) -> Harness {
    let store = RedisStore::connect(RedisSettings {
        log,
        ..settings(Target::Node(redis.url()))
    })
    .await
    .expect("the Redis store connects");
    Harness {
        store: Arc::new(store),
        area: AreaId::parse(DEFAULT_AREA).expect("the default area"),
        _redis: None,
        _cluster: None,
    }
}

pub async fn open(kind: StoreKind) -> Harness {
    open_ttl(kind, Duration::from_secs(60)).await
}

/// A store whose drivers fall silent after `ttl`.
pub async fn open_ttl(kind: StoreKind, ttl: Duration) -> Harness {
    let area = AreaId::parse(DEFAULT_AREA).expect("the default area");
    let settings = |target| RedisSettings {
        driver_ttl: ttl,
        ..settings(target)
    };
    match kind {
        StoreKind::Memory => Harness {
            store: Arc::new(MemoryStore::new(ttl).with_log(LOG)),
            area,
            _redis: None,
            _cluster: None,
        },
        StoreKind::Redis => {
            let redis = RedisServer::start().await;
            let store = RedisStore::connect(settings(Target::Node(redis.url())))
                .await
                .expect("the Redis store connects");
            Harness {
                store: Arc::new(store),
                area,
                _redis: Some(redis),
                _cluster: None,
            }
        }
        StoreKind::Cluster => {
            let cluster = test_support::RedisCluster::start(3, 0).await;
            let store = RedisStore::connect(settings(Target::Cluster(cluster.urls())))
                .await
                .expect("the Cluster store connects");
            Harness {
                store: Arc::new(store),
                area,
                _redis: None,
                _cluster: Some(cluster),
            }
        }
    }
}

pub fn at(lat: f64, lng: f64) -> Coordinates {
    Coordinates::parse(lat, lng).expect("coordinates")
}

pub fn driver(id: &str) -> DriverId {
    DriverId::parse(id).expect("a driver id")
}

pub const PICKUP: (f64, f64) = (59.33, 18.06);

impl Harness {
    pub async fn report(&self, id: &str, lat: f64, lng: f64) {
        self.store
            .report(&driver(id), at(lat, lng), self.store.now(), 0.0, true)
            .await
            .expect("a report");
    }

    pub async fn request(&self, rider: &str) -> tracking::domain::RideId {
        let new = NewRide::new(
            RiderId::parse(rider).expect("a rider id"),
            at(PICKUP.0, PICKUP.1),
            Duration::from_secs(60),
        );
        let requested = self
            .store
            .create_ride(&new, self.store.now())
            .await
            .expect("a ride");
        requested.ride().id.clone()
    }

    pub async fn search(&self, ride: &tracking::domain::RideId, offer: Duration) {
        let offers = Offers {
            timeout: offer,
            ignore_limit: 0,
        };
        self.store
            .try_match(
                ride,
                RadiusKm::parse(5.0).expect("a radius"),
                offers,
                &Pick::Nearest(Default::default()),
                self.store.now(),
            )
            .await
            .expect("a search");
    }

    /// Every event the log holds, from the oldest.
    pub async fn all(&self) -> Vec<Event> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .read_events(&self.area, after.as_ref(), 100)
                .await
                .expect("a read");
            let Some(last) = page.events.last() else {
                return out;
            };
            after = Some(last.id.clone());
            out.extend(page.events);
        }
    }

    pub async fn kinds(&self) -> Vec<EventType> {
        self.all().await.iter().map(|e| e.kind).collect()
    }
}

/// Ids strictly increase, all of one area and epoch.
pub fn assert_in_order(events: &[Event]) {
    for pair in events.windows(2) {
        assert_eq!(
            pair[0].id.compare(&pair[1].id),
            Some(std::cmp::Ordering::Less),
            "ids increase within an area and epoch: {} then {}",
            pair[0].id,
            pair[1].id
        );
    }
    let now = Utc::now();
    for e in events {
        assert!(
            (now - e.at).num_seconds().abs() < 60,
            "`at` is the store's clock"
        );
    }
}
