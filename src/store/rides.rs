//! The rides side of a store: creating rides and their atomic steps
//! (match or offer, answer, the trip's steps, cancel, expire).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Answered, NewRide, Offers, Pick, Requested, RiderRides, SearchOutcome};
use crate::{
    domain::error::Result,
    domain::{
        Coordinates, DriverId, IdempotencyKey, NearbyDriver, RadiusKm, Ride, RideId, RiderId, Step,
    },
};

/// What the service needs of a store for its rides: each change of a ride
/// one atomic step, so several instances never assign a driver twice.
#[async_trait]
pub trait Rides: Send + Sync + 'static {
    /// Creates a SEARCHING ride with a fresh id (one never handed out
    /// before, even by a store that lost its data), atomically with its
    /// checks: the same idempotency key returns the ride it created; a rider
    /// at `max_active` is refused with [`crate::domain::error::Error::ActiveRide`].
    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested>;

    /// The rider's rides here that have not ended, and the ride `key` made
    /// here (if it is still remembered): what a request of the rider must
    /// reckon with in this store.
    async fn rider_rides(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<RiderRides>;

    /// A ride, whatever its status.
    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>>;

    /// Up to `count` fresh AVAILABLE drivers within `radius` of the ride's
    /// `pickup`, nearest first, leaving out those offered the ride before
    /// (they declined or let it time out): what a search ranks by time.
    async fn candidates(
        &self,
        id: &RideId,
        pickup: Coordinates,
        radius: RadiusKm,
        count: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>>;

    /// One search, atomically. If the ride is SEARCHING and before its
    /// deadline: with offers off, assign the driver `pick` names (the
    /// nearest AVAILABLE fresh driver within `radius`, or the first such of
    /// a ranked list; driver ASSIGNED, ride DRIVER_FOUND, with its time to
    /// the pickup); with offers on, time out an offer past its deadline
    /// (that driver is never offered the ride again, and goes OFFLINE at
    /// the ignore limit), then, unless an offer still waits, offer the ride
    /// to such a driver not offered it before (driver OFFERED). Past the
    /// ride's deadline it is EXPIRED instead, withdrawing any offer. Counts
    /// the search.
    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        pick: &Pick,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome>;

    /// Answers the ride's outstanding offer, atomically: accepted, the ride
    /// is DRIVER_FOUND and the driver ASSIGNED; declined, the driver is
    /// AVAILABLE and never offered the ride again. `driver`, when given,
    /// must be the one offered. No such offer, or one past its deadline: a
    /// `Conflict`, and nothing changes; no such ride: `NotFound`.
    async fn answer_offer(
        &self,
        id: &RideId,
        driver: Option<&DriverId>,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<Answered>;

    /// Moves a ride one [`Step`] on, atomically. A step that does not apply
    /// to its status is a `Conflict` (cancelling a CANCELLED ride returns it
    /// as it is). Ending a ride frees its driver; cancelling a SEARCHING one
    /// withdraws its offer.
    async fn advance_ride(&self, id: &RideId, step: Step, now: DateTime<Utc>) -> Result<Arc<Ride>>;

    /// SEARCHING and past its deadline → EXPIRED (withdrawing any offer).
    /// Returns the ride as it is afterwards (unchanged when it was not due
    /// or not searching).
    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>>;
}
