//! Read-only operations.

use async_graphql::{Context, Object, ResultExt, ID};

use super::{
    dispatcher,
    types::{Driver, NearbyDriver, Ride},
};
use crate::domain::{Coordinates, DriverId, Limit, RadiusKm, RideId};

/// Queries.
#[derive(Default)]
pub struct Query;

#[Object]
impl Query {
    /// AVAILABLE drivers within `radiusKm` of a point, nearest first
    /// (the seed's `/search`). `radiusKm` in (0, 100], `limit` in 1..=100.
    async fn nearby_drivers(
        &self,
        ctx: &Context<'_>,
        lat: f64,
        lng: f64,
        #[graphql(default = 15.0)] radius_km: f64,
        #[graphql(default = 10)] limit: i32,
    ) -> async_graphql::Result<Vec<NearbyDriver>> {
        let center = Coordinates::parse(lat, lng).extend()?;
        let radius = RadiusKm::parse(radius_km).extend()?;
        let limit = Limit::parse(limit.into()).extend()?;
        let found = dispatcher(ctx)?
            .nearby_drivers(center, radius, limit)
            .await
            .extend()?;
        Ok(found.into_iter().map(NearbyDriver).collect())
    }

    /// A ride by id, or null when there is none.
    async fn ride(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Ride>> {
        let id = RideId::parse(&id).extend()?;
        Ok(dispatcher(ctx)?.ride(&id).await.extend()?.map(Ride))
    }

    /// A driver by id, or null when it never reported.
    async fn driver(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Driver>> {
        let id = DriverId::parse(&id).extend()?;
        Ok(dispatcher(ctx)?.driver(&id).await.extend()?.map(Driver))
    }
}
