//! Several areas, one [`Store`]: each area has a store of its own (on
//! Redis, its own hash tag: one Cluster slot), and this routes each
//! operation to the right one.
//!
//! - A ride belongs to the area of its pickup; its id names the area
//!   (`<area>:<epoch>.<n>`), so a ride operation goes straight to its
//!   store. A pickup outside every area is refused (`OUT_OF_SERVICE_AREA`).
//! - A driver belongs to the area of its position. A report goes to that
//!   area's store, which takes it only for a driver it already holds; a
//!   driver it does not hold moves there in two steps, since one atomic
//!   call cannot touch two areas: the old area takes it off its market
//!   first ([`Store::hand_off`]), then the new area adds it. Between the two
//!   it is in neither, never in both. A driver OFFERED or ASSIGNED stays
//!   with its ride's area until the offer or the ride ends. Drivers outside
//!   every area are kept in a store of their own, where no ride is: shown
//!   to dispatchers, never offered nor assigned.
//! - Where a driver is, the [`Directory`] says (on Redis, one small pointer
//!   key per driver); without one, every area is asked.
//! - Questions over a circle (nearby drivers, a live map) ask each area the
//!   circle touches and merge the answers.

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::{
    AreaCounts, EventHub, NewRide, Offers, Released, Requested, SearchOutcome, Store, Swept,
};
use crate::{
    domain::{
        check_plausible_move, AreaId, AreaSnapshot, Coordinates, Driver, DriverId, Limit,
        LocationReport, NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, ServiceAreas, Step,
    },
    error::{Error, Result},
};

/// The id of the store of drivers outside every area (never an area's:
/// an areas file may not use it).
pub const OUTSIDE: &str = "outside";

/// Which area holds which driver.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The area holding the driver; `None` when it is held nowhere, or when
    /// this directory keeps nothing (then every area is asked).
    async fn locate(&self, id: &DriverId) -> Result<Option<AreaId>>;
    /// The driver is now held by `area`.
    async fn place(&self, id: &DriverId, area: &AreaId) -> Result<()>;
    /// The drivers were removed from `area`.
    async fn forget(&self, ids: &[DriverId], area: &AreaId) -> Result<()>;
    /// Whether `locate`'s `None` means the driver is held nowhere.
    fn keeps_track(&self) -> bool;
}

/// A directory that keeps nothing: every area is asked (in memory, where
/// asking is cheap).
pub struct AskEveryArea;

#[async_trait]
impl Directory for AskEveryArea {
    async fn locate(&self, _id: &DriverId) -> Result<Option<AreaId>> {
        Ok(None)
    }

    async fn place(&self, _id: &DriverId, _area: &AreaId) -> Result<()> {
        Ok(())
    }

    async fn forget(&self, _ids: &[DriverId], _area: &AreaId) -> Result<()> {
        Ok(())
    }

    fn keeps_track(&self) -> bool {
        false
    }
}

/// The stores of every area, as one.
pub struct AreaStores {
    areas: Arc<ServiceAreas>,
    /// `(area, store)`, in the order of `areas.all()`, then the outside.
    stores: Vec<(AreaId, Arc<dyn Store>)>,
    directory: Arc<dyn Directory>,
    events: Arc<EventHub>,
}

impl AreaStores {
    /// `stores` holds one store per area of `areas` (in its order) and then
    /// the store of drivers outside every area; all publish into `events`.
    pub fn new(
        areas: Arc<ServiceAreas>,
        stores: Vec<Arc<dyn Store>>,
        directory: Arc<dyn Directory>,
        events: Arc<EventHub>,
    ) -> Result<Self> {
        let mut ids: Vec<AreaId> = areas.all().iter().map(|a| a.id.clone()).collect();
        ids.push(AreaId::parse(OUTSIDE).map_err(Error::internal)?);
        if ids.len() != stores.len() {
            return Err(Error::internal("one store per area, and one outside"));
        }
        Ok(Self {
            areas,
            stores: ids.into_iter().zip(stores).collect(),
            directory,
            events,
        })
    }

    fn outside(&self) -> &(AreaId, Arc<dyn Store>) {
        // `new` always puts it last.
        &self.stores[self.stores.len() - 1]
    }

    fn store_of(&self, area: &AreaId) -> Option<&(AreaId, Arc<dyn Store>)> {
        self.stores.iter().find(|(id, _)| id == area)
    }

    /// The store a position belongs to.
    fn for_position(&self, at: Coordinates) -> &(AreaId, Arc<dyn Store>) {
        self.areas
            .locate(at)
            .and_then(|area| self.store_of(&area.id))
            .unwrap_or_else(|| self.outside())
    }

    /// The store a ride belongs to, from its id; `None` for an id without
    /// an area when there is no default area (a ride from before areas:
    /// every store is asked).
    fn for_ride(&self, id: &RideId) -> Option<&Arc<dyn Store>> {
        self.areas
            .of_ride(id)
            .and_then(|area| self.store_of(&area.id))
            .map(|(_, store)| store)
    }

    /// The store holding a ride, asking every store for an id without an
    /// area.
    async fn ride_store(&self, id: &RideId) -> Result<&Arc<dyn Store>> {
        if let Some(store) = self.for_ride(id) {
            return Ok(store);
        }
        if AreaId::of_ride(id).is_none() {
            for (_, store) in &self.stores {
                if store.ride(id).await?.is_some() {
                    return Ok(store);
                }
            }
        }
        Err(Error::ride_not_found(id))
    }

    /// The area and store holding a driver, and the driver as it is there.
    async fn holder(
        &self,
        id: &DriverId,
        now: DateTime<Utc>,
    ) -> Result<Option<(&(AreaId, Arc<dyn Store>), Driver)>> {
        if let Some(area) = self.directory.locate(id).await? {
            if let Some(entry) = self.store_of(&area) {
                if let Some(driver) = entry.1.driver(id, now).await? {
                    return Ok(Some((entry, driver)));
                }
            }
        }
        for entry in &self.stores {
            if let Some(driver) = entry.1.driver(id, now).await? {
                return Ok(Some((entry, driver)));
            }
        }
        Ok(None)
    }

    /// A report for a driver the area of its position does not hold: it
    /// moves there from wherever it is (or starts there), unless it is
    /// OFFERED or ASSIGNED elsewhere (then that area takes the report).
    async fn moved(
        &self,
        report: &LocationReport,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<ReportOutcome> {
        let (area, target) = self.for_position(report.at);
        let holder = self.holder(&report.driver, now).await?;
        if let Some(((from, store), driver)) = &holder {
            if from != area {
                // The old area's rules first: nothing moves for a report
                // that is stale or too fast.
                let taken = report.taken_at.min(now);
                if let (Some(at), Some(last)) = (driver.location, driver.updated_at) {
                    if taken < last {
                        return Ok(ReportOutcome::Stale);
                    }
                    if let Err(error) =
                        check_plausible_move(at, last, report.at, taken, max_speed_kmh)
                    {
                        return Ok(ReportOutcome::Refused(error));
                    }
                }
                match store.hand_off(&report.driver, now).await? {
                    Released::Busy(_) => {
                        return first(
                            store
                                .report_batch(
                                    std::slice::from_ref(report),
                                    now,
                                    max_speed_kmh,
                                    true,
                                )
                                .await?,
                        );
                    }
                    Released::Gone(_) | Released::Unknown => {}
                }
                self.directory
                    .forget(std::slice::from_ref(&report.driver), from)
                    .await?;
            }
        }
        self.directory.place(&report.driver, area).await?;
        first(
            target
                .report_batch(std::slice::from_ref(report), now, max_speed_kmh, true)
                .await?,
        )
    }

    /// Every store, as `(area, store)`.
    fn every(&self) -> impl Iterator<Item = &(AreaId, Arc<dyn Store>)> {
        self.stores.iter()
    }

    /// The stores of the areas a circle touches (and, with `outside`, the
    /// store of drivers outside every area).
    fn touching(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        outside: bool,
    ) -> Vec<&Arc<dyn Store>> {
        let mut stores: Vec<&Arc<dyn Store>> = self
            .areas
            .touching(center, radius)
            .into_iter()
            .filter_map(|area| self.store_of(&area.id).map(|(_, s)| s))
            .collect();
        if outside {
            stores.push(&self.outside().1);
        }
        stores
    }
}

fn first(mut outcomes: Vec<ReportOutcome>) -> Result<ReportOutcome> {
    outcomes
        .pop()
        .ok_or_else(|| Error::internal("a report came back without an outcome"))
}

#[async_trait]
impl Store for AreaStores {
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
        match self.moved(&report, now, max_speed_kmh).await? {
            ReportOutcome::Refused(error) => Err(error),
            _ => Ok(self.holder(id, now).await?.map(|(_, driver)| driver)),
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
                    self.moved(report, now, max_speed_kmh).await?
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

    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested> {
        let area = self
            .areas
            .locate(new.pickup)
            .ok_or_else(|| Error::out_of_service_area(new.pickup))?;
        let (_, store) = self
            .store_of(&area.id)
            .ok_or_else(|| Error::internal("an area without a store"))?;
        store.create_ride(new, now).await
    }

    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>> {
        match self.ride_store(id).await {
            Ok(store) => store.ride(id).await,
            Err(Error::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
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

    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome> {
        self.ride_store(id)
            .await?
            .try_match(id, radius, offers, now)
            .await
    }

    async fn answer_offer(
        &self,
        id: &RideId,
        driver: Option<&DriverId>,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<Arc<Ride>> {
        self.ride_store(id)
            .await?
            .answer_offer(id, driver, accept, now)
            .await
    }

    async fn advance_ride(&self, id: &RideId, step: Step, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        self.ride_store(id).await?.advance_ride(id, step, now).await
    }

    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        self.ride_store(id).await?.expire_ride(id, now).await
    }

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

    async fn watch_drivers(&self) -> Result<()> {
        for (_, store) in self.every() {
            store.watch_drivers().await?;
        }
        Ok(())
    }

    fn events_connected(&self) -> bool {
        self.every().all(|(_, s)| s.events_connected())
    }

    fn events(&self) -> &EventHub {
        &self.events
    }
}
