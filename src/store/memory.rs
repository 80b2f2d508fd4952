//! The embedded store: the whole fleet in this process.
//!
//! One mutex guards the drivers, the rides and an R-tree of AVAILABLE
//! drivers; every operation takes it once, does all its work and lets go,
//! never across an `.await`, so each operation is atomic just as the Redis
//! scripts are. The R-tree holds points on the unit sphere, where nearest by
//! straight-line distance is nearest by great-circle distance: a true
//! nearest-neighbour search that visits only the drivers it returns (plus any
//! silent ones it meets and prunes on the way), however many stand around.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rstar::{PointDistance, RTree, RTreeObject, AABB};

use super::{
    AreaSnapshot, EventHub, LocationReport, ReportOutcome, SearchOutcome, Store, SNAPSHOT_LIMIT,
};
use crate::{
    domain::{
        check_plausible_move, chord_for_km, Coordinates, Driver, DriverId, DriverStatus, Limit,
        NearbyDriver, RadiusKm, Ride, RideId, RideStatus, RiderId,
    },
    error::{Error, Result},
};

/// The in-memory [`Store`].
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    driver_ttl: chrono::Duration,
    events: EventHub,
}

#[derive(Debug, Default)]
struct Inner {
    drivers: HashMap<DriverId, DriverRecord>,
    /// Exactly the drivers whose state is `Available` (fresh or not).
    available: RTree<IndexedDriver>,
    rides: HashMap<RideId, Arc<Ride>>,
    last_ride: u64,
}

#[derive(Debug, Clone)]
struct DriverRecord {
    location: Coordinates,
    updated_at: DateTime<Utc>,
    state: DriverState,
}

#[derive(Debug, Clone, PartialEq)]
enum DriverState {
    Available,
    Assigned(RideId),
    Offline,
}

#[derive(Debug, Clone, PartialEq)]
struct IndexedDriver {
    point: [f64; 3],
    id: DriverId,
}

impl RTreeObject for IndexedDriver {
    type Envelope = AABB<[f64; 3]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.point)
    }
}

impl PointDistance for IndexedDriver {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        self.point
            .iter()
            .zip(point)
            .map(|(a, b)| (a - b) * (a - b))
            .sum()
    }
}

impl MemoryStore {
    /// An empty fleet; drivers silent for `driver_ttl` read as OFFLINE.
    pub fn new(driver_ttl: Duration) -> Self {
        Self::with_events(driver_ttl, EventHub::default())
    }

    /// An empty fleet publishing through `events`.
    pub fn with_events(driver_ttl: Duration, events: EventHub) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            driver_ttl: chrono::Duration::from_std(driver_ttl).unwrap_or(chrono::Duration::MAX),
            events,
        }
    }

    /// Everything the store holds, as it stands at `now`: every driver and
    /// every ride, sorted by id (for tests and debugging: it copies it all).
    pub fn contents(&self, now: DateTime<Utc>) -> (Vec<Driver>, Vec<Arc<Ride>>) {
        let inner = self.lock();
        let mut drivers: Vec<Driver> = inner
            .drivers
            .iter()
            .map(|(id, rec)| self.view(id, rec, now))
            .collect();
        drivers.sort_by(|a, b| a.id.cmp(&b.id));
        let mut rides: Vec<Arc<Ride>> = inner.rides.values().cloned().collect();
        rides.sort_by(|a, b| a.id.cmp(&b.id));
        (drivers, rides)
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
        let (id, at, taken) = (&report.driver, report.at, report.taken_at);
        if let Some(rec) = inner.drivers.get(id) {
            if taken < rec.updated_at {
                return Ok(None);
            }
            check_plausible_move(rec.location, rec.updated_at, at, taken, max_speed_kmh)?;
        }
        let point = at.unit_vector();
        let record = match inner.drivers.get_mut(id) {
            Some(rec) => {
                match rec.state {
                    DriverState::Available => {
                        inner.available.remove(&IndexedDriver {
                            point: rec.location.unit_vector(),
                            id: id.clone(),
                        });
                        inner.available.insert(IndexedDriver {
                            point,
                            id: id.clone(),
                        });
                    }
                    DriverState::Offline => {
                        rec.state = DriverState::Available;
                        inner.available.insert(IndexedDriver {
                            point,
                            id: id.clone(),
                        });
                    }
                    DriverState::Assigned(_) => {}
                }
                rec.location = at;
                rec.updated_at = taken;
                rec.clone()
            }
            None => {
                let rec = DriverRecord {
                    location: at,
                    updated_at: taken,
                    state: DriverState::Available,
                };
                inner.available.insert(IndexedDriver {
                    point,
                    id: id.clone(),
                });
                inner.drivers.insert(id.clone(), rec.clone());
                rec
            }
        };
        let driver = self.view(id, &record, now);
        if driver.status == DriverStatus::Available {
            self.events.driver_available(at);
        }
        self.events.publish_driver(Arc::new(driver));
        Ok(Some(record))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the maps half-updated (every
        // operation validates before it writes), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_fresh(&self, record: &DriverRecord, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(record.updated_at) <= self.driver_ttl
    }

    fn view(&self, id: &DriverId, record: &DriverRecord, now: DateTime<Utc>) -> Driver {
        let (status, ride_id) = match &record.state {
            DriverState::Available if self.is_fresh(record, now) => (DriverStatus::Available, None),
            DriverState::Available | DriverState::Offline => (DriverStatus::Offline, None),
            DriverState::Assigned(ride) => (DriverStatus::Assigned, Some(ride.clone())),
        };
        Driver {
            id: id.clone(),
            status,
            location: Some(record.location),
            updated_at: Some(record.updated_at),
            ride_id,
        }
    }

    /// Walks AVAILABLE drivers outward from `center`, nearest first, up to
    /// `radius`; silent ones met on the way are marked OFFLINE and dropped
    /// from the index. Stops once `want` fresh drivers are found.
    fn nearest_fresh(
        &self,
        inner: &mut Inner,
        center: Coordinates,
        radius: RadiusKm,
        want: usize,
        now: DateTime<Utc>,
    ) -> Vec<(DriverId, f64)> {
        let max_chord = chord_for_km(radius.km());
        let max_d2 = max_chord * max_chord;
        let mut found = Vec::new();
        let mut silent = Vec::new();
        for (entry, d2) in inner
            .available
            .nearest_neighbor_iter_with_distance_2(&center.unit_vector())
        {
            if d2 > max_d2 || found.len() == want {
                break;
            }
            match inner.drivers.get(&entry.id) {
                Some(rec) if self.is_fresh(rec, now) => {
                    let km = center.distance_km(&rec.location);
                    if km <= radius.km() {
                        found.push((entry.id.clone(), km));
                    }
                }
                _ => silent.push(entry.clone()),
            }
        }
        for entry in silent {
            inner.available.remove(&entry);
            if let Some(rec) = inner.drivers.get_mut(&entry.id) {
                rec.state = DriverState::Offline;
            }
        }
        found
    }

    /// Puts a driver freed by its ride back on the market.
    fn release_driver(&self, inner: &mut Inner, ride: &Ride, now: DateTime<Utc>) {
        let Some(driver_id) = &ride.driver_id else {
            return;
        };
        if let Some(rec) = inner.drivers.get_mut(driver_id) {
            if rec.state == DriverState::Assigned(ride.id.clone()) {
                rec.state = DriverState::Available;
                inner.available.insert(IndexedDriver {
                    point: rec.location.unit_vector(),
                    id: driver_id.clone(),
                });
                if self.is_fresh(rec, now) {
                    self.events.driver_available(rec.location);
                }
                let rec = rec.clone();
                self.announce(driver_id, &rec, now);
            }
        }
    }

    /// Tells live maps about a driver's new state.
    fn announce(&self, id: &DriverId, record: &DriverRecord, now: DateTime<Utc>) {
        self.events
            .publish_driver(Arc::new(self.view(id, record, now)));
    }

    /// Replaces a ride with its next state and tells subscribers.
    fn transition(&self, inner: &mut Inner, ride: Ride) -> Arc<Ride> {
        let ride = Arc::new(ride);
        inner.rides.insert(ride.id.clone(), ride.clone());
        self.events.publish(ride.clone());
        ride
    }

    fn ride_or_not_found(inner: &Inner, id: &RideId) -> Result<Arc<Ride>> {
        inner
            .rides
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("no ride with id {id}")))
    }

    /// Expires the ride when it is SEARCHING and due; returns it as it is then.
    fn expire_if_due(&self, inner: &mut Inner, ride: Arc<Ride>, now: DateTime<Utc>) -> Arc<Ride> {
        if ride.status == RideStatus::Searching && now >= ride.expires_at {
            let mut next = (*ride).clone();
            next.status = RideStatus::Expired;
            next.revision += 1;
            self.transition(inner, next)
        } else {
            ride
        }
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
                .drivers
                .get(id)
                .cloned()
                .ok_or_else(|| Error::Internal("stale report for an unknown driver".into()))?,
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
            .drivers
            .get_mut(id)
            .ok_or_else(|| Error::not_found(format!("no driver with id {id}")))?;
        match &rec.state {
            DriverState::Assigned(ride) => {
                return Err(Error::conflict(format!(
                    "driver {id} is assigned to ride {ride}; end the ride first"
                )))
            }
            DriverState::Available => {
                inner.available.remove(&IndexedDriver {
                    point: rec.location.unit_vector(),
                    id: id.clone(),
                });
                rec.state = DriverState::Offline;
            }
            DriverState::Offline => {}
        }
        let rec = rec.clone();
        self.announce(id, &rec, now);
        Ok(self.view(id, &rec, now))
    }

    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>> {
        let inner = self.lock();
        Ok(inner.drivers.get(id).map(|rec| self.view(id, rec, now)))
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
                let rec = inner.drivers.get(&id)?;
                Some(NearbyDriver {
                    driver: self.view(&id, rec, now),
                    distance_km,
                })
            })
            .collect())
    }

    async fn create_ride(
        &self,
        rider: &RiderId,
        pickup: Coordinates,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.last_ride += 1;
        let ride = Ride {
            id: RideId::from_counter(inner.last_ride),
            rider_id: rider.clone(),
            pickup,
            status: RideStatus::Searching,
            driver_id: None,
            distance_km: None,
            searches: 0,
            created_at: now,
            expires_at,
            revision: 1,
        };
        Ok(self.transition(inner, ride))
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
        let rides: Vec<Arc<Ride>> = inner
            .rides
            .values()
            .filter(|r| !r.status.is_terminal() && center.distance_km(&r.pickup) <= radius.km())
            .take(SNAPSHOT_LIMIT)
            .cloned()
            .collect();
        let assigned = rides
            .iter()
            .filter(|r| r.status == RideStatus::DriverFound)
            .filter_map(|r| r.driver_id.clone());
        let drivers = available
            .into_iter()
            .map(|(id, _)| id)
            .chain(assigned)
            .filter_map(|id| inner.drivers.get(&id).map(|rec| self.view(&id, rec, now)))
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
            inner.rides.insert(id.clone(), ride.clone());
            return Ok(SearchOutcome::NoDriver(ride));
        };
        if let Some(rec) = inner.drivers.get_mut(&driver_id) {
            inner.available.remove(&IndexedDriver {
                point: rec.location.unit_vector(),
                id: driver_id.clone(),
            });
            rec.state = DriverState::Assigned(id.clone());
            let rec = rec.clone();
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
            RideStatus::Expired | RideStatus::Completed => Err(Error::conflict(format!(
                "ride {id} is {} and cannot be cancelled",
                ride.status.as_str()
            ))),
            RideStatus::Searching | RideStatus::DriverFound => {
                self.release_driver(inner, &ride, now);
                let mut next = (*ride).clone();
                next.status = RideStatus::Cancelled;
                next.revision += 1;
                Ok(self.transition(inner, next))
            }
        }
    }

    async fn complete_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        let ride = self.expire_if_due(inner, ride, now);
        if ride.status != RideStatus::DriverFound {
            return Err(Error::conflict(format!(
                "ride {id} is {}; only a DRIVER_FOUND ride can be completed",
                ride.status.as_str()
            )));
        }
        self.release_driver(inner, &ride, now);
        let mut next = (*ride).clone();
        next.status = RideStatus::Completed;
        next.revision += 1;
        Ok(self.transition(inner, next))
    }

    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        Ok(self.expire_if_due(inner, ride, now))
    }

    async fn adopt_orphans(&self, _now: DateTime<Utc>) -> Result<Vec<Arc<Ride>>> {
        // Every ride in memory was created by this process, which runs its task.
        Ok(Vec::new())
    }

    async fn release(&self) -> Result<()> {
        Ok(())
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
            store.lock().available.size(),
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
        assert_eq!(store.lock().available.size(), 2);
    }

    #[tokio::test]
    async fn a_search_after_the_deadline_expires_instead_of_matching() {
        let store = MemoryStore::new(Duration::from_secs(600));
        let rider = RiderId::parse("r").unwrap();
        let ride = store
            .create_ride(&rider, at(0.0, 0.0), t(0), t(240))
            .await
            .unwrap();
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
        let rider = RiderId::parse("r").unwrap();
        let ride = store
            .create_ride(&rider, at(0.0, 0.0), t(0), t(240))
            .await
            .unwrap();
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
}
