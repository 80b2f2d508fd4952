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
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    domain::{
        Coordinates, Driver, DriverId, DriverStatus, Limit, NearbyDriver, RadiusKm, Ride, RideId,
        RiderId,
    },
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
    /// A dispatcher over `store`; call [`Dispatcher::resume`] to restart
    /// the search tasks of rides that were already searching.
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                settings,
                searching: SearchingRides::default(),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        }
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

    /// Starts search tasks for every SEARCHING ride in the store that has
    /// none on this instance; returns how many were started.
    pub async fn resume(&self) -> Result<usize> {
        let rides = self.store().searching_rides().await?;
        let started = rides
            .into_iter()
            .filter(|ride| self.start_search(ride.clone()))
            .count();
        if started > 0 {
            info!(rides = started, "resumed searching rides");
        }
        Ok(started)
    }

    /// Stops every search task and waits for them (rides stay SEARCHING in
    /// the store, for the next start to resume).
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Succeeds while the store answers.
    pub async fn ping(&self) -> Result<()> {
        self.store().ping().await
    }

    /// Records a driver's position; wakes the rides near it when it is available.
    pub async fn update_location(&self, id: &DriverId, at: Coordinates) -> Result<Driver> {
        let driver = self.store().update_location(id, at, Utc::now()).await?;
        if driver.status == DriverStatus::Available {
            self.searching().wake_near(at, self.settings().match_radius);
        }
        Ok(driver)
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

    /// Cancels a ride; a driver it held becomes available again.
    pub async fn cancel_ride(&self, id: &RideId) -> Result<Arc<Ride>> {
        let ride = self.store().cancel_ride(id, Utc::now()).await?;
        self.searching().wake(id);
        self.driver_freed(&ride).await;
        Ok(ride)
    }

    /// Completes a DRIVER_FOUND ride; its driver becomes available again.
    pub async fn complete_ride(&self, id: &RideId) -> Result<Arc<Ride>> {
        let ride = self.store().complete_ride(id, Utc::now()).await?;
        self.driver_freed(&ride).await;
        Ok(ride)
    }

    /// The ride as it is now, then every status change until it ends.
    pub async fn watch_ride(
        &self,
        id: &RideId,
    ) -> Result<impl Stream<Item = Arc<Ride>> + Send + 'static> {
        watch::ride_changes(self.inner.store.clone(), id).await
    }

    /// Wakes the rides near a driver that an ended ride let go.
    async fn driver_freed(&self, ride: &Ride) {
        let Some(driver_id) = &ride.driver_id else {
            return;
        };
        match self.driver(driver_id).await {
            Ok(Some(Driver {
                status: DriverStatus::Available,
                location: Some(at),
                ..
            })) => {
                self.searching().wake_near(at, self.settings().match_radius);
            }
            Ok(_) => {}
            // The ride has ended either way; the rides nearby will find the
            // driver at their next regular search.
            Err(error) => warn!(%error, driver_id = %driver_id, "could not read freed driver"),
        }
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
