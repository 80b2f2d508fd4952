//! Service areas in GraphQL: where the service operates, and what each
//! area holds now.

use std::sync::Arc;

use async_graphql::{Context, Object, ResultExt, ID};

use crate::{api::context::dispatcher, domain};

/// A GeoJSON geometry, as JSON.
#[derive(serde::Serialize, serde::Deserialize, Clone)]
pub struct GeoJson(pub serde_json::Value);

async_graphql::scalar!(
    GeoJson,
    "GeoJSON",
    "A GeoJSON geometry (RFC 7946), as JSON: here a Polygon or MultiPolygon, holes included, as the areas file gave it."
);

pub struct Area(pub Arc<domain::Area>);

/// A service area: rides start only inside one, and are matched only with
/// drivers of the same area, under the area's own rules.
#[Object]
impl Area {
    /// The area's id (`[a-z0-9-]`); ride ids in it start with `<id>:`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Its name for people.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its boundary.
    async fn boundary(&self) -> GeoJson {
        GeoJson(self.0.geometry.clone())
    }

    /// AVAILABLE drivers in it now.
    async fn available_drivers(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let counts = dispatcher(ctx)?.area_counts(&self.0.id).await.extend()?;
        Ok(i32::try_from(counts.available).unwrap_or(i32::MAX))
    }

    /// SEARCHING rides in it now.
    async fn searching_rides(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let counts = dispatcher(ctx)?.area_counts(&self.0.id).await.extend()?;
        Ok(i32::try_from(counts.searching).unwrap_or(i32::MAX))
    }
}
