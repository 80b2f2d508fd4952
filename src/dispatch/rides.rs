//! The operations on rides: request, cancel, the trip's steps, the answers
//! to offers, and following a ride; with the search task each new ride
//! gets.

use std::sync::Arc;

use futures_util::Stream;
use tracing::info;

use super::{access, live, search, Dispatcher};
use crate::{
    auth::Caller,
    domain::{Coordinates, DriverId, IdempotencyKey, Ride, RideId, RiderId, Step},
    error::{Error, Result},
    store::{NewRide, Requested},
};

impl Dispatcher {
    /// Reads a ride that must exist, for the operations that act on one.
    pub(super) async fn existing_ride(
        &self,
        caller: &Caller,
        id: &RideId,
        action: &str,
    ) -> Result<Arc<Ride>> {
        access::may_look_up_rides(caller, action)?;
        self.store()
            .ride(id)
            .await?
            .ok_or_else(|| Error::ride_not_found(id))
    }

    /// Creates a SEARCHING ride and starts its search task; returns at once.
    /// A retry with the same idempotency key returns the ride the first
    /// request created, whatever became of that request's reply.
    #[tracing::instrument(level = "info", skip_all, fields(rider = %rider))]
    pub async fn request_driver(
        &self,
        caller: &Caller,
        rider: &RiderId,
        pickup: Coordinates,
        dropoff: Option<Coordinates>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Arc<Ride>> {
        access::may_request_as(caller, rider)?;
        let area = self
            .areas()
            .locate(pickup)
            .ok_or_else(|| Error::out_of_service_area(pickup))?;
        let request = NewRide {
            rider: rider.clone(),
            pickup,
            dropoff,
            timeout: area
                .rules
                .request_timeout
                .unwrap_or(self.settings().request_timeout),
            idempotency_key,
            max_active: access::ride_cap_for(
                caller,
                rider,
                self.settings().max_active_rides_per_rider,
            ),
        };
        match self
            .store()
            .create_ride(&request, self.store().now())
            .await?
        {
            Requested::Created(ride) => {
                info!(ride_id = %ride.id, rider_id = %rider, "ride requested");
                metrics::counter!(crate::telemetry::RIDES_REQUESTED).increment(1);
                self.start_search(ride.clone());
                Ok(ride)
            }
            Requested::Existing(ride) => Ok(ride),
        }
    }

    /// Cancels a ride; a driver it held becomes available again, an offer
    /// it made is withdrawn. Wakes the ride's task here so it ends now
    /// rather than at its next search.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn cancel_ride(&self, caller: &Caller, id: &RideId) -> Result<Arc<Ride>> {
        let current = self.existing_ride(caller, id, "cancelRequest").await?;
        access::may_cancel(caller, &current)?;
        let ride = self
            .store()
            .advance_ride(id, Step::Cancel, self.store().now())
            .await?;
        self.searching().wake(id);
        if current.status != ride.status {
            info!(ride_id = %id, "ride cancelled");
            metrics::counter!(crate::telemetry::RIDES_CANCELLED).increment(1);
        }
        Ok(ride)
    }

    /// Moves a ride with a driver one step through its trip: arrived at the
    /// pickup, trip started, completed (which frees the driver). The driver
    /// assigned or a dispatcher.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id, step = ?step))]
    pub async fn advance_trip(
        &self,
        caller: &Caller,
        id: &RideId,
        step: Step,
    ) -> Result<Arc<Ride>> {
        let current = self.existing_ride(caller, id, step.operation()).await?;
        access::may_drive(caller, &current, step.operation())?;
        let ride = self
            .store()
            .advance_ride(id, step, self.store().now())
            .await?;
        info!(ride_id = %id, status = ride.status.as_str(), "ride moved on");
        if step == Step::Complete {
            metrics::counter!(crate::telemetry::RIDES_COMPLETED).increment(1);
        }
        Ok(ride)
    }

    /// Answers a ride's offer: the driver offered (only its own offer) or a
    /// dispatcher (whichever driver holds it). Accepted, the ride is
    /// DRIVER_FOUND; declined, its search goes on at once with the next
    /// nearest driver.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id, accept))]
    pub async fn answer_offer(
        &self,
        caller: &Caller,
        id: &RideId,
        accept: bool,
    ) -> Result<Arc<Ride>> {
        let action = if accept {
            "acceptOffer"
        } else {
            "declineOffer"
        };
        let driver = access::may_answer_offers(caller, action)?;
        let current = self.existing_ride(caller, id, action).await?;
        let store = self.store();
        let ride = store
            .answer_offer(id, driver.as_ref(), accept, store.now())
            .await?;
        if let Some(offer) = &current.offer {
            let took = (store.now() - offer.made_at).to_std().unwrap_or_default();
            metrics::histogram!(crate::telemetry::OFFER_ANSWER).record(took.as_secs_f64());
        }
        if accept {
            info!(ride_id = %id, driver_id = ?ride.driver_id.as_ref().map(|d| d.as_str()), "offer accepted");
            metrics::counter!(crate::telemetry::MATCHES).increment(1);
            let waited = (store.now() - ride.created_at).to_std().unwrap_or_default();
            metrics::histogram!(crate::telemetry::TIME_TO_MATCH).record(waited.as_secs_f64());
        } else {
            info!(ride_id = %id, "offer declined");
        }
        // The search task here (if it runs here) ends, or offers the next
        // driver, now; other instances hear of it through the ride's event.
        self.searching().wake(id);
        Ok(ride)
    }

    /// What a driver app follows: the driver now (with its offer or ride),
    /// then each offer, its end, each change of its ride, and going
    /// offline or back. The driver itself or a dispatcher.
    #[tracing::instrument(level = "info", skip_all, fields(driver = %id))]
    pub async fn watch_driver_feed(
        &self,
        caller: &Caller,
        id: &DriverId,
    ) -> Result<impl Stream<Item = live::FeedEvent> + Send + 'static> {
        access::may_follow_feed(caller, id)?;
        self.store().watch_drivers().await?;
        live::driver_feed(self.inner.store.clone(), id.clone()).await
    }

    /// The ride as it is now, then every status change until it ends.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn watch_ride(
        &self,
        caller: &Caller,
        id: &RideId,
    ) -> Result<impl Stream<Item = Result<Arc<Ride>>> + Send + 'static> {
        access::may_see_ride(
            caller,
            &*self.existing_ride(caller, id, "rideStatus").await?,
            "rideStatus",
        )?;
        live::ride_changes(self.inner.store.clone(), id, caller.clone(), "rideStatus").await
    }

    /// Spawns the search task for a ride unless one already runs here.
    pub(super) fn start_search(&self, ride: Arc<Ride>) -> bool {
        if self.inner.shutdown.is_cancelled() {
            return false;
        }
        let Some(wake) =
            self.searching()
                .register(&ride.id, ride.pickup, self.store().events().wakes_wanted())
        else {
            return false;
        };
        self.inner.tasks.spawn(search::run(
            self.clone(),
            ride,
            wake,
            tracing::Span::current(),
        ));
        true
    }
}
