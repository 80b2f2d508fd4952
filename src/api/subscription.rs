//! Live streams.

use async_graphql::{Context, ResultExt, Subscription, ID};
use futures_util::{Stream, StreamExt};

use super::{
    context::{caller, dispatcher},
    query::parse_events,
    types::{Driver, DriverFeedEvent, EventPage, EventType, FleetEvent, Ride},
};
use crate::domain::{Coordinates, DriverId, RadiusKm, RideId};

#[derive(Default)]
pub struct SubscriptionRoot;

/// Live streams of rides, drivers, areas and an area's event log.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The ride as it is now, then the ride again at every status change
    /// (one event per status: offers made and ended do not count);
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
    /// DRIVER_FOUND (through ARRIVED and IN_PROGRESS) until the ride ends
    /// (then the stream completes). Waits
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
        Ok(moves.map(|moved| moved.map(|(d, eta)| Driver((*d).clone(), eta)).extend()))
    }

    /// What a driver app needs, for the driver itself or a dispatcher: first
    /// a STATE (the driver now, with its outstanding offer or current ride;
    /// OFFLINE with no location for a driver that has not reported yet),
    /// then each OFFER made to it, each OFFER_ENDED with its reason, each
    /// status change of its ride (RIDE), and a STATE when it goes OFFLINE or
    /// comes back. It never ends on its own.
    async fn driver_feed(
        &self,
        ctx: &Context<'_>,
        driver_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = DriverFeedEvent>> {
        let id = DriverId::parse(&driver_id).extend()?;
        let events = dispatcher(ctx)?
            .watch_driver_feed(caller(ctx), &id)
            .await
            .extend()?;
        Ok(events.map(DriverFeedEvent))
    }

    /// A live map of an area: first a SNAPSHOT of it, then every driver
    /// position or status change and every ride status change in it,
    /// gathered into one CHANGES event per `--fleet-interval` (250 ms by
    /// default). Dispatchers only.
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

    /// An area's event log, followed live. The first page replays what
    /// followed `after` (an event's `id`, as `events` takes it); without
    /// `after`, the first page is empty and the stream carries only what
    /// comes next (its `next` is the newest event now). Then a page (at most
    /// 1000 events) whenever events of the `types` given (all when left out)
    /// are logged, or `recovered: false` when some were missed. A failing
    /// read ends the stream with its error: subscribe again with `after`
    /// the last `next`. `area` as for `events`. Dispatchers only.
    #[graphql(complexity = "super::costs::events(Some(1000), 1000, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        area: Option<ID>,
        after: Option<String>,
        types: Option<Vec<EventType>>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<EventPage>>> {
        let (area, after, types) = parse_events(area, after, types).extend()?;
        let pages = dispatcher(ctx)?
            .watch_events(caller(ctx), area, after, types)
            .extend()?;
        Ok(pages.map(|page| page.map(EventPage).extend()))
    }
}
