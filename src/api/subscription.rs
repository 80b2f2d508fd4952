//! Live streams.

use async_graphql::{Context, ResultExt, Subscription, ID};
use futures_util::{Stream, StreamExt};

use super::{
    caller, dispatcher,
    types::{Driver, FleetEvent, Ride},
};
use crate::domain::{Coordinates, RadiusKm, RideId};

#[derive(Default)]
pub struct SubscriptionRoot;

/// Live streams of rides.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The ride as it is now, then the ride again at every status change;
    /// completes after CANCELLED, EXPIRED or COMPLETED. Should the ride cease
    /// to exist (a store that lost its data), a `NOT_FOUND` error ends it.
    async fn ride_status(
        &self,
        ctx: &Context<'_>,
        ride_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Ride>>> {
        let id = RideId::parse(&ride_id).extend()?;
        let changes = dispatcher(ctx)?
            .watch_ride(caller(ctx), &id)
            .await
            .extend()?;
        Ok(changes.map(|change| change.map(Ride).extend()))
    }

    /// The assigned driver, each time its position or status changes, from
    /// DRIVER_FOUND until the ride ends (then the stream completes). Waits
    /// while the ride searches; for an ended ride it is a `CONFLICT`.
    async fn driver_location(
        &self,
        ctx: &Context<'_>,
        ride_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Driver>>> {
        let id = RideId::parse(&ride_id).extend()?;
        let moves = dispatcher(ctx)?
            .watch_driver(caller(ctx), &id)
            .await
            .extend()?;
        Ok(moves.map(|moved| moved.map(|d| Driver((*d).clone())).extend()))
    }

    /// A live map of an area: first a SNAPSHOT of it, then every driver
    /// position or status change and every ride status change in it.
    /// Dispatchers only.
    async fn fleet(
        &self,
        ctx: &Context<'_>,
        lat: f64,
        lng: f64,
        radius_km: f64,
    ) -> async_graphql::Result<impl Stream<Item = FleetEvent>> {
        let center = Coordinates::parse(lat, lng).extend()?;
        let radius = RadiusKm::parse(radius_km).extend()?;
        let events = dispatcher(ctx)?
            .watch_area(caller(ctx), center, radius)
            .await
            .extend()?;
        Ok(events.map(FleetEvent))
    }
}
