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

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    EventHub, NewRide, Requested, Retention, SearchOutcome, Store, Swept, SNAPSHOT_LIMIT,
    SWEEP_BATCH,
};
use crate::{
    domain::{
        check_plausible_move, AreaSnapshot, Coordinates, Driver, DriverId, DriverStatus, Limit,
        LocationReport, NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, RideStatus,
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

#[async_trait]
impl Store for MemoryStore {
    async fn update_location(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Driver> {
        let mut guard = self.lock();
        let report = LocationReport {
            driver: id.clone(),
            at,
            taken_at: now,
        };
        let record = match self.apply_report(&mut guard, &report, now, max_speed_kmh)? {
            Some(record) => record,
            // Older than what is stored (a clock ahead elsewhere): keep that.
            None => guard
                .fleet
                .get(id)
                .cloned()
                .ok_or_else(|| Error::internal("stale report for an unknown driver"))?,
        };
        Ok(self.view(id, &record, now))
    }

    async fn update_locations(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Vec<ReportOutcome>> {
        let mut guard = self.lock();
        Ok(reports
            .iter()
            .map(
                |report| match self.apply_report(&mut guard, report, now, max_speed_kmh) {
                    Ok(Some(_)) => ReportOutcome::Accepted,
                    Ok(None) => ReportOutcome::Stale,
                    Err(error) => ReportOutcome::Refused(error),
                },
            )
            .collect())
    }

    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let rec = inner
            .fleet
            .get(id)
            .ok_or_else(|| Error::driver_not_found(id))?;
        if let DriverState::Assigned(ride) = &rec.state {
            return Err(Error::driver_busy(id, ride.as_str()));
        }
        let rec = inner
            .fleet
            .set_state(id, DriverState::Offline)
            .ok_or_else(|| Error::internal("driver vanished"))?;
        self.announce(id, &rec, now);
        Ok(self.view(id, &rec, now))
    }

    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>> {
        let inner = self.lock();
        Ok(inner.fleet.get(id).map(|rec| self.view(id, rec, now)))
    }

    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>> {
        let inner = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| inner.fleet.get(id).map(|rec| self.view(id, rec, now)))
            .collect())
    }

    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let found = self.nearest_fresh(inner, center, radius, limit.get(), now);
        Ok(found
            .into_iter()
            .filter_map(|(id, distance_km)| {
                let rec = inner.fleet.get(&id)?;
                Some(NearbyDriver {
                    driver: self.view(&id, rec, now),
                    distance_km,
                })
            })
            .collect())
    }

    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(key) = &new.idempotency_key {
            if let Some(ride) = inner.rides.remembered(&new.rider, key, now) {
                return Ok(Requested::Existing(ride.clone()));
            }
        }
        if new.max_active > 0 {
            if let Some(active) = inner.rides.active_of(&new.rider) {
                if active.len() >= new.max_active {
                    let ride = active
                        .iter()
                        .min()
                        .cloned()
                        .unwrap_or_else(|| RideId::new("", 0));
                    return Err(Error::ActiveRide {
                        rider: new.rider.clone(),
                        ride,
                        max: new.max_active,
                    });
                }
            }
        }
        let timeout = chrono_duration(new.timeout);
        let ride = Ride {
            id: inner.rides.next_id(),
            rider_id: new.rider.clone(),
            pickup: new.pickup,
            status: RideStatus::Searching,
            driver_id: None,
            distance_km: None,
            searches: 0,
            created_at: now,
            expires_at: now + timeout,
            ended_at: None,
            revision: 1,
        };
        if let Some(key) = &new.idempotency_key {
            inner
                .rides
                .remember(&new.rider, key, &ride.id, now + timeout);
        }
        Ok(Requested::Created(self.transition(inner, ride)))
    }

    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let available = self.nearest_fresh(inner, center, radius, SNAPSHOT_LIMIT, now);
        let rides = inner.rides.active_within(center, radius, SNAPSHOT_LIMIT);
        let assigned = rides
            .iter()
            .filter(|r| r.status == RideStatus::DriverFound)
            .filter_map(|r| r.driver_id.clone());
        let drivers = available
            .into_iter()
            .map(|(id, _)| id)
            .chain(assigned)
            .filter_map(|id| inner.fleet.get(&id).map(|rec| self.view(&id, rec, now)))
            .collect();
        Ok(AreaSnapshot { drivers, rides })
    }

    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>> {
        Ok(self.lock().rides.get(id).cloned())
    }

    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        let ride = self.expire_if_due(inner, ride, now);
        if ride.status != RideStatus::Searching {
            return Ok(SearchOutcome::Ended(ride));
        }
        let mut next = (*ride).clone();
        next.searches += 1;
        let Some((driver_id, km)) = self.nearest_fresh(inner, ride.pickup, radius, 1, now).pop()
        else {
            let ride = Arc::new(next);
            inner.rides.put(ride.clone());
            return Ok(SearchOutcome::NoDriver(ride));
        };
        if let Some(rec) = inner
            .fleet
            .set_state(&driver_id, DriverState::Assigned(id.clone()))
        {
            self.announce(&driver_id, &rec, now);
        }
        next.status = RideStatus::DriverFound;
        next.driver_id = Some(driver_id);
        next.distance_km = Some(km);
        next.revision += 1;
        Ok(SearchOutcome::Matched(self.transition(inner, next)))
    }

    async fn cancel_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        let ride = self.expire_if_due(inner, ride, now);
        match ride.status {
            RideStatus::Cancelled => Ok(ride),
            RideStatus::Expired | RideStatus::Completed => {
                Err(Error::cannot_cancel(id, ride.status))
            }
            RideStatus::Searching | RideStatus::DriverFound => {
                Ok(self.end_ride(inner, &ride, RideStatus::Cancelled, now))
            }
        }
    }

    async fn complete_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        let ride = self.expire_if_due(inner, ride, now);
        if ride.status != RideStatus::DriverFound {
            return Err(Error::cannot_complete(id, ride.status));
        }
        Ok(self.end_ride(inner, &ride, RideStatus::Completed, now))
    }

    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        Ok(self.expire_if_due(inner, ride, now))
    }

    async fn adopt_orphans(&self, _now: DateTime<Utc>, _running: usize) -> Result<Vec<Arc<Ride>>> {
        // Every ride in memory was created by this process, which runs its task.
        Ok(Vec::new())
    }

    async fn hand_over_rides(&self) -> Result<()> {
        Ok(())
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let silent = inner
            .fleet
            .silent_before(self.fresh_since(now), SWEEP_BATCH);
        let went_offline = self.retire_silent(inner, silent, now);
        let drivers_removed = inner
            .fleet
            .retire_before(now - self.driver_retention, SWEEP_BATCH);
        let rides_removed = inner
            .rides
            .retire_before(now - self.ride_retention, SWEEP_BATCH);
        inner.rides.forget_before(now, SWEEP_BATCH);
        Ok(Swept {
            went_offline,
            drivers_removed,
            rides_removed,
        })
    }

    fn maintenance_interval(&self) -> Option<Duration> {
        None
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn events(&self) -> &EventHub {
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::RiderId;

    fn at(lat: f64, lng: f64) -> Coordinates {
        Coordinates::parse(lat, lng).unwrap()
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn id(s: &str) -> DriverId {
        DriverId::parse(s).unwrap()
    }

    fn radius(km: f64) -> RadiusKm {
        RadiusKm::parse(km).unwrap()
    }

    /// A ride by rider `r`, searching for `secs` from `now`.
    async fn create(
        store: &MemoryStore,
        pickup: Coordinates,
        now: DateTime<Utc>,
        secs: u64,
    ) -> Arc<Ride> {
        let rider = RiderId::parse("r").unwrap();
        store
            .create_ride(&NewRide::new(rider, pickup, Duration::from_secs(secs)), now)
            .await
            .unwrap()
            .ride()
            .clone()
    }

    #[tokio::test]
    async fn a_silent_driver_is_offline_and_pruned_from_the_index() {
        let store = MemoryStore::new(Duration::from_secs(60));
        store
            .update_location(&id("a"), at(0.0, 0.0), t(0), 300.0)
            .await
            .unwrap();
        store
            .update_location(&id("b"), at(0.0, 0.01), t(30), 300.0)
            .await
            .unwrap();
        let near =
            |now| store.nearby_drivers(at(0.0, 0.0), radius(10.0), Limit::parse(10).unwrap(), now);
        assert_eq!(
            near(t(60)).await.unwrap().len(),
            2,
            "60 s is still within the TTL"
        );
        let later = near(t(61)).await.unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].driver.id, id("b"));
        assert_eq!(
            store.lock().fleet.available_count(),
            1,
            "the silent driver left the index"
        );
        let a = store.driver(&id("a"), t(61)).await.unwrap().unwrap();
        assert_eq!(a.status, DriverStatus::Offline);
        // Reporting again puts it back.
        store
            .update_location(&id("a"), at(0.0, 0.0), t(62), 300.0)
            .await
            .unwrap();
        assert_eq!(store.lock().fleet.available_count(), 2);
    }

    #[tokio::test]
    async fn a_search_after_the_deadline_expires_instead_of_matching() {
        let store = MemoryStore::new(Duration::from_secs(600));
        let ride = create(&store, at(0.0, 0.0), t(0), 240).await;
        store
            .update_location(&id("d"), at(0.0, 0.001), t(240), 300.0)
            .await
            .unwrap();
        let outcome = store
            .try_match(&ride.id, radius(5.0), t(240))
            .await
            .unwrap();
        match outcome {
            SearchOutcome::Ended(ride) => assert_eq!(ride.status, RideStatus::Expired),
            other => panic!("expected expiry, got {other:?}"),
        }
        let d = store.driver(&id("d"), t(240)).await.unwrap().unwrap();
        assert_eq!(
            d.status,
            DriverStatus::Available,
            "the driver was not taken"
        );
    }

    #[tokio::test]
    async fn expiry_waits_for_the_deadline() {
        let store = MemoryStore::new(Duration::from_secs(600));
        let ride = create(&store, at(0.0, 0.0), t(0), 240).await;
        assert_eq!(
            store.expire_ride(&ride.id, t(239)).await.unwrap().status,
            RideStatus::Searching
        );
        let expired = store.expire_ride(&ride.id, t(240)).await.unwrap();
        assert_eq!(expired.status, RideStatus::Expired);
        assert_eq!(expired.revision, 2);
    }

    #[tokio::test]
    async fn nearest_search_is_exact_across_the_antimeridian() {
        let store = MemoryStore::new(Duration::from_secs(600));
        store
            .update_location(&id("east"), at(0.0, 179.99), t(0), 300.0)
            .await
            .unwrap();
        store
            .update_location(&id("west"), at(0.0, -179.995), t(0), 300.0)
            .await
            .unwrap();
        let found = store
            .nearby_drivers(
                at(0.0, -179.999),
                radius(5.0),
                Limit::parse(10).unwrap(),
                t(0),
            )
            .await
            .unwrap();
        let ids: Vec<_> = found.iter().map(|n| n.driver.id.as_str()).collect();
        assert_eq!(ids, ["west", "east"]);
    }

    #[tokio::test]
    async fn the_sweep_takes_silent_drivers_off_the_market_once_and_says_so() {
        let store = MemoryStore::new(Duration::from_secs(60));
        let mut changes = store.events().subscribe_drivers();
        store
            .update_location(&id("quiet"), at(0.0, 0.0), t(0), 300.0)
            .await
            .unwrap();
        store
            .update_location(&id("busy"), at(0.0, 0.01), t(50), 300.0)
            .await
            .unwrap();
        while changes.try_recv().is_ok() {}
        assert_eq!(
            store.sweep(t(60)).await.unwrap(),
            Swept::default(),
            "not yet"
        );
        let swept = store.sweep(t(61)).await.unwrap();
        assert_eq!(swept.went_offline, 1);
        let event = changes.try_recv().unwrap();
        assert_eq!(
            (event.id.as_str(), event.status),
            ("quiet", DriverStatus::Offline)
        );
        assert!(
            changes.try_recv().is_err(),
            "one event, for the silent one only"
        );
        assert_eq!(store.sweep(t(62)).await.unwrap().went_offline, 0, "once");
        assert_eq!(store.lock().fleet.available_count(), 1);
    }

    #[tokio::test]
    async fn ended_rides_and_silent_drivers_are_removed_after_their_retention() {
        let store = MemoryStore::new(Duration::from_secs(60)).with_retention(Retention {
            rides: Duration::from_secs(100),
            drivers: Duration::from_secs(1000),
        });
        let ride = create(&store, at(0.0, 0.0), t(0), 240).await;
        let open = create(&store, at(0.0, 0.0), t(0), 240).await;
        store.cancel_ride(&ride.id, t(10)).await.unwrap();
        store
            .update_location(&id("gone"), at(0.0, 0.0), t(0), 300.0)
            .await
            .unwrap();
        assert_eq!(store.counts(), (1, 2));
        let swept = store.sweep(t(109)).await.unwrap();
        assert_eq!((swept.rides_removed, swept.went_offline), (0, 1));
        assert!(store.ride(&ride.id).await.unwrap().is_some(), "kept 100 s");
        let swept = store.sweep(t(111)).await.unwrap();
        assert_eq!((swept.rides_removed, swept.went_offline), (1, 0));
        assert!(
            store.ride(&ride.id).await.unwrap().is_none(),
            "then removed"
        );
        assert!(
            store.ride(&open.id).await.unwrap().is_some(),
            "an open ride stays"
        );
        assert_eq!(store.sweep(t(999)).await.unwrap().drivers_removed, 0);
        assert_eq!(store.sweep(t(1001)).await.unwrap().drivers_removed, 1);
        assert!(store.driver(&id("gone"), t(1001)).await.unwrap().is_none());
        assert_eq!(store.counts(), (0, 1));
    }

    #[tokio::test]
    async fn an_area_snapshot_holds_the_active_rides_in_it_only() {
        let store = MemoryStore::new(Duration::from_secs(60));
        let near = create(&store, at(0.0, 0.0), t(0), 240).await;
        let ended = create(&store, at(0.0, 0.001), t(0), 240).await;
        store.cancel_ride(&ended.id, t(1)).await.unwrap();
        create(&store, at(1.0, 1.0), t(0), 240).await;
        let area = store
            .area_snapshot(at(0.0, 0.0), radius(5.0), t(2))
            .await
            .unwrap();
        let ids: Vec<&RideId> = area.rides.iter().map(|r| &r.id).collect();
        assert_eq!(ids, [&near.id]);
    }
}
