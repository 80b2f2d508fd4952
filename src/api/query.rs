//! Read-only operations.

use async_graphql::{Context, Object, ResultExt, ID};

use super::{
    context::{caller, dispatcher},
    types::{Area, Driver, EventPage, EventType, NearbyDriver, NearbyOrder, Ride},
};
use crate::{
    dispatch::replay::{PageSize, TypeFilter, DEFAULT_PAGE},
    domain::{AreaId, Coordinates, DriverId, EventId, Limit, RadiusKm, RideId},
};

/// The seed's v1 search radius, used when `radiusKm` is omitted or null.
const DEFAULT_RADIUS_KM: f64 = 15.0;
/// Drivers listed when `limit` is omitted or null.
const DEFAULT_LIMIT: i32 = 10;

#[derive(Default)]
pub struct Query;

/// Reads: drivers near a point, one ride, one driver, the service areas, an
/// area's event log.
#[Object]
impl Query {
    /// AVAILABLE drivers within `radiusKm` of a point, nearest first
    /// (the seed's `/search`), or fastest first (`orderBy: ETA`, by road
    /// time to the point when the service has roads there). `radiusKm` in
    /// (0, 100], `limit` in 1..=100.
    #[graphql(
        complexity = "super::costs::nearby(limit, DEFAULT_LIMIT, order_by == Some(NearbyOrder::Eta), child_complexity)"
    )]
    async fn nearby_drivers(
        &self,
        ctx: &Context<'_>,
        lat: f64,
        lng: f64,
        #[graphql(default = 15.0)] radius_km: Option<f64>,
        #[graphql(default = 10)] limit: Option<i32>,
        #[graphql(default)] order_by: Option<NearbyOrder>,
    ) -> async_graphql::Result<Vec<NearbyDriver>> {
        let center = Coordinates::parse(lat, lng).extend()?;
        let radius = RadiusKm::parse(radius_km.unwrap_or(DEFAULT_RADIUS_KM)).extend()?;
        let limit = Limit::parse(limit.unwrap_or(DEFAULT_LIMIT).into()).extend()?;
        let found = dispatcher(ctx)?
            .nearby_drivers(
                caller(ctx),
                center,
                radius,
                limit,
                order_by.unwrap_or_default().into(),
            )
            .await
            .extend()?;
        Ok(found.into_iter().map(|n| NearbyDriver(n, center)).collect())
    }

    /// A ride by id, or null when there is none.
    async fn ride(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Ride>> {
        let id = RideId::parse(&id).extend()?;
        Ok(dispatcher(ctx)?
            .ride(caller(ctx), &id)
            .await
            .extend()?
            .map(Ride))
    }

    /// The service areas (one, `default`, covering the Earth when the
    /// service has no areas file).
    async fn areas(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Area>> {
        let dispatcher = dispatcher(ctx)?;
        crate::dispatch::access::may_look_up_rides(caller(ctx), "areas").extend()?;
        Ok(dispatcher.areas().all().iter().cloned().map(Area).collect())
    }

    /// A driver by id, or null when it never reported.
    async fn driver(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Driver>> {
        let id = DriverId::parse(&id).extend()?;
        Ok(dispatcher(ctx)?
            .driver(caller(ctx), &id)
            .await
            .extend()?
            .map(Driver::from))
    }

    /// An area's event log, oldest first: the events after `after` (an
    /// event's `id`; null: from the oldest kept), of the `types` given (all
    /// when left out), at most `first` (1 to 1000, default 100). Page on
    /// with `after: next`. `recovered: false` says events were missed
    /// (`after` is older than the log keeps, or of another epoch). `area`
    /// defaults to that of `after`, else `default` (without an areas file).
    /// Dispatchers only.
    #[graphql(complexity = "super::costs::events(first, DEFAULT_PAGE, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        area: Option<ID>,
        after: Option<String>,
        types: Option<Vec<EventType>>,
        first: Option<i32>,
    ) -> async_graphql::Result<EventPage> {
        let (area, after, types) = parse_events(area, after, types).extend()?;
        let size = PageSize::parse(first.map(i64::from)).extend()?;
        let page = dispatcher(ctx)?
            .events(caller(ctx), area, after, types, size)
            .await
            .extend()?;
        Ok(EventPage(page))
    }
}

/// The arguments `events` (the query and the subscription) share, as domain
/// types.
pub(super) fn parse_events(
    area: Option<ID>,
    after: Option<String>,
    types: Option<Vec<EventType>>,
) -> crate::domain::error::Result<(Option<AreaId>, Option<EventId>, TypeFilter)> {
    use crate::domain::error::Error;
    let area = area
        .map(|a| AreaId::parse(&a).map_err(Error::bad_input))
        .transpose()?;
    let after = after
        .map(|a| {
            EventId::parse(&a).ok_or_else(|| {
                Error::bad_input("after must be an event's id (<area>:<epoch>:<ms>-<n>)")
            })
        })
        .transpose()?;
    let types = TypeFilter::parse(types.map(|t| t.into_iter().map(Into::into).collect()))?;
    Ok((area, after, types))
}
