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
//!   first ([`crate::store::Fleet::hand_off`]), then the new area adds it. Between the two
//!   it is in neither, never in both. A move (and a driver's start in its
//!   first area) happens only under the driver's lease: a lock of this
//!   instance's, then the [`Directory`]'s lease across instances, so two
//!   reports of one driver at once, 20 m apart across a border, never list
//!   it in both areas. A driver OFFERED or ASSIGNED stays
//!   with its ride's area until the offer or the ride ends. Drivers outside
//!   every area are kept in a store of their own, where no ride is: shown
//!   to dispatchers, never offered nor assigned.
//! - Where a driver is, the [`Directory`] says (on Redis, one small pointer
//!   key per driver); without one, every area is asked.
//! - A rider's cap on rides that have not ended, and its idempotency keys,
//!   hold over every area: a request asks every area, under the rider's
//!   lease ([`RiderLease`], see `riders`).
//! - Questions over a circle (nearby drivers, a live map) ask each area the
//!   circle touches and merge the answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{EventHub, Released, Store};
use crate::{
    domain::error::{Error, Result},
    domain::{
        check_plausible_move, AreaId, Coordinates, Driver, DriverId, DriverStatus, LocationReport,
        RadiusKm, ReportOutcome, Ride, RideId, ServiceAreas,
    },
};

mod directory;
mod lease;
mod log;
mod rider_lease;
mod riders;
mod store;

pub use directory::{AskEveryArea, Directory};
pub use rider_lease::{OneProcess, RiderLease};

/// The id of the store of drivers outside every area (never an area's:
/// an areas file may not use it).
pub const OUTSIDE: &str = "outside";

/// The stores of every area, as one.
pub struct AreaStores {
    areas: Arc<ServiceAreas>,
    /// `(area, store)`, in the order of `areas.all()`, then the outside.
    stores: Vec<(AreaId, Arc<dyn Store>)>,
    directory: Arc<dyn Directory>,
    events: Arc<EventHub>,
    /// This instance's locks on moving drivers.
    moving: lease::Stripes,
    /// This instance's locks on riders' requests.
    requesting: lease::Stripes,
    /// The lease on a rider's requests across instances.
    riders: Arc<dyn RiderLease>,
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
            moving: lease::Stripes::new(),
            requesting: lease::Stripes::new(),
            riders: Arc::new(OneProcess),
        })
    }

    /// Riders' requests also leased across instances with `riders`.
    pub fn with_rider_lease(mut self, riders: Arc<dyn RiderLease>) -> Self {
        self.riders = riders;
        self
    }

    /// The stores of the areas, without the outside (where no ride is).
    fn areas_only(&self) -> impl Iterator<Item = &(AreaId, Arc<dyn Store>)> {
        self.stores[..self.stores.len() - 1].iter()
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
    ///
    /// With `read_back`, also the driver as it is after the move, read
    /// while the lease is still held.
    async fn moved(
        &self,
        report: &LocationReport,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        read_back: bool,
    ) -> Result<(ReportOutcome, Option<Driver>)> {
        let _local = self.moving.lock(&report.driver).await;
        let taken = self.directory.lease(&report.driver).await?;
        lease::holding(
            taken,
            async {
                let outcome = self.move_leased(report, now, max_speed_kmh).await?;
                // Read under the lease: no other report's move is half done.
                let driver = if read_back {
                    self.holder(&report.driver, now).await?.map(|(_, d)| d)
                } else {
                    None
                };
                Ok((outcome, driver))
            },
            async |l| self.directory.release(&report.driver, l).await,
            &report.driver,
        )
        .await
    }

    /// A driver a ride let go (the ride ended, the offer it held ended)
    /// stays in the ride's area until it reports again; where its last
    /// position lies in another area it moves there now, under its lease,
    /// so it is never listed, offered nor assigned where it is not.
    /// Failures are logged: the ride's change is done, and the driver's
    /// next report moves it all the same.
    async fn settle(&self, ride: &Ride, now: DateTime<Utc>) {
        let assigned = ride
            .driver_id
            .as_ref()
            .filter(|_| ride.status.is_terminal());
        let offered = ride.offer_ended_now().map(|end| &end.driver);
        for driver in assigned.into_iter().chain(offered) {
            if let Err(error) = self.settle_driver(driver, now).await {
                tracing::warn!(driver_id = %driver, %error, "could not move a freed driver to its area");
            }
        }
    }

    async fn settle_driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<()> {
        let Some(((area, _), driver)) = self.holder(id, now).await? else {
            return Ok(());
        };
        let (Some(at), Some(taken_at)) = (driver.location, driver.updated_at) else {
            return Ok(());
        };
        if driver.status != DriverStatus::Available || self.for_position(at).0 == *area {
            return Ok(());
        }
        // Its own last report again, where it belongs: nothing moves in
        // space, so no speed rule applies.
        let report = LocationReport {
            driver: id.clone(),
            at,
            taken_at,
        };
        self.moved(&report, now, 0.0, false).await.map(|_| ())
    }

    /// [`AreaStores::moved`], under the driver's lease: where it is now is
    /// read again, since another report may have moved it meanwhile.
    async fn move_leased(
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
