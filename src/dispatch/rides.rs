//! The operations on rides: request, read, cancel, the trip's steps and
//! the answers to offers; each new ride gets its search task.

use std::sync::Arc;

use tracing::info;

use super::{access, search::Searches, settings::AreaSettings};
use crate::{
    auth::Caller,
    domain::error::{Error, Result},
    domain::{Coordinates, IdempotencyKey, Ride, RideId, RiderId, Step},
    store::{Answered, NewRide, Requested, Store},
};

/// Reads a ride that must exist, for the operations that act on one.
pub(super) async fn existing_ride(
    store: &dyn Store,
    caller: &Caller,
    id: &RideId,
    action: &str,
) -> Result<Arc<Ride>> {
    access::may_look_up_rides(caller, action)?;
    store
        .ride(id)
        .await?
        .ok_or_else(|| Error::ride_not_found(id))
}

/// What the dispatcher does with rides.
pub(super) struct RideOps {
    searches: Arc<Searches>,
}

impl RideOps {
    /// The ride operations, starting their search tasks in `searches`.
    pub fn new(searches: Arc<Searches>) -> Self {
        Self { searches }
    }

    fn store(&self) -> &dyn Store {
        self.searches.store()
    }

    fn settings(&self) -> &AreaSettings {
        self.searches.settings()
    }

    /// A ride, whatever its status.
    pub async fn ride(&self, caller: &Caller, id: &RideId) -> Result<Option<Arc<Ride>>> {
        access::may_look_up_rides(caller, "ride")?;
        let ride = self.store().ride(id).await?;
        if let Some(ride) = &ride {
            access::may_see_ride(caller, ride, "ride")?;
        }
        Ok(ride)
    }

    /// Creates a SEARCHING ride and starts its search task; returns at once.
    /// A retry with the same idempotency key returns the ride the first
    /// request created, whatever became of that request's reply.
    pub async fn request_driver(
        &self,
        caller: &Caller,
        rider: &RiderId,
        pickup: Coordinates,
        dropoff: Option<Coordinates>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Arc<Ride>> {
        access::may_request_as(caller, rider)?;
        let base = self.settings().base();
        let area = self
            .settings()
            .areas()
            .locate(pickup)
            .ok_or_else(|| Error::out_of_service_area(pickup))?;
        let request = NewRide {
            rider: rider.clone(),
            pickup,
            dropoff,
            timeout: area.rules.request_timeout.unwrap_or(base.request_timeout),
            idempotency_key,
            max_active: access::ride_cap_for(caller, rider, base.max_active_rides_per_rider),
        };
        match self
            .store()
            .create_ride(&request, self.store().now())
            .await?
        {
            Requested::Created(ride) => {
                info!(ride_id = %ride.id, rider_id = %rider, "ride requested");
                metrics::counter!(crate::telemetry::RIDES_REQUESTED).increment(1);
                self.searches.start(ride.clone());
                Ok(ride)
            }
            Requested::Existing(ride) => Ok(ride),
        }
    }

    /// Cancels a ride; a driver it held becomes available again, an offer
    /// it made is withdrawn. Wakes the ride's task here so it ends now
    /// rather than at its next search.
    pub async fn cancel_ride(&self, caller: &Caller, id: &RideId) -> Result<Arc<Ride>> {
        let current = existing_ride(self.store(), caller, id, "cancelRequest").await?;
        access::may_cancel(caller, &current)?;
        let ride = self
            .store()
            .advance_ride(id, Step::Cancel, self.store().now())
            .await?;
        self.searches.wake(id);
        if current.status != ride.status {
            info!(ride_id = %id, "ride cancelled");
            metrics::counter!(crate::telemetry::RIDES_CANCELLED).increment(1);
        }
        Ok(ride)
    }

    /// Moves a ride with a driver one step through its trip: arrived at the
    /// pickup, trip started, completed (which frees the driver). The driver
    /// assigned or a dispatcher.
    pub async fn advance_trip(
        &self,
        caller: &Caller,
        id: &RideId,
        step: Step,
    ) -> Result<Arc<Ride>> {
        let current = existing_ride(self.store(), caller, id, step.operation()).await?;
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
        let store = self.store();
        let Answered { ride, offered_at } = store
            .answer_offer(id, driver.as_ref(), accept, store.now())
            .await?;
        if let Some(offered_at) = offered_at {
            let took = (store.now() - offered_at).to_std().unwrap_or_default();
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
        self.searches.wake(id);
        Ok(ride)
    }
}
