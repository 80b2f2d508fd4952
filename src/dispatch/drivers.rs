//! The operations on drivers: their reports (one or many, or one a device
//! sent, under the per-driver rate limit), going offline, and reading them (one, many, or
//! those near a point), each with its access check.

use std::sync::Arc;

use super::{access, devices::DevicePosition, ranking::Ranking, rate::UpdateRate};
use crate::{
    auth::{Caller, Role},
    domain::error::{Error, Result},
    domain::{
        Coordinates, Driver, DriverId, Limit, LocationReport, NearbyDriver, RadiusKm,
        ReportOutcome, StraightLine,
    },
    store::Store,
};

/// Drivers read to list the fastest: the nearest this many (or the limit).
const ETA_CANDIDATES_LISTED: usize = 16;

/// Most reports one `updateLocations` call may carry.
pub const MAX_BATCH: usize = 1000;
/// How far in the future a report's timestamp may lie (clock skew).
const FUTURE_SKEW_SECS: i64 = 60;

/// What the dispatcher does with drivers.
pub(super) struct DriverOps {
    store: Arc<dyn Store>,
    update_rate: UpdateRate,
    /// Fastest plausible driver speed.
    max_speed_kmh: f64,
}

impl DriverOps {
    /// The driver operations over `store`, with the per-driver update
    /// limit and the speed that makes a jump implausible.
    pub fn new(store: Arc<dyn Store>, max_update_rate: f64, max_speed_kmh: f64) -> Self {
        Self {
            store,
            update_rate: UpdateRate::new(max_update_rate),
            max_speed_kmh,
        }
    }

    /// Records a driver's position (the store announces it when the
    /// driver is available, which wakes the rides near it).
    pub async fn update_location(
        &self,
        caller: &Caller,
        id: &DriverId,
        at: Coordinates,
    ) -> Result<Driver> {
        access::may_act_as_driver(caller, id, "updateLocation")?;
        self.update_rate.check(id, std::time::Instant::now())?;
        self.store
            .update_location(id, at, self.store.now(), self.max_speed_kmh)
            .await
    }

    /// Records many positions in one call (one store round trip). Checks
    /// access for every report first and refuses the whole call if one is
    /// not allowed; then each report is accepted, ignored as stale, or
    /// refused on its own (too fast, implausible jump).
    pub async fn update_locations(
        &self,
        caller: &Caller,
        reports: Vec<LocationReport>,
    ) -> Result<Vec<ReportOutcome>> {
        if reports.len() > MAX_BATCH {
            return Err(Error::bad_input(format!(
                "at most {MAX_BATCH} updates per call"
            )));
        }
        for report in &reports {
            access::may_act_as_driver(caller, &report.driver, "updateLocations")?;
        }
        self.record(reports).await
    }

    /// Records one position a device sent for `driver` (the caller
    /// established who the device reports for): one entry of
    /// [`Self::update_locations`], through the same checks, at the
    /// device's own time.
    pub async fn device_report(
        &self,
        driver: &DriverId,
        position: DevicePosition,
    ) -> Result<ReportOutcome> {
        let report = LocationReport {
            driver: driver.clone(),
            at: position.at,
            taken_at: position.taken_at,
        };
        let mut outcomes = self.record(vec![report]).await?;
        Ok(outcomes.pop().unwrap_or(ReportOutcome::Stale))
    }

    /// What every report goes through once its caller may send it: a
    /// future-dated one refuses the call, each is held to the per-driver
    /// rate, and those admitted go to the store in one call, each
    /// accepted, stale (older than the stored one) or refused on its own.
    async fn record(&self, reports: Vec<LocationReport>) -> Result<Vec<ReportOutcome>> {
        let now = self.store.now();
        for report in &reports {
            if report.taken_at > now + chrono::Duration::seconds(FUTURE_SKEW_SECS) {
                return Err(Error::bad_input(format!(
                    "update for {} is dated in the future ({})",
                    report.driver, report.taken_at
                )));
            }
        }
        let clock = std::time::Instant::now();
        let mut outcomes: Vec<Option<ReportOutcome>> = reports
            .iter()
            .map(|r| {
                self.update_rate
                    .check(&r.driver, clock)
                    .err()
                    .map(ReportOutcome::Refused)
            })
            .collect();
        let admitted: Vec<LocationReport> = reports
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        let mut stored = self
            .store
            .update_locations(&admitted, now, self.max_speed_kmh)
            .await?
            .into_iter();
        for outcome in outcomes.iter_mut().filter(|o| o.is_none()) {
            *outcome = stored.next();
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(ReportOutcome::Stale))
            .collect())
    }

    /// Takes a driver off the market.
    pub async fn go_offline(&self, caller: &Caller, id: &DriverId) -> Result<Driver> {
        access::may_act_as_driver(caller, id, "goOffline")?;
        self.store.go_offline(id, self.store.now()).await
    }

    /// A driver as it stands now.
    pub async fn driver(&self, caller: &Caller, id: &DriverId) -> Result<Option<Driver>> {
        access::may_look_up_rides(caller, "driver")?;
        let driver = self.store.driver(id, self.store.now()).await?;
        let ride = match (caller, driver.as_ref().and_then(|d| d.ride_id.as_ref())) {
            (
                Caller::Token {
                    role: Role::Rider, ..
                },
                Some(ride),
            ) => self.store.ride(ride).await?,
            _ => None,
        };
        access::may_see_driver(caller, id, ride.as_deref())?;
        Ok(driver)
    }

    /// AVAILABLE drivers near a point, nearest first. Riders see positions
    /// and distances, not who the drivers are.
    pub async fn nearby_drivers(
        &self,
        caller: &Caller,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        by_eta: Option<(&Ranking, StraightLine)>,
    ) -> Result<Vec<NearbyDriver>> {
        let show_ids = access::may_list_nearby(caller)?;
        // By time: the nearest that could be fastest (as a search ranks).
        let want = match by_eta {
            Some(_) => {
                Limit::parse(i64::try_from(limit.get().max(ETA_CANDIDATES_LISTED)).unwrap_or(1))?
            }
            None => limit,
        };
        let mut found = self
            .store
            .nearby_drivers(center, radius, want, self.store.now())
            .await?;
        if let Some((ranking, line)) = by_eta {
            found = ranking.by_eta(found, center, line).await?;
            found.truncate(limit.get());
        }
        if !show_ids {
            for (rank, near) in found.iter_mut().enumerate() {
                near.driver.id = DriverId::parse(&format!("hidden-{}", rank + 1))?;
                near.driver.updated_at = None;
            }
        }
        Ok(found)
    }

    /// Drivers as they are now, by id. No access check: the caller checked.
    pub async fn drivers_now(&self, ids: &[DriverId]) -> Result<Vec<Driver>> {
        self.store.drivers(ids, self.store.now()).await
    }
}
