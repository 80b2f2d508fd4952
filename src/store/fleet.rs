//! The fleet side of a store: drivers' positions and states, who is near,
//! what an area holds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Released;
use crate::domain::AreaCounts;
use crate::{
    domain::error::Result,
    domain::{
        AreaSnapshot, Coordinates, Driver, DriverId, Limit, LocationReport, NearbyDriver, RadiusKm,
        ReportOutcome,
    },
};

/// What the service needs of a store for its drivers: reports, positions,
/// states, searches by distance, counts and snapshots.
///
/// Every method that takes `now` uses it as the current time, so tests can
/// move time as they like and the Redis scripts never read a clock.
#[async_trait]
pub trait Fleet: Send + Sync + 'static {
    /// Stores a driver's latest position. A new or OFFLINE driver becomes
    /// AVAILABLE; an OFFERED or ASSIGNED one stays so. A position farther
    /// from the last one than `max_speed_kmh` allows (plus GPS jitter) is
    /// refused as `BadInput` and changes nothing. With `create` false, a
    /// driver the store does not hold is left alone: `Ok(None)` (an area
    /// store, asked first whether the driver is already its own).
    async fn report(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Option<Driver>>;

    /// Applies many position reports at once (on Redis: one round trip),
    /// each as [`Self::report`] would at its `taken_at`; with `create`
    /// false, reports for drivers not held here come back
    /// [`ReportOutcome::Elsewhere`].
    async fn report_batch(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Vec<ReportOutcome>>;

    /// [`Self::report`], creating the driver if need be.
    async fn update_location(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Driver> {
        self.report(id, at, now, max_speed_kmh, true)
            .await?
            .ok_or_else(|| {
                crate::domain::error::Error::internal("a report that may create created nothing")
            })
    }

    /// [`Self::report_batch`], creating drivers if need be.
    async fn update_locations(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Vec<ReportOutcome>> {
        self.report_batch(reports, now, max_speed_kmh, true).await
    }

    /// A driver moving to another area leaves this one (see [`Released`]).
    async fn hand_off(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Released>;

    /// What the store holds now.
    async fn counts(&self) -> Result<AreaCounts>;

    /// What one area holds now (a store of one area holds just that).
    async fn area_counts(&self, _area: &crate::domain::AreaId) -> Result<AreaCounts> {
        self.counts().await
    }

    /// Takes a driver off the market at once (declining an offer it holds).
    /// `NotFound` for an unknown driver, `Conflict` for an ASSIGNED one.
    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver>;

    /// A driver as it stands at `now` (silent past the TTL reads OFFLINE).
    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>>;

    /// Many drivers at once (on Redis: one round trip); unknown ids are
    /// left out.
    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>>;

    /// AVAILABLE, fresh drivers within `radius` of `center`, nearest first.
    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>>;

    /// The drivers and active rides of an area, at most [`super::SNAPSHOT_LIMIT`] of each.
    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot>;

    /// Someone here starts following driver changes: make sure they are
    /// published (the Redis store publishes them only while watched).
    async fn watch_drivers(&self) -> Result<()> {
        Ok(())
    }
}
