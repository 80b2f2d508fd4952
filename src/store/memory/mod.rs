//! The embedded store: the whole fleet in this process.
//!
//! One mutex guards the drivers ([`fleet`]) and the rides ([`rides`]);
//! every operation takes it once, does all its work and lets go, never
//! across an `.await`, so each operation is atomic just as the Redis scripts
//! are. The indexes live with the records they index, and every question
//! (nearest available driver, drivers fallen silent, rides in an area, rides
//! past their retention) is answered from an index, never by scanning.

mod fleet;
mod rides;
mod store;

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};

use super::{EventHub, Retention};
use crate::{
    domain::{
        check_plausible_move, Coordinates, Driver, DriverId, DriverStatus, LocationReport,
        RadiusKm, Ride, RideId, RideStatus,
    },
    error::{Error, Result},
};
use fleet::{view, DriverRecord, DriverState, Fleet};
use rides::Rides;

/// The in-memory [`Store`].
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    driver_ttl: chrono::Duration,
    ride_retention: chrono::Duration,
    driver_retention: chrono::Duration,
    events: EventHub,
}

#[derive(Debug, Default)]
struct Inner {
    fleet: Fleet,
    rides: Rides,
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
        let retention = Retention::default();
        Self {
            inner: Mutex::new(Inner::default()),
            driver_ttl: chrono_duration(driver_ttl),
            ride_retention: chrono_duration(retention.rides),
            driver_retention: chrono_duration(retention.drivers),
            events,
        }
    }

    /// The same store, keeping ended rides and silent drivers only as long
    /// as `retention` says.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.ride_retention = chrono_duration(retention.rides);
        self.driver_retention = chrono_duration(retention.drivers);
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
    fn announce(&self, id: &DriverId, record: &DriverRecord, now: DateTime<Utc>) {
        let driver = self.view(id, record, now);
        if driver.status == DriverStatus::Available {
            self.events.driver_available(record.location);
        }
        self.events.publish_driver(Arc::new(driver));
    }

    /// Applies one position report: `None` when it is older than the
    /// stored position (ignored), an error when the jump is implausible
    /// (nothing changes), else the driver's new record.
    fn apply_report(
        &self,
        inner: &mut Inner,
        report: &LocationReport,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Option<DriverRecord>> {
        // A report stamped ahead of the store's clock is stored at the
        // store's now: it can never hide the reports that follow it.
        let (id, at, taken) = (&report.driver, report.at, report.taken_at.min(now));
        let state = match inner.fleet.get(id) {
            Some(rec) => {
                if taken < rec.updated_at {
                    return Ok(None);
                }
                check_plausible_move(rec.location, rec.updated_at, at, taken, max_speed_kmh)?;
                match &rec.state {
                    DriverState::Assigned(ride) => DriverState::Assigned(ride.clone()),
                    DriverState::Available | DriverState::Offline => DriverState::Available,
                }
            }
            None => DriverState::Available,
        };
        let record = DriverRecord {
            location: at,
            updated_at: taken,
            state,
        };
        inner.fleet.update(id, record.clone());
        self.announce(id, &record, now);
        Ok(Some(record))
    }

    /// Takes drivers found silent off the market, and says so.
    fn retire_silent(&self, inner: &mut Inner, silent: Vec<DriverId>, now: DateTime<Utc>) -> usize {
        let mut count = 0;
        for id in silent {
            if let Some(record) = inner.fleet.set_state(&id, DriverState::Offline) {
                self.announce(&id, &record, now);
                count += 1;
            }
        }
        count
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
            self.announce(driver_id, &record, now);
        }
    }

    /// Stores a ride's next state and tells subscribers.
    fn transition(&self, inner: &mut Inner, ride: Ride) -> Arc<Ride> {
        let ride = Arc::new(ride);
        inner.rides.put(ride.clone());
        self.events.publish(ride.clone());
        ride
    }

    /// The ride's next state: `status`, one revision on, ended at `now` when
    /// that status is terminal.
    fn next(ride: &Ride, status: RideStatus, now: DateTime<Utc>) -> Ride {
        let mut next = ride.clone();
        next.status = status;
        next.revision += 1;
        if status.is_terminal() {
            next.ended_at = Some(now);
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

    /// Expires the ride when it is SEARCHING and due; returns it as it is then.
    fn expire_if_due(&self, inner: &mut Inner, ride: Arc<Ride>, now: DateTime<Utc>) -> Arc<Ride> {
        if ride.status == RideStatus::Searching && now >= ride.expires_at {
            let next = Self::next(&ride, RideStatus::Expired, now);
            self.transition(inner, next)
        } else {
            ride
        }
    }

    /// Ends a ride (cancelled or completed), freeing its driver.
    fn end_ride(
        &self,
        inner: &mut Inner,
        ride: &Ride,
        status: RideStatus,
        now: DateTime<Utc>,
    ) -> Arc<Ride> {
        self.release_driver(inner, ride, now);
        let next = Self::next(ride, status, now);
        self.transition(inner, next)
    }
}

#[cfg(test)]
mod tests;
