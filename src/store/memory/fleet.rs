//! The drivers of the in-memory store, and the indexes that keep every
//! question about them cheap:
//!
//! - an R-tree of AVAILABLE drivers on the unit sphere, where nearest by
//!   straight-line distance is nearest by great-circle distance: a true
//!   nearest-neighbour search that visits only the drivers it returns (plus
//!   any silent ones it meets and retires on the way);
//! - AVAILABLE and OFFERED drivers by last report, so the ones that fell
//!   silent are found at the front, not by scanning;
//! - OFFLINE drivers by last report, so the ones past their retention are
//!   found the same way.
//!
//! Every change of a driver goes through [`Fleet::update`], which takes the
//! driver out of the indexes of its old state and puts it into those of its
//! new one: the indexes cannot drift from the records.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use rstar::{PointDistance, RTree, RTreeObject, AABB};

use crate::domain::{chord_for_km, Coordinates, Driver, DriverId, DriverStatus, RadiusKm, RideId};

/// What the store keeps of a driver.
#[derive(Debug, Clone)]
pub(super) struct DriverRecord {
    pub location: Coordinates,
    pub updated_at: DateTime<Utc>,
    pub state: DriverState,
    /// Offers in a row this driver let time out.
    pub ignored: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum DriverState {
    Available,
    Offered(RideId),
    Assigned(RideId),
    Offline,
}

impl DriverState {
    /// The status as stored (a silent driver's view may say OFFLINE).
    pub fn status(&self) -> DriverStatus {
        match self {
            Self::Available => DriverStatus::Available,
            Self::Offered(_) => DriverStatus::Offered,
            Self::Assigned(_) => DriverStatus::Assigned,
            Self::Offline => DriverStatus::Offline,
        }
    }

    /// On the market: reporting counts (a silent one is taken off).
    fn on_market(&self) -> bool {
        matches!(self, Self::Available | Self::Offered(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct IndexedDriver {
    point: [f64; 3],
    id: DriverId,
}

impl IndexedDriver {
    fn new(id: &DriverId, at: Coordinates) -> Self {
        Self {
            point: at.unit_vector(),
            id: id.clone(),
        }
    }
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

/// All drivers and their indexes.
#[derive(Debug, Default)]
pub(super) struct Fleet {
    drivers: HashMap<DriverId, DriverRecord>,
    /// Exactly the AVAILABLE drivers, by position.
    available: RTree<IndexedDriver>,
    /// Exactly the AVAILABLE and OFFERED drivers, by last report.
    on_market_by_time: BTreeSet<(DateTime<Utc>, DriverId)>,
    /// Exactly the OFFLINE drivers, by last report.
    offline_by_time: BTreeSet<(DateTime<Utc>, DriverId)>,
}

impl Fleet {
    pub fn get(&self, id: &DriverId) -> Option<&DriverRecord> {
        self.drivers.get(id)
    }

    pub fn len(&self) -> usize {
        self.drivers.len()
    }

    /// Every driver (for inspection).
    pub fn iter(&self) -> impl Iterator<Item = (&DriverId, &DriverRecord)> {
        self.drivers.iter()
    }

    /// The AVAILABLE drivers' ids.
    pub fn available_ids(&self) -> impl Iterator<Item = &DriverId> {
        self.available.iter().map(|entry| &entry.id)
    }

    /// AVAILABLE drivers in the spatial index.
    pub fn available_count(&self) -> usize {
        self.available.size()
    }

    fn unindex(&mut self, id: &DriverId, record: &DriverRecord) {
        if record.state == DriverState::Available {
            self.available
                .remove(&IndexedDriver::new(id, record.location));
        }
        if record.state.on_market() {
            self.on_market_by_time
                .remove(&(record.updated_at, id.clone()));
        }
        if record.state == DriverState::Offline {
            self.offline_by_time
                .remove(&(record.updated_at, id.clone()));
        }
    }

    fn index(&mut self, id: &DriverId, record: &DriverRecord) {
        if record.state == DriverState::Available {
            self.available
                .insert(IndexedDriver::new(id, record.location));
        }
        if record.state.on_market() {
            self.on_market_by_time
                .insert((record.updated_at, id.clone()));
        }
        if record.state == DriverState::Offline {
            self.offline_by_time.insert((record.updated_at, id.clone()));
        }
    }

    /// Sets a driver's record (new or changed), keeping every index exact.
    pub fn update(&mut self, id: &DriverId, record: DriverRecord) {
        if let Some(old) = self.drivers.remove(id) {
            self.unindex(id, &old);
        }
        self.index(id, &record);
        self.drivers.insert(id.clone(), record);
    }

    /// Changes only a driver's state.
    pub fn set_state(&mut self, id: &DriverId, state: DriverState) -> Option<DriverRecord> {
        self.change(id, |record| record.state = state)
    }

    /// Changes a driver's record in place (keeping the indexes exact).
    pub fn change(
        &mut self,
        id: &DriverId,
        how: impl FnOnce(&mut DriverRecord),
    ) -> Option<DriverRecord> {
        let mut record = self.drivers.get(id)?.clone();
        how(&mut record);
        self.update(id, record.clone());
        Some(record)
    }

    /// Removes a driver entirely.
    pub fn remove(&mut self, id: &DriverId) {
        if let Some(old) = self.drivers.remove(id) {
            self.unindex(id, &old);
        }
    }

    /// AVAILABLE drivers within `radius` of `center`, nearest first, up to
    /// `want` of those that reported within `ttl` of `now`; silent ones met
    /// on the way are returned apart (the caller takes them off the market).
    pub fn nearest(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        want: usize,
        fresh_since: DateTime<Utc>,
    ) -> (Vec<(DriverId, f64)>, Vec<DriverId>) {
        let max_chord = chord_for_km(radius.km());
        let max_d2 = max_chord * max_chord;
        let mut found = Vec::new();
        let mut silent = Vec::new();
        for (entry, d2) in self
            .available
            .nearest_neighbor_iter_with_distance_2(&center.unit_vector())
        {
            if d2 > max_d2 || found.len() == want {
                break;
            }
            match self.drivers.get(&entry.id) {
                Some(rec) if rec.updated_at >= fresh_since => {
                    let km = center.distance_km(&rec.location);
                    if km <= radius.km() {
                        found.push((entry.id.clone(), km));
                    }
                }
                _ => silent.push(entry.id.clone()),
            }
        }
        (found, silent)
    }

    /// AVAILABLE and OFFERED drivers whose last report is older than
    /// `cutoff`, oldest first, at most `max`.
    pub fn silent_before(&self, cutoff: DateTime<Utc>, max: usize) -> Vec<DriverId> {
        self.on_market_by_time
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .take(max)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Removes OFFLINE drivers whose last report is older than `cutoff`, at
    /// most `max`; returns them.
    pub fn retire_before(&mut self, cutoff: DateTime<Utc>, max: usize) -> Vec<DriverId> {
        let gone: Vec<DriverId> = self
            .offline_by_time
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .take(max)
            .map(|(_, id)| id.clone())
            .collect();
        for id in &gone {
            self.remove(id);
        }
        gone
    }
}

/// A driver as the rest of the service sees it at `now`: an AVAILABLE one
/// silent past the TTL reads OFFLINE even before a sweep retires it.
pub(super) fn view(
    id: &DriverId,
    record: &DriverRecord,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Driver {
    let (status, ride_id) = match &record.state {
        DriverState::Available if now.signed_duration_since(record.updated_at) <= ttl => {
            (DriverStatus::Available, None)
        }
        DriverState::Available | DriverState::Offline => (DriverStatus::Offline, None),
        DriverState::Offered(ride) => (DriverStatus::Offered, Some(ride.clone())),
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
