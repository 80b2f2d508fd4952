//! The embedded store: the whole fleet in this process.
//!
//! One mutex guards the drivers ([`fleet`]) and the rides ([`rides`]);
//! every operation takes it once, does all its work and lets go, never
//! across an `.await`, so each operation is atomic just as the Redis scripts
//! are. The indexes live with the records they index, and every question
//! (nearest available driver, drivers fallen silent, rides in an area, rides
//! past their retention) is answered from an index, never by scanning.

mod batch;
mod events;
mod fleet;
mod log;
mod rides;
mod search;
mod store;

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};

use super::{EventHub, LogSettings, Retention};
use crate::{
    domain::error::{Error, Result},
    domain::{
        check_plausible_move, AreaId, Coordinates, Driver, DriverId, DriverStatus, LocationReport,
        OfferEnd, OfferEndReason, RadiusKm, Ride, RideId, RideStatus, Step,
    },
};
use fleet::{view, DriverRecord, DriverState, Fleet};

/// What became of one report.
enum Applied {
    Stored(DriverRecord),
    Stale,
    Elsewhere,
}
use rides::Rides;

/// The in-memory [`Store`].
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    driver_ttl: chrono::Duration,
    ride_retention: chrono::Duration,
    driver_retention: chrono::Duration,
    events: Arc<EventHub>,
    log: LogSettings,
}

#[derive(Debug, Default)]
struct Inner {
    fleet: Fleet,
    rides: Rides,
    /// What the last batch window did.
    last_batch: Option<crate::store::LastBatch>,
    log: log::Log,
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl MemoryStore {
    /// An empty fleet; drivers silent for `driver_ttl` read as OFFLINE.
    pub fn new(driver_ttl: Duration) -> Self {
        Self::with_events(driver_ttl, EventHub::default())
    }

    /// An empty fleet publishing through `events`.
    pub fn with_events(driver_ttl: Duration, events: EventHub) -> Self {
        Self::with_shared_events(driver_ttl, Arc::new(events))
    }

    /// An empty fleet publishing through a hub it shares (with the other
    /// areas' stores).
    pub fn with_shared_events(driver_ttl: Duration, events: Arc<EventHub>) -> Self {
        let retention = Retention::default();
        Self {
            inner: Mutex::new(Inner::default()),
            driver_ttl: chrono_duration(driver_ttl),
            ride_retention: chrono_duration(retention.rides),
            driver_retention: chrono_duration(retention.drivers),
            events,
            log: LogSettings::default(),
        }
    }

    /// The same store, keeping ended rides and silent drivers only as long
    /// as `retention` says.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.ride_retention = chrono_duration(retention.rides);
        self.driver_retention = chrono_duration(retention.drivers);
        self
    }

    /// The same store, holding one area of several: its ride ids start with
    /// `<area>:`.
    pub fn in_area(self, area: &AreaId) -> Self {
        {
            let mut inner = self.lock();
            inner.rides.set_prefix(&format!("{area}:"));
            inner.log.area = area.clone();
        }
        self
    }

    /// The same store, writing its event log as `log` says.
    pub fn with_log(mut self, log: LogSettings) -> Self {
        self.log = log;
        self.lock().log.set_dead_letter_cap(log.max_dead_letters);
        self
    }

    /// Everything the store holds, as it stands at `now`: every driver and
    /// every ride, sorted by id (for tests and debugging: it copies it all).
    pub fn contents(&self, now: DateTime<Utc>) -> (Vec<Driver>, Vec<Arc<Ride>>) {
        let inner = self.lock();
        let mut drivers: Vec<Driver> = inner
            .fleet
            .iter()
            .map(|(id, rec)| view(id, rec, now, self.driver_ttl))
            .collect();
        drivers.sort_by(|a, b| a.id.cmp(&b.id));
        let mut rides: Vec<Arc<Ride>> = inner.rides.iter().cloned().collect();
        rides.sort_by(|a, b| a.id.cmp(&b.id));
        (drivers, rides)
    }

    /// How many drivers and rides the store holds.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.fleet.len(), inner.rides.len())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the maps half-updated (every
        // operation validates before it writes), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn view(&self, id: &DriverId, record: &DriverRecord, now: DateTime<Utc>) -> Driver {
        view(id, record, now, self.driver_ttl)
    }

    fn fresh_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.driver_ttl
    }

    /// Tells live maps about a driver's new state, and searching rides when
    /// it became available.
    /// `was` is its stored status before the change (`None`: new): a
    /// change of status to AVAILABLE or OFFLINE is logged, and an assigned
    /// driver's first report near its pickup.
    fn announce(
        &self,
        inner: &mut Inner,
        id: &DriverId,
        record: &DriverRecord,
        was: Option<DriverStatus>,
        now: DateTime<Utc>,
    ) {
        let driver = Arc::new(self.view(id, record, now));
        if driver.status == DriverStatus::Available {
            self.events.driver_available(record.location);
        }
        if self.log.enabled {
            self.log_driver(inner, &driver, record, was, now);
        }
        self.events.publish_driver(driver);
    }

    /// Applies one position report: `Stale` when it is older than the
    /// stored position (ignored), `Elsewhere` for a driver not held here
    /// when `create` is false, an error when the jump is implausible
    /// (nothing changes), else the driver's new record.
    fn apply_report(
        &self,
        inner: &mut Inner,
        report: &LocationReport,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Applied> {
        // A report stamped ahead of the store's clock is stored at the
        // store's now: it can never hide the reports that follow it.
        let (id, at, taken) = (&report.driver, report.at, report.taken_at.min(now));
        let was = inner.fleet.get(id).map(|rec| rec.state.status());
        let state = match inner.fleet.get(id) {
            Some(rec) => {
                if taken < rec.updated_at {
                    return Ok(Applied::Stale);
                }
                check_plausible_move(rec.location, rec.updated_at, at, taken, max_speed_kmh)?;
                match &rec.state {
                    DriverState::Assigned(_) | DriverState::Offered(_) => rec.state.clone(),
                    DriverState::Available | DriverState::Offline => DriverState::Available,
                }
            }
            None if !create => return Ok(Applied::Elsewhere),
            None => DriverState::Available,
        };
        let ignored = inner.fleet.get(id).map_or(0, |rec| rec.ignored);
        let record = DriverRecord {
            location: at,
            updated_at: taken,
            state,
            ignored,
        };
        inner.fleet.update(id, record.clone());
        self.announce(inner, id, &record, was, now);
        Ok(Applied::Stored(record))
    }

    /// Takes drivers found silent off the market (declining an offer one
    /// holds), and says so.
    fn retire_silent(&self, inner: &mut Inner, silent: Vec<DriverId>, now: DateTime<Utc>) -> usize {
        let mut count = 0;
        for id in silent {
            if self.take_off_market(inner, &id, now).is_some() {
                count += 1;
            }
        }
        count
    }

    /// A driver on the market goes OFFLINE, declining an offer it holds;
    /// returns its record then (`None` for an unknown driver).
    fn take_off_market(
        &self,
        inner: &mut Inner,
        id: &DriverId,
        now: DateTime<Utc>,
    ) -> Option<DriverRecord> {
        let held = match &inner.fleet.get(id)?.state {
            DriverState::Offered(ride) => inner
                .rides
                .get(ride)
                .filter(|r| r.offer.as_ref().is_some_and(|o| o.driver == *id))
                .cloned(),
            _ => None,
        };
        if let Some(ride) = held {
            self.end_offer(inner, &ride, OfferEndReason::Declined, 0, true, now);
            return inner.fleet.get(id).cloned();
        }
        let was = inner.fleet.get(id).map(|rec| rec.state.status());
        let record = inner.fleet.set_state(id, DriverState::Offline)?;
        self.announce(inner, id, &record, was, now);
        Some(record)
    }

    /// Ends the ride's outstanding offer for `reason`: the ride's next
    /// revision (stored, published), with the driver where the reason sends
    /// it: ASSIGNED when accepted; otherwise back on the market, or OFFLINE
    /// when `offline` is set, when it fell silent, or when it let
    /// `ignore_limit` offers in a row time out. A driver who declined or
    /// timed out is never offered the ride again.
    fn end_offer(
        &self,
        inner: &mut Inner,
        ride: &Ride,
        reason: OfferEndReason,
        ignore_limit: u32,
        offline: bool,
        now: DateTime<Utc>,
    ) -> Arc<Ride> {
        let Some(offer) = ride.offer.clone() else {
            return Arc::new(ride.clone());
        };
        let fresh_since = self.fresh_since(now);
        let holds = |state: &DriverState| *state == DriverState::Offered(ride.id.clone());
        if inner
            .fleet
            .get(&offer.driver)
            .is_some_and(|rec| holds(&rec.state))
        {
            let changed = inner.fleet.change(&offer.driver, |rec| {
                let fresh = rec.updated_at >= fresh_since && !offline;
                match reason {
                    OfferEndReason::Accepted => {
                        rec.ignored = 0;
                        rec.state = DriverState::Assigned(ride.id.clone());
                    }
                    OfferEndReason::Declined | OfferEndReason::Withdrawn => {
                        if reason == OfferEndReason::Declined {
                            rec.ignored = 0;
                        }
                        rec.state = if fresh {
                            DriverState::Available
                        } else {
                            DriverState::Offline
                        };
                    }
                    OfferEndReason::TimedOut => {
                        rec.ignored += 1;
                        let ignoring = ignore_limit > 0 && rec.ignored >= ignore_limit;
                        rec.state = if fresh && !ignoring {
                            DriverState::Available
                        } else {
                            DriverState::Offline
                        };
                    }
                }
            });
            if let Some(rec) = changed {
                let was = Some(DriverStatus::Offered);
                self.announce(inner, &offer.driver, &rec, was, now);
            }
        }
        if matches!(reason, OfferEndReason::Declined | OfferEndReason::TimedOut) {
            inner.rides.declined_by(&ride.id, &offer.driver);
        }
        let mut next = ride.clone();
        next.revision += 1;
        next.offer = None;
        next.offer_end = Some(OfferEnd {
            driver: offer.driver.clone(),
            reason,
            revision: next.revision,
        });
        if reason == OfferEndReason::Accepted {
            next.status = RideStatus::DriverFound;
            next.matched_at = Some(now);
            next.driver_id = Some(offer.driver);
            next.distance_km = Some(offer.distance_km);
            next.pickup_eta = offer.eta;
        }
        crate::telemetry::offer_ended(reason);
        self.transition(inner, next)
    }

    /// Up to `want` fresh AVAILABLE drivers near `center`, nearest first;
    /// silent ones met on the way go OFFLINE.
    fn nearest_fresh(
        &self,
        inner: &mut Inner,
        center: Coordinates,
        radius: RadiusKm,
        want: usize,
        now: DateTime<Utc>,
    ) -> Vec<(DriverId, f64)> {
        let (found, silent) = inner
            .fleet
            .nearest(center, radius, want, self.fresh_since(now));
        self.retire_silent(inner, silent, now);
        found
    }

    /// Puts a driver freed by its ride back on the market (OFFLINE if it
    /// fell silent meanwhile).
    fn release_driver(&self, inner: &mut Inner, ride: &Ride, now: DateTime<Utc>) {
        let Some(driver_id) = &ride.driver_id else {
            return;
        };
        let Some(rec) = inner.fleet.get(driver_id) else {
            return;
        };
        if rec.state != DriverState::Assigned(ride.id.clone()) {
            return;
        }
        let state = if rec.updated_at >= self.fresh_since(now) {
            DriverState::Available
        } else {
            DriverState::Offline
        };
        if let Some(record) = inner.fleet.set_state(driver_id, state) {
            let was = Some(DriverStatus::Assigned);
            self.announce(inner, driver_id, &record, was, now);
        }
    }

    /// Stores a ride's next state and tells subscribers.
    fn transition(&self, inner: &mut Inner, ride: Ride) -> Arc<Ride> {
        let ride = Arc::new(ride);
        if self.log.enabled {
            self.log_ride(inner, &ride);
        }
        inner.rides.put(ride.clone());
        self.events.publish(ride.clone());
        ride
    }

    /// The ride's next state: `status`, one revision on, stamped with `now`
    /// as the time it arrived, started or ended.
    fn next(ride: &Ride, status: RideStatus, now: DateTime<Utc>) -> Ride {
        let mut next = ride.clone();
        next.status = status;
        next.revision += 1;
        match status {
            RideStatus::Arrived => next.arrived_at = Some(now),
            RideStatus::InProgress => next.started_at = Some(now),
            _ if status.is_terminal() => next.ended_at = Some(now),
            _ => {}
        }
        next
    }

    fn ride_or_not_found(inner: &Inner, id: &RideId) -> Result<Arc<Ride>> {
        inner
            .rides
            .get(id)
            .cloned()
            .ok_or_else(|| Error::ride_not_found(id))
    }

    /// Expires the ride when it is SEARCHING and due (withdrawing its
    /// offer); returns it as it is then.
    fn expire_if_due(&self, inner: &mut Inner, ride: Arc<Ride>, now: DateTime<Utc>) -> Arc<Ride> {
        if ride.status == RideStatus::Searching && now >= ride.expires_at {
            let ride = self.end_offer(inner, &ride, OfferEndReason::Withdrawn, 0, false, now);
            let next = Self::next(&ride, RideStatus::Expired, now);
            self.transition(inner, next)
        } else {
            ride
        }
    }

    /// Moves a ride one step on (it applies: the caller checked), freeing
    /// its driver when the ride ends and withdrawing its offer.
    fn take_step(
        &self,
        inner: &mut Inner,
        ride: &Ride,
        step: Step,
        now: DateTime<Utc>,
    ) -> Arc<Ride> {
        let ride = self.end_offer(inner, ride, OfferEndReason::Withdrawn, 0, false, now);
        let next = Self::next(&ride, step.to(), now);
        // The ride's change first: its driver is free because it ended.
        let ride = self.transition(inner, next);
        if step.to().is_terminal() {
            self.release_driver(inner, &ride, now);
        }
        ride
    }
}

#[cfg(test)]
mod tests;
