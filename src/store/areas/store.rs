//! The [`Store`] operations over every area: each routed to the store of
//! the area it concerns, or asked of every area the question touches.

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::AreaStores;
use crate::{
    domain::error::{Error, Result},
    domain::{
        AreaCounts, AreaId, AreaSnapshot, Coordinates, Driver, DriverId, IdempotencyKey, Limit,
        LocationReport, NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, RiderId, Step,
    },
    store::{
        Answered, BatchPair, Batches, EventHub, Fleet, LastBatch, NewRide, Offers, Pick, Released,
        Requested, RiderRides, Rides, SearchOutcome, Swept, Upkeep, Window, WindowLimits,
    },
};

#[async_trait]
impl Fleet for AreaStores {
    async fn report(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Option<Driver>> {
        let (_, target) = self.for_position(at);
        if let Some(driver) = target.report(id, at, now, max_speed_kmh, false).await? {
            return Ok(Some(driver));
        }
        if !create && self.holder(id, now).await?.is_none() {
            return Ok(None);
        }
        let report = LocationReport {
            driver: id.clone(),
            at,
            taken_at: now,
        };
        match self.moved(&report, now, max_speed_kmh, true).await? {
            (ReportOutcome::Refused(error), _) => Err(error),
            (_, driver) => Ok(driver),
        }
    }

    async fn report_batch(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        _create: bool,
    ) -> Result<Vec<ReportOutcome>> {
        // Each area's reports in one call, in their order; then the
        // drivers that moved between areas, one by one.
        let mut outcomes: Vec<Option<ReportOutcome>> = vec![None; reports.len()];
        for (area, store) in self.every() {
            let mine: Vec<usize> = (0..reports.len())
                .filter(|&i| self.for_position(reports[i].at).0 == *area)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let batch: Vec<LocationReport> = mine.iter().map(|&i| reports[i].clone()).collect();
            let answers = store
                .report_batch(&batch, now, max_speed_kmh, false)
                .await?;
            for (i, answer) in mine.into_iter().zip(answers) {
                outcomes[i] = Some(answer);
            }
        }
        let mut out = Vec::with_capacity(reports.len());
        for (report, outcome) in reports.iter().zip(outcomes) {
            out.push(match outcome {
                Some(ReportOutcome::Elsewhere) | None => {
                    self.moved(report, now, max_speed_kmh, false).await?.0
                }
                Some(outcome) => outcome,
            });
        }
        Ok(out)
    }

    async fn hand_off(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Released> {
        match self.holder(id, now).await? {
            Some(((_, store), _)) => store.hand_off(id, now).await,
            None => Ok(Released::Unknown),
        }
    }

    async fn counts(&self) -> Result<AreaCounts> {
        let mut total = AreaCounts::default();
        for (_, store) in self.every() {
            let counts = store.counts().await?;
            total.available += counts.available;
            total.searching += counts.searching;
        }
        Ok(total)
    }

    async fn area_counts(&self, area: &AreaId) -> Result<AreaCounts> {
        match self.store_of(area) {
            Some((_, store)) => store.counts().await,
            None => Ok(AreaCounts::default()),
        }
    }

    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver> {
        match self.holder(id, now).await? {
            Some(((_, store), _)) => store.go_offline(id, now).await,
            None => Err(Error::driver_not_found(id)),
        }
    }

    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>> {
        Ok(self.holder(id, now).await?.map(|(_, driver)| driver))
    }

    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>> {
        let found = join_all(self.every().map(|(_, store)| store.drivers(ids, now))).await;
        let mut seen = HashSet::new();
        let mut drivers = Vec::new();
        for answer in found {
            for driver in answer? {
                if seen.insert(driver.id.clone()) {
                    drivers.push(driver);
                }
            }
        }
        Ok(drivers)
    }

    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        let stores = self.touching(center, radius, false);
        let answers = join_all(
            stores
                .iter()
                .map(|s| s.nearby_drivers(center, radius, limit, now)),
        )
        .await;
        let mut all = Vec::new();
        for answer in answers {
            all.extend(answer?);
        }
        all.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
        all.truncate(limit.get());
        Ok(all)
    }

    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot> {
        let stores = self.touching(center, radius, true);
        let answers = join_all(stores.iter().map(|s| s.area_snapshot(center, radius, now))).await;
        let mut snapshot = AreaSnapshot::default();
        let mut seen = HashSet::new();
        for answer in answers {
            let part = answer?;
            for driver in part.drivers {
                if seen.insert(driver.id.clone()) {
                    snapshot.drivers.push(driver);
                }
            }
            snapshot.rides.extend(part.rides);
        }
        Ok(snapshot)
    }

    async fn watch_drivers(&self) -> Result<()> {
        for (_, store) in self.every() {
            store.watch_drivers().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Rides for AreaStores {
    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested> {
        let area = self
            .areas
            .locate(new.pickup)
            .ok_or_else(|| Error::out_of_service_area(new.pickup))?;
        let (_, store) = self
            .store_of(&area.id)
            .ok_or_else(|| Error::internal("an area without a store"))?;
        self.create_for_rider(store, new, now).await
    }

    async fn rider_rides(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<RiderRides> {
        let answers = join_all(
            self.areas_only()
                .map(|(_, s)| s.rider_rides(rider, key, now)),
        )
        .await;
        let mut all = RiderRides::default();
        for answer in answers {
            let rides = answer?;
            all.active.extend(rides.active);
            all.remembered = all.remembered.or(rides.remembered);
        }
        Ok(all)
    }

    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>> {
        match self.ride_store(id).await {
            Ok(store) => store.ride(id).await,
            Err(Error::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn candidates(
        &self,
        id: &RideId,
        pickup: Coordinates,
        radius: RadiusKm,
        count: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        self.ride_store(id)
            .await?
            .candidates(id, pickup, radius, count, now)
            .await
    }

    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        pick: &Pick,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome> {
        self.ride_store(id)
            .await?
            .try_match(id, radius, offers, pick, now)
            .await
    }

    async fn answer_offer(
        &self,
        id: &RideId,
        driver: Option<&DriverId>,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<Answered> {
        let answered = self
            .ride_store(id)
            .await?
            .answer_offer(id, driver, accept, now)
            .await?;
        self.settle(&answered.ride, now).await;
        Ok(answered)
    }

    async fn advance_ride(&self, id: &RideId, step: Step, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let ride = self
            .ride_store(id)
            .await?
            .advance_ride(id, step, now)
            .await?;
        self.settle(&ride, now).await;
        Ok(ride)
    }

    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let ride = self.ride_store(id).await?.expire_ride(id, now).await?;
        self.settle(&ride, now).await;
        Ok(ride)
    }
}

#[async_trait]
impl Batches for AreaStores {
    async fn batch_window(
        &self,
        area: &AreaId,
        limits: WindowLimits,
        now: DateTime<Utc>,
    ) -> Result<Window> {
        match self.store_of(area) {
            Some((_, store)) => store.batch_window(area, limits, now).await,
            None => Ok(Window::default()),
        }
    }

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
        let Some((_, store)) = self.store_of(area) else {
            return Ok(Vec::new());
        };
        (store.claim_batch(area, pairs, unmatched, window_rides, radius, offers, now)).await
    }

    async fn last_batch(&self, area: &AreaId) -> Result<Option<LastBatch>> {
        match self.store_of(area) {
            Some((_, store)) => store.last_batch(area).await,
            None => Ok(None),
        }
    }

    async fn batch_lease(&self, area: &AreaId, ttl: Duration) -> Result<bool> {
        match self.store_of(area) {
            Some((_, store)) => store.batch_lease(area, ttl).await,
            None => Ok(false),
        }
    }
}

#[async_trait]
impl Upkeep for AreaStores {
    async fn adopt_orphans(
        &self,
        now: DateTime<Utc>,
        running: &[RideId],
    ) -> Result<Vec<Arc<Ride>>> {
        let mut adopted = Vec::new();
        for (_, store) in self.every() {
            adopted.extend(store.adopt_orphans(now, running).await?);
        }
        Ok(adopted)
    }

    async fn hand_over_rides(&self) -> Result<()> {
        for (_, store) in self.every() {
            store.hand_over_rides().await?;
        }
        Ok(())
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept> {
        let mut total = Swept::default();
        for (area, store) in self.every() {
            let swept = store.sweep(now).await?;
            self.directory.forget(&swept.removed, area).await?;
            total.went_offline = total.went_offline.max(swept.went_offline);
            total.drivers_removed = total.drivers_removed.max(swept.drivers_removed);
            total.rides_removed = total.rides_removed.max(swept.rides_removed);
            total.removed.extend(swept.removed);
        }
        Ok(total)
    }

    fn maintenance_interval(&self) -> Option<Duration> {
        self.stores
            .first()
            .and_then(|(_, s)| s.maintenance_interval())
    }

    async fn ping(&self) -> Result<()> {
        for (_, store) in self.every() {
            store.ping().await?;
        }
        Ok(())
    }

    fn now(&self) -> DateTime<Utc> {
        self.stores
            .first()
            .map(|(_, s)| s.now())
            .unwrap_or_else(Utc::now)
    }

    fn events_connected(&self) -> bool {
        self.every().all(|(_, s)| s.events_connected())
    }

    fn events(&self) -> &EventHub {
        &self.events
    }
}
