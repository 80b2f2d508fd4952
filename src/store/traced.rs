//! Store calls as `debug` spans: a wrapper around any [`Store`], implementing
//! each of its roles ([`Fleet`], [`Rides`], [`Upkeep`]).
//!
//! [`Traced`] delegates every method to the store it wraps, each inside a
//! `debug` span named `store.<method>` with the ids it concerns (never a
//! position or a secret), so a trace shows each round trip under the
//! dispatcher's step that made it. Filtered off (the default `info`), a
//! span costs one cached check of its call site. The clock, the event hub
//! and the other synchronous accessors are delegated without a span.
//!
//! One impl per role: the fleet (drivers and where they are), rides (their
//! life), upkeep (leases, sweeping, health).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::{
    Answered, BatchPair, Batches, EventHub, Fleet, LastBatch, NewRide, Offers, Pick, Released,
    Requested, RiderRides, Rides, SearchOutcome, Store, Swept, Upkeep, Window, WindowLimits,
};
use crate::{
    domain::error::Result,
    domain::{
        AreaCounts, AreaId, AreaSnapshot, Coordinates, Driver, DriverId, IdempotencyKey, Limit,
        LocationReport, NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, RiderId, Step,
    },
};

/// A store whose every call is a `debug` span.
pub struct Traced<S: ?Sized> {
    inner: Arc<S>,
}

impl<S: ?Sized> Traced<S> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<S>) -> Self {
        Self { inner }
    }

    /// The store wrapped.
    pub(super) fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: Store + ?Sized> Fleet for Traced<S> {
    #[instrument(name = "store.report", level = "debug", skip_all, fields(driver = %id))]
    async fn report(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Option<Driver>> {
        self.inner.report(id, at, now, max_speed_kmh, create).await
    }

    #[instrument(name = "store.report_batch", level = "debug", skip_all, fields(reports = reports.len()))]
    async fn report_batch(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Vec<ReportOutcome>> {
        self.inner
            .report_batch(reports, now, max_speed_kmh, create)
            .await
    }

    #[instrument(name = "store.update_location", level = "debug", skip_all, fields(driver = %id))]
    async fn update_location(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Driver> {
        self.inner.update_location(id, at, now, max_speed_kmh).await
    }

    #[instrument(name = "store.update_locations", level = "debug", skip_all, fields(reports = reports.len()))]
    async fn update_locations(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Vec<ReportOutcome>> {
        self.inner
            .update_locations(reports, now, max_speed_kmh)
            .await
    }

    #[instrument(name = "store.hand_off", level = "debug", skip_all, fields(driver = %id))]
    async fn hand_off(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Released> {
        self.inner.hand_off(id, now).await
    }

    #[instrument(name = "store.counts", level = "debug", skip_all)]
    async fn counts(&self) -> Result<AreaCounts> {
        self.inner.counts().await
    }

    #[instrument(name = "store.area_counts", level = "debug", skip_all, fields(area = %area))]
    async fn area_counts(&self, area: &AreaId) -> Result<AreaCounts> {
        self.inner.area_counts(area).await
    }

    #[instrument(name = "store.go_offline", level = "debug", skip_all, fields(driver = %id))]
    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver> {
        self.inner.go_offline(id, now).await
    }

    #[instrument(name = "store.driver", level = "debug", skip_all, fields(driver = %id))]
    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>> {
        self.inner.driver(id, now).await
    }

    #[instrument(name = "store.drivers", level = "debug", skip_all, fields(drivers = ids.len()))]
    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>> {
        self.inner.drivers(ids, now).await
    }

    #[instrument(name = "store.nearby_drivers", level = "debug", skip_all)]
    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        self.inner.nearby_drivers(center, radius, limit, now).await
    }

    #[instrument(name = "store.area_snapshot", level = "debug", skip_all)]
    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot> {
        self.inner.area_snapshot(center, radius, now).await
    }

    #[instrument(name = "store.watch_drivers", level = "debug", skip_all)]
    async fn watch_drivers(&self) -> Result<()> {
        self.inner.watch_drivers().await
    }
}

#[async_trait]
impl<S: Store + ?Sized> Rides for Traced<S> {
    #[instrument(name = "store.create_ride", level = "debug", skip_all, fields(rider = %new.rider))]
    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested> {
        self.inner.create_ride(new, now).await
    }

    #[instrument(name = "store.rider_rides", level = "debug", skip_all, fields(rider = %rider))]
    async fn rider_rides(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<RiderRides> {
        self.inner.rider_rides(rider, key, now).await
    }

    #[instrument(name = "store.ride", level = "debug", skip_all, fields(ride = %id))]
    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>> {
        self.inner.ride(id).await
    }

    #[instrument(name = "store.candidates", level = "debug", skip_all, fields(ride = %id))]
    async fn candidates(
        &self,
        id: &RideId,
        pickup: Coordinates,
        radius: RadiusKm,
        count: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        self.inner.candidates(id, pickup, radius, count, now).await
    }

    #[instrument(name = "store.try_match", level = "debug", skip_all, fields(ride = %id))]
    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        pick: &Pick,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome> {
        self.inner.try_match(id, radius, offers, pick, now).await
    }

    #[instrument(name = "store.answer_offer", level = "debug", skip_all, fields(ride = %id, accept))]
    async fn answer_offer(
        &self,
        id: &RideId,
        driver: Option<&DriverId>,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<Answered> {
        self.inner.answer_offer(id, driver, accept, now).await
    }

    #[instrument(name = "store.advance_ride", level = "debug", skip_all, fields(ride = %id, step = ?step))]
    async fn advance_ride(&self, id: &RideId, step: Step, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        self.inner.advance_ride(id, step, now).await
    }

    #[instrument(name = "store.expire_ride", level = "debug", skip_all, fields(ride = %id))]
    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        self.inner.expire_ride(id, now).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> Batches for Traced<S> {
    #[instrument(name = "store.batch_window", level = "debug", skip_all, fields(area = %area))]
    async fn batch_window(
        &self,
        area: &AreaId,
        limits: WindowLimits,
        now: DateTime<Utc>,
    ) -> Result<Window> {
        self.inner.batch_window(area, limits, now).await
    }

    #[instrument(name = "store.claim_batch", level = "debug", skip_all, fields(area = %area, pairs = pairs.len()))]
    #[allow(clippy::too_many_arguments)]
    async fn claim_batch(
        &self,
        area: &AreaId,
        pairs: &[BatchPair],
        unmatched: &[RideId],
        window_rides: usize,
        radius: RadiusKm,
        offers: Offers,
        now: DateTime<Utc>,
    ) -> Result<Vec<Arc<Ride>>> {
        (self.inner)
            .claim_batch(area, pairs, unmatched, window_rides, radius, offers, now)
            .await
    }

    #[instrument(name = "store.last_batch", level = "debug", skip_all, fields(area = %area))]
    async fn last_batch(&self, area: &AreaId) -> Result<Option<LastBatch>> {
        self.inner.last_batch(area).await
    }

    #[instrument(name = "store.batch_lease", level = "debug", skip_all, fields(area = %area))]
    async fn batch_lease(&self, area: &AreaId, ttl: Duration) -> Result<bool> {
        self.inner.batch_lease(area, ttl).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> Upkeep for Traced<S> {
    #[instrument(name = "store.adopt_orphans", level = "debug", skip_all, fields(running = running.len()))]
    async fn adopt_orphans(
        &self,
        now: DateTime<Utc>,
        running: &[RideId],
    ) -> Result<Vec<Arc<Ride>>> {
        self.inner.adopt_orphans(now, running).await
    }

    #[instrument(name = "store.hand_over_rides", level = "debug", skip_all)]
    async fn hand_over_rides(&self) -> Result<()> {
        self.inner.hand_over_rides().await
    }

    #[instrument(name = "store.sweep", level = "debug", skip_all)]
    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept> {
        self.inner.sweep(now).await
    }

    fn maintenance_interval(&self) -> Option<Duration> {
        self.inner.maintenance_interval()
    }

    #[instrument(name = "store.ping", level = "debug", skip_all)]
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    fn events_connected(&self) -> bool {
        self.inner.events_connected()
    }

    fn events(&self) -> &EventHub {
        self.inner.events()
    }
}
