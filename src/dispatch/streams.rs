//! The live streams the dispatcher opens, each after its access check: a
//! ride's status, its driver's position, a driver's own feed, an area.

use std::{sync::Arc, time::Duration};

use futures_util::Stream;

use super::{access, live, rides::existing_ride};
use crate::{
    auth::Caller,
    domain::error::Result,
    domain::{Coordinates, Driver, DriverId, RadiusKm, Ride, RideId},
    store::Store,
};

/// What the dispatcher streams.
pub(super) struct Streams {
    store: Arc<dyn Store>,
    /// Area snapshots, shared by live maps asking together.
    snapshots: Arc<live::Snapshots>,
    /// How often a `fleet` subscriber gets the changes since the last event.
    fleet_interval: Duration,
}

impl Streams {
    /// The streams over `store`, a `fleet` subscriber hearing of changes
    /// every `fleet_interval` (zero: at each).
    pub fn new(store: Arc<dyn Store>, fleet_interval: Duration) -> Self {
        Self {
            snapshots: live::Snapshots::new(store.clone()),
            store,
            fleet_interval,
        }
    }

    /// The assigned driver of a ride, each time it moves, until the ride ends.
    pub async fn watch_driver(
        &self,
        caller: &Caller,
        id: &RideId,
    ) -> Result<impl Stream<Item = Result<(Arc<Driver>, Arc<Ride>)>> + Send + 'static> {
        let ride = existing_ride(self.store.as_ref(), caller, id, "driverLocation").await?;
        access::may_see_ride(caller, &ride, "driverLocation")?;
        self.store.watch_drivers().await?;
        live::driver_of_ride(self.store.clone(), id, caller.clone()).await
    }

    /// Everything in an area: a snapshot, then each driver and ride change.
    pub async fn watch_area(
        &self,
        caller: &Caller,
        center: Coordinates,
        radius: RadiusKm,
    ) -> Result<impl Stream<Item = live::FleetEvent> + Send + 'static> {
        access::may_watch_fleet(caller)?;
        self.store.watch_drivers().await?;
        live::area(
            self.store.clone(),
            self.snapshots.clone(),
            center,
            radius,
            self.fleet_interval,
        )
        .await
    }

    /// What a driver app follows: the driver now (with its offer or ride),
    /// then each offer, its end, each change of its ride, and going
    /// offline or back. The driver itself or a dispatcher.
    pub async fn watch_driver_feed(
        &self,
        caller: &Caller,
        id: &DriverId,
    ) -> Result<impl Stream<Item = live::FeedEvent> + Send + 'static> {
        access::may_follow_feed(caller, id)?;
        self.store.watch_drivers().await?;
        live::driver_feed(self.store.clone(), id.clone()).await
    }

    /// The ride as it is now, then every status change until it ends.
    pub async fn watch_ride(
        &self,
        caller: &Caller,
        id: &RideId,
    ) -> Result<impl Stream<Item = Result<Arc<Ride>>> + Send + 'static> {
        access::may_see_ride(
            caller,
            &*existing_ride(self.store.as_ref(), caller, id, "rideStatus").await?,
            "rideStatus",
        )?;
        live::ride_changes(self.store.clone(), id, caller.clone(), "rideStatus").await
    }
}
