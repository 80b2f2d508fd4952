//! Operations that change the fleet or a ride.

use async_graphql::{Context, Object, ResultExt, ID};

use super::{
    context::{caller, dispatcher},
    types::{Driver, LocationBatch, LocationInput, LocationUpdate, Ride},
};
use crate::{
    domain::error::Error,
    domain::{AreaId, Coordinates, DriverId, IdempotencyKey, RideId, RiderId, Step},
    store::SinkId,
};

#[derive(Default)]
pub struct Mutation;

/// Writes: driver positions and the life of a ride.
#[Object]
impl Mutation {
    /// Records a driver's position. A new or offline driver becomes
    /// AVAILABLE; an ASSIGNED driver stays ASSIGNED until its ride ends.
    async fn update_location(
        &self,
        ctx: &Context<'_>,
        driver_id: ID,
        lat: f64,
        lng: f64,
    ) -> async_graphql::Result<Driver> {
        let id = DriverId::parse(&driver_id).extend()?;
        let at = Coordinates::parse(lat, lng).extend()?;
        Ok(Driver::from(
            dispatcher(ctx)?
                .update_location(caller(ctx), &id, at)
                .await
                .extend()?,
        ))
    }

    /// Records many positions in one call (up to 1000; on Redis, one round
    /// trip). A report whose `at` is older than the driver's stored
    /// position is ignored (counted as stale), as mobile clients send late.
    /// Malformed input or a driver the caller may not move refuses the whole
    /// call; a report that is too fast or an implausible jump is refused on
    /// its own and listed.
    #[graphql(complexity = "super::costs::batch(updates.len(), child_complexity)")]
    async fn update_locations(
        &self,
        ctx: &Context<'_>,
        updates: Vec<LocationUpdate>,
    ) -> async_graphql::Result<LocationBatch> {
        let reports = updates
            .iter()
            .enumerate()
            .map(|(i, u)| {
                u.report()
                    .map_err(|e| Error::bad_input(format!("updates[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, Error>>()
            .extend()?;
        let outcomes = dispatcher(ctx)?
            .update_locations(caller(ctx), reports)
            .await
            .extend()?;
        Ok(LocationBatch::new(&updates, outcomes))
    }

    /// Asks for a driver near a pickup point (and, optionally, says where
    /// the rider is going). Returns the ride at once, SEARCHING; follow it
    /// with the `rideStatus` subscription. A retry with
    /// the same `idempotencyKey` (at most 64 bytes of `[A-Za-z0-9_.:-]`,
    /// remembered per rider for the request timeout) returns the same ride,
    /// whatever became of the first call's reply. Where the service limits
    /// rides per rider, a rider at the limit gets `CONFLICT` with the id of
    /// one of its rides in `extensions.rideId`.
    #[graphql(complexity = "super::costs::REQUEST_DRIVER + child_complexity")]
    async fn request_driver(
        &self,
        ctx: &Context<'_>,
        rider_id: ID,
        lat: f64,
        lng: f64,
        dropoff: Option<LocationInput>,
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<Ride> {
        let rider = RiderId::parse(&rider_id).extend()?;
        let pickup = Coordinates::parse(lat, lng).extend()?;
        let dropoff = dropoff
            .map(|d| Coordinates::parse(d.lat, d.lng))
            .transpose()
            .map_err(|e| Error::bad_input(format!("dropoff: {e}")))
            .extend()?;
        let key = idempotency_key
            .as_deref()
            .map(IdempotencyKey::parse)
            .transpose()
            .extend()?;
        Ok(Ride(
            dispatcher(ctx)?
                .request_driver(caller(ctx), &rider, pickup, dropoff, key)
                .await
                .extend()?,
        ))
    }

    /// Cancels a SEARCHING, DRIVER_FOUND or ARRIVED ride (its driver
    /// becomes available again; an outstanding offer is withdrawn).
    /// Cancelling a cancelled ride returns it unchanged; an IN_PROGRESS,
    /// EXPIRED or COMPLETED ride is a `CONFLICT`.
    #[graphql(complexity = "super::costs::RIDE_CHANGE + child_complexity")]
    async fn cancel_request(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        let id = RideId::parse(&ride_id).extend()?;
        Ok(Ride(
            dispatcher(ctx)?
                .cancel_ride(caller(ctx), &id)
                .await
                .extend()?,
        ))
    }

    /// The offered driver (or a dispatcher) accepts the ride's offer: the
    /// ride is DRIVER_FOUND, the driver ASSIGNED. No outstanding offer to
    /// this driver, or one past its `expiresAt`: `CONFLICT`, nothing changes.
    #[graphql(complexity = "super::costs::RIDE_CHANGE + child_complexity")]
    async fn accept_offer(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        answer(ctx, &ride_id, true).await
    }

    /// The offered driver (or a dispatcher) declines the ride's offer: the
    /// driver is AVAILABLE again and never offered this ride again; the ride
    /// is offered to the next nearest driver at once. `CONFLICT` as for
    /// `acceptOffer`.
    #[graphql(complexity = "super::costs::RIDE_CHANGE + child_complexity")]
    async fn decline_offer(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        answer(ctx, &ride_id, false).await
    }

    /// The assigned driver waits at the pickup: DRIVER_FOUND → ARRIVED.
    #[graphql(complexity = "super::costs::RIDE_CHANGE + child_complexity")]
    async fn driver_arrived(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        trip_step(ctx, &ride_id, Step::Arrive).await
    }

    /// The rider is on board: ARRIVED → IN_PROGRESS.
    #[graphql(complexity = "super::costs::RIDE_CHANGE + child_complexity")]
    async fn start_trip(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        trip_step(ctx, &ride_id, Step::Start).await
    }

    /// Ends a DRIVER_FOUND, ARRIVED or IN_PROGRESS ride as COMPLETED and
    /// frees its driver.
    #[graphql(complexity = "super::costs::RIDE_CHANGE + child_complexity")]
    async fn complete_ride(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        trip_step(ctx, &ride_id, Step::Complete).await
    }

    /// Takes a driver off the market at once, declining an offer it holds
    /// (`CONFLICT` while it is ASSIGNED).
    #[graphql(complexity = "super::costs::RIDE_CHANGE + child_complexity")]
    async fn go_offline(&self, ctx: &Context<'_>, driver_id: ID) -> async_graphql::Result<Driver> {
        let id = DriverId::parse(&driver_id).extend()?;
        Ok(Driver::from(
            dispatcher(ctx)?
                .go_offline(caller(ctx), &id)
                .await
                .extend()?,
        ))
    }

    /// Sends an area's dead letters (events a sink gave up on, see
    /// `--webhook-max-age`) back to their sinks, oldest first, up to
    /// 100000 per call: those of `sink` (`webhook-<8 hex>` or `nats`, as
    /// the metrics name them), or of every sink. Returns how many were
    /// queued; each sink delivers them again before what it has not sent
    /// yet. Dispatchers only (`tracking events redeliver` calls it).
    #[graphql(complexity = "super::costs::RIDE_CHANGE")]
    async fn redeliver_events(
        &self,
        ctx: &Context<'_>,
        area: ID,
        sink: Option<String>,
    ) -> async_graphql::Result<i32> {
        let area = AreaId::parse(&area).map_err(Error::bad_input).extend()?;
        let sink = sink
            .map(|s| {
                SinkId::parse(&s).map_err(|_| {
                    Error::bad_input(format!(
                        "sink must be a sink's id: 1 to {} bytes of [a-z0-9-]",
                        crate::store::MAX_SINK_ID_LEN
                    ))
                })
            })
            .transpose()
            .extend()?;
        let moved = dispatcher(ctx)?
            .redeliver_events(caller(ctx), area, sink)
            .await
            .extend()?;
        Ok(i32::try_from(moved).unwrap_or(i32::MAX))
    }
}

async fn answer(ctx: &Context<'_>, ride_id: &ID, accept: bool) -> async_graphql::Result<Ride> {
    let id = RideId::parse(ride_id).extend()?;
    Ok(Ride(
        dispatcher(ctx)?
            .answer_offer(caller(ctx), &id, accept)
            .await
            .extend()?,
    ))
}

async fn trip_step(ctx: &Context<'_>, ride_id: &ID, step: Step) -> async_graphql::Result<Ride> {
    let id = RideId::parse(ride_id).extend()?;
    Ok(Ride(
        dispatcher(ctx)?
            .advance_trip(caller(ctx), &id, step)
            .await
            .extend()?,
    ))
}
