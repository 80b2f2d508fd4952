//! Dispatch: where a ride's life is decided.
//!
//! The [`Dispatcher`] is what the GraphQL resolvers and the REST adapters
//! call. It reads the clock, asks the store to change state, and runs one
//! search task per SEARCHING ride ([`search`]). It wakes those tasks early
//! when something they wait for happens: a driver becoming available near
//! their pickup ([`wakeup`]), or their own cancellation. It never builds a
//! storage command; it never knows about GraphQL.

mod search;
pub mod wakeup;
mod watch;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures_util::Stream;
use tokio::sync::broadcast;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    domain::{Coordinates, Driver, DriverId, Limit, NearbyDriver, RadiusKm, Ride, RideId, RiderId},
    error::{Error, Result},
    store::Store,
};
use wakeup::SearchingRides;

/// How rides are searched for.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How far from the pickup a driver may be matched.
    pub match_radius: RadiusKm,
    /// How long a ride searches before it expires.
    pub request_timeout: Duration,
    /// How often a ride searches when nothing wakes it sooner.
    pub search_interval: Duration,
}

/// The service's operations, on top of a [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    settings: Settings,
    searching: SearchingRides,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Dispatcher {
    /// A dispatcher over `store`, running: it listens for drivers becoming
    /// available, takes over the searching rides nobody runs (on Redis:
    /// those of instances that died), and keeps doing so periodically.
    pub async fn start(store: Arc<dyn Store>, settings: Settings) -> Result<Self> {
        let dispatcher = Self {
            inner: Arc::new(Inner {
                store,
                settings,
                searching: SearchingRides::default(),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        };
        dispatcher.spawn_wake_listener();
        dispatcher.adopt_orphans().await?;
        if let Some(every) = dispatcher.store().maintenance_interval() {
            dispatcher.spawn_maintenance(every);
        }
        Ok(dispatcher)
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub(crate) fn settings(&self) -> Settings {
        self.inner.settings
    }

    pub(crate) fn searching(&self) -> &SearchingRides {
        &self.inner.searching
    }

    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Starts search tasks for the rides this instance takes over; returns
    /// how many were started.
    async fn adopt_orphans(&self) -> Result<usize> {
        let rides = self.store().adopt_orphans(Utc::now()).await?;
        let started = rides
            .into_iter()
            .filter(|ride| self.start_search(ride.clone()))
            .count();
        if started > 0 {
            info!(rides = started, "took over searching rides");
        }
        Ok(started)
    }

    /// Renews this instance's claim and adopts orphaned rides, forever.
    fn spawn_maintenance(&self, every: Duration) {
        let this = self.clone();
        let stop = self.shutdown_token();
        self.inner
            .tasks
            .spawn(stop.run_until_cancelled_owned(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = this.store().events().released_orphans() => {}
                    }
                    if let Err(error) = this.adopt_orphans().await {
                        warn!(%error, "could not renew the lease or adopt rides");
                    }
                }
            }));
    }

    /// Wakes the searching rides near each driver that becomes available.
    fn spawn_wake_listener(&self) {
        let mut available = self.store().events().subscribe_available();
        let this = self.clone();
        let stop = self.shutdown_token();
        self.inner
            .tasks
            .spawn(stop.run_until_cancelled_owned(async move {
                let radius = this.settings().match_radius;
                loop {
                    match available.recv().await {
                        Ok(at) => {
                            this.searching().wake_near(at, radius);
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => this.searching().wake_all(),
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            }));
    }

    /// Stops every search task and waits for them, then hands this
    /// instance's searching rides over (on Redis, another instance adopts
    /// them at once; in memory they end with the process).
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        if let Err(error) = self.store().release().await {
            warn!(%error, "could not hand searching rides over");
        }
    }

    /// Succeeds while the store answers.
    pub async fn ping(&self) -> Result<()> {
        self.store().ping().await
    }

    /// Records a driver's position (the store announces it when the
    /// driver is available, which wakes the rides near it).
    pub async fn update_location(&self, id: &DriverId, at: Coordinates) -> Result<Driver> {
        self.store().update_location(id, at, Utc::now()).await
    }

    /// Takes a driver off the market.
    pub async fn go_offline(&self, id: &DriverId) -> Result<Driver> {
        self.store().go_offline(id, Utc::now()).await
    }

    /// A driver as it stands now.
    pub async fn driver(&self, id: &DriverId) -> Result<Option<Driver>> {
        self.store().driver(id, Utc::now()).await
    }

    /// AVAILABLE drivers near a point, nearest first.
    pub async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
    ) -> Result<Vec<NearbyDriver>> {
        self.store()
            .nearby_drivers(center, radius, limit, Utc::now())
            .await
    }

    /// A ride, whatever its status.
    pub async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>> {
        self.store().ride(id).await
    }

    /// Creates a SEARCHING ride and starts its search task; returns at once.
    pub async fn request_driver(&self, rider: &RiderId, pickup: Coordinates) -> Result<Arc<Ride>> {
        let now = Utc::now();
        let timeout = chrono::Duration::from_std(self.settings().request_timeout)
            .map_err(|_| Error::Internal("request timeout out of range".into()))?;
        let ride = self
            .store()
            .create_ride(rider, pickup, now, now + timeout)
            .await?;
        info!(ride_id = %ride.id, rider_id = %rider, "ride requested");
        self.start_search(ride.clone());
        Ok(ride)
    }

    /// Cancels a ride; a driver it held becomes available again. Wakes the
    /// ride's task here so it ends now rather than at its next search.
    pub async fn cancel_ride(&self, id: &RideId) -> Result<Arc<Ride>> {
        let ride = self.store().cancel_ride(id, Utc::now()).await?;
        self.searching().wake(id);
        Ok(ride)
    }

    /// Completes a DRIVER_FOUND ride; its driver becomes available again.
    pub async fn complete_ride(&self, id: &RideId) -> Result<Arc<Ride>> {
        self.store().complete_ride(id, Utc::now()).await
    }

    /// The ride as it is now, then every status change until it ends.
    pub async fn watch_ride(
        &self,
        id: &RideId,
    ) -> Result<impl Stream<Item = Arc<Ride>> + Send + 'static> {
        watch::ride_changes(self.inner.store.clone(), id).await
    }

    /// Spawns the search task for a ride unless one already runs here.
    fn start_search(&self, ride: Arc<Ride>) -> bool {
        if self.inner.shutdown.is_cancelled() {
            return false;
        }
        let Some(wake) = self.searching().register(&ride.id, ride.pickup) else {
            return false;
        };
        self.inner
            .tasks
            .spawn(search::run(self.clone(), ride, wake));
        true
    }
}
