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

    /// Seconds between the area's batch windows (its `matchWindow`, else
    /// `--match-window`); 0: each ride is matched on its own as it comes.
    async fn match_window_seconds(&self, ctx: &Context<'_>) -> async_graphql::Result<f64> {
        let settings = dispatcher(ctx)?.area_settings(&self.0.id);
        Ok(settings.match_window.as_secs_f64())
    }

    /// What the area's last batch window did (whichever instance ran it);
    /// null when none has.
    async fn last_batch(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Batch>> {
        let last = dispatcher(ctx)?.last_batch(&self.0.id).await.extend()?;
        Ok(last.map(Batch))
    }
}

/// One batch window of an area.
pub struct Batch(pub crate::store::LastBatch);

/// One batch window of an area: the rides it held and how many it matched.
#[Object]
impl Batch {
    /// The searching rides in the window.
    async fn rides(&self) -> i32 {
        i32::try_from(self.0.rides).unwrap_or(i32::MAX)
    }

    /// Of them, matched (or offered, with offers on).
    async fn matched(&self) -> i32 {
        i32::try_from(self.0.matched).unwrap_or(i32::MAX)
    }

    /// When it ran, on the store's clock.
    async fn at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.at
    }
}
