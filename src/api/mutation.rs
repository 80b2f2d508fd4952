//! Operations that change the fleet or a ride.

use async_graphql::{Context, Object, ResultExt, ID};

use super::{
    caller, dispatcher,
    types::{Driver, Ride},
};
use crate::domain::{Coordinates, DriverId, RideId, RiderId};

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
        Ok(Driver(
            dispatcher(ctx)?
                .update_location(caller(ctx), &id, at)
                .await
                .extend()?,
        ))
    }

    /// Asks for a driver near a pickup point. Returns the ride at once,
    /// SEARCHING; follow it with the `rideStatus` subscription.
    async fn request_driver(
        &self,
        ctx: &Context<'_>,
        rider_id: ID,
        lat: f64,
        lng: f64,
    ) -> async_graphql::Result<Ride> {
        let rider = RiderId::parse(&rider_id).extend()?;
        let pickup = Coordinates::parse(lat, lng).extend()?;
        Ok(Ride(
            dispatcher(ctx)?
                .request_driver(caller(ctx), &rider, pickup)
                .await
                .extend()?,
        ))
    }

    /// Cancels a SEARCHING or DRIVER_FOUND ride (its driver becomes
    /// available again). Cancelling a cancelled ride returns it unchanged;
    /// an EXPIRED or COMPLETED ride is a `CONFLICT`.
    async fn cancel_request(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        let id = RideId::parse(&ride_id).extend()?;
        Ok(Ride(
            dispatcher(ctx)?
                .cancel_ride(caller(ctx), &id)
                .await
                .extend()?,
        ))
    }

    /// Ends a DRIVER_FOUND ride as COMPLETED and frees its driver.
    async fn complete_ride(&self, ctx: &Context<'_>, ride_id: ID) -> async_graphql::Result<Ride> {
        let id = RideId::parse(&ride_id).extend()?;
        Ok(Ride(
            dispatcher(ctx)?
                .complete_ride(caller(ctx), &id)
                .await
                .extend()?,
        ))
    }

    /// Takes a driver off the market at once (`CONFLICT` while it is ASSIGNED).
    async fn go_offline(&self, ctx: &Context<'_>, driver_id: ID) -> async_graphql::Result<Driver> {
        let id = DriverId::parse(&driver_id).extend()?;
        Ok(Driver(
            dispatcher(ctx)?
                .go_offline(caller(ctx), &id)
                .await
                .extend()?,
        ))
    }
}
