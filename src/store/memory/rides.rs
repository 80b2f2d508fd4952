//! The rides of the in-memory store, and their indexes: the active ones
//! (SEARCHING, DRIVER_FOUND) by pickup, so a live map's snapshot reads only
//! those in its area, and by rider, for the per-rider limit; the ended ones
//! by end time, so the ones past their retention are found at the front.
//! Every change goes through [`Rides::put`], which keeps them exact.
//! Idempotency keys are remembered with their expiry, swept the same way.
//! The drivers who declined (or let time out) a searching ride's offer are
//! kept while it searches, and forgotten when it stops.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use rstar::{primitives::GeomWithData, RTree};

use crate::domain::{
    chord_for_km, Coordinates, DriverId, IdempotencyKey, RadiusKm, Ride, RideId, RideStatus,
    RiderId,
};

type ActiveRide = GeomWithData<[f64; 3], RideId>;

type Remembered = (RiderId, IdempotencyKey);

/// All rides and their indexes.
#[derive(Debug)]
pub(super) struct Rides {
    by_id: HashMap<RideId, Arc<Ride>>,
    /// Exactly the rides not ended, by pickup.
    active: RTree<ActiveRide>,
    /// Exactly the rides not ended, by rider.
    active_by_rider: HashMap<RiderId, HashSet<RideId>>,
    /// Exactly the ended rides, by when they ended.
    ended: BTreeSet<(DateTime<Utc>, RideId)>,
    /// Ride ids are `[<area>:]<epoch>.<n>`: a new store (this process) is a
    /// new epoch; this holds the area's prefix and the epoch.
    epoch: String,
    last: u64,
    /// Idempotency keys and the rides they made, until they expire.
    remembered: HashMap<Remembered, (RideId, DateTime<Utc>)>,
    remembered_by_expiry: BTreeSet<(DateTime<Utc>, Remembered)>,
    /// Drivers never to be offered a searching ride again.
    declined: HashMap<RideId, HashSet<DriverId>>,
    /// How many rides are SEARCHING.
    searching: usize,
    /// Batch windows a SEARCHING ride has been through unmatched.
    batches: HashMap<RideId, u32>,
}

impl Default for Rides {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            active: RTree::new(),
            active_by_rider: HashMap::new(),
            ended: BTreeSet::new(),
            epoch: RideId::new_epoch(),
            last: 0,
            remembered: HashMap::new(),
            remembered_by_expiry: BTreeSet::new(),
            declined: HashMap::new(),
            searching: 0,
            batches: HashMap::new(),
        }
    }
}

fn active_entry(ride: &Ride) -> ActiveRide {
    GeomWithData::new(ride.pickup.unit_vector(), ride.id.clone())
}

impl Rides {
    /// Ride ids start with `prefix` from now on (`<area>:`).
    pub fn set_prefix(&mut self, prefix: &str) {
        self.epoch = format!("{prefix}{}", RideId::new_epoch());
    }

    /// A ride id never handed out before.
    pub fn next_id(&mut self) -> RideId {
        self.last += 1;
        RideId::new(&self.epoch, self.last)
    }

    /// The rides of `rider` that have not ended.
    pub fn active_of(&self, rider: &RiderId) -> Option<&HashSet<RideId>> {
        self.active_by_rider
            .get(rider)
            .filter(|set| !set.is_empty())
    }

    /// The ride an idempotency key made, while it is remembered.
    pub fn remembered(
        &self,
        rider: &RiderId,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Option<&Arc<Ride>> {
        let (id, until) = self.remembered.get(&(rider.clone(), key.clone()))?;
        (now < *until).then(|| self.by_id.get(id)).flatten()
    }

    /// The rider's active rides and the ride `key` made, if remembered.
    pub fn of_rider(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> crate::store::RiderRides {
        crate::store::RiderRides {
            active: self
                .active_of(rider)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default(),
            remembered: key.and_then(|key| self.remembered(rider, key, now).cloned()),
        }
    }

    /// Remembers which ride a key made, until `until`.
    pub fn remember(
        &mut self,
        rider: &RiderId,
        key: &IdempotencyKey,
        ride: &RideId,
        until: DateTime<Utc>,
    ) {
        let name = (rider.clone(), key.clone());
        if let Some((_, old)) = self.remembered.insert(name.clone(), (ride.clone(), until)) {
            self.remembered_by_expiry.remove(&(old, name.clone()));
        }
        self.remembered_by_expiry.insert((until, name));
    }

    /// Notes that `driver` is not to be offered the ride again.
    pub fn declined_by(&mut self, id: &RideId, driver: &DriverId) {
        self.declined
            .entry(id.clone())
            .or_default()
            .insert(driver.clone());
    }

    /// Windows the ride has been through unmatched.
    pub fn batches(&self, id: &RideId) -> u32 {
        self.batches.get(id).copied().unwrap_or(0)
    }

    /// One more window the ride went through unmatched (while it searches).
    pub fn count_batch(&mut self, id: &RideId) {
        if self
            .by_id
            .get(id)
            .is_some_and(|r| r.status == RideStatus::Searching)
        {
            *self.batches.entry(id.clone()).or_default() += 1;
        }
    }

    /// The SEARCHING rides, at most `max`.
    pub fn searching_rides(&self, max: usize) -> Vec<Arc<Ride>> {
        self.active
            .iter()
            .filter_map(|entry| self.by_id.get(&entry.data))
            .filter(|ride| ride.status == RideStatus::Searching)
            .take(max)
            .cloned()
            .collect()
    }

    /// The drivers not to be offered the ride again.
    pub fn declined(&self, id: &RideId) -> Option<&HashSet<DriverId>> {
        self.declined.get(id)
    }

    pub fn get(&self, id: &RideId) -> Option<&Arc<Ride>> {
        self.by_id.get(id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// How many rides are SEARCHING.
    pub fn searching_count(&self) -> usize {
        self.searching
    }

    /// Every ride (for inspection).
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Ride>> {
        self.by_id.values()
    }

    /// Stores a ride (new, or its next state), keeping the indexes exact.
    pub fn put(&mut self, ride: Arc<Ride>) {
        if ride.status == RideStatus::Searching {
            self.searching += 1;
        }
        if let Some(old) = self.by_id.get(&ride.id).cloned() {
            if old.status == RideStatus::Searching {
                self.searching -= 1;
            }
            match old.ended_at {
                Some(at) => {
                    self.ended.remove(&(at, old.id.clone()));
                }
                None => {
                    self.active.remove(&active_entry(&old));
                    if let Some(set) = self.active_by_rider.get_mut(&old.rider_id) {
                        set.remove(&old.id);
                        if set.is_empty() {
                            self.active_by_rider.remove(&old.rider_id);
                        }
                    }
                }
            }
        }
        if ride.status != RideStatus::Searching {
            self.declined.remove(&ride.id);
            self.batches.remove(&ride.id);
        }
        match ride.ended_at {
            Some(at) => {
                self.ended.insert((at, ride.id.clone()));
            }
            None => {
                self.active.insert(active_entry(&ride));
                self.active_by_rider
                    .entry(ride.rider_id.clone())
                    .or_default()
                    .insert(ride.id.clone());
            }
        }
        self.by_id.insert(ride.id.clone(), ride);
    }

    /// Active rides with their pickup within `radius` of `center`, at most `max`.
    pub fn active_within(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        max: usize,
    ) -> Vec<Arc<Ride>> {
        let chord = chord_for_km(radius.km());
        self.active
            .locate_within_distance(center.unit_vector(), chord * chord)
            .filter_map(|entry| self.by_id.get(&entry.data))
            .filter(|ride| center.distance_km(&ride.pickup) <= radius.km())
            .take(max)
            .cloned()
            .collect()
    }

    /// Forgets idempotency keys that expired before `now`, at most `max`.
    pub fn forget_before(&mut self, now: DateTime<Utc>, max: usize) -> usize {
        let gone: Vec<(DateTime<Utc>, Remembered)> = self
            .remembered_by_expiry
            .iter()
            .take_while(|(until, _)| *until <= now)
            .take(max)
            .cloned()
            .collect();
        for key in &gone {
            self.remembered_by_expiry.remove(key);
            self.remembered.remove(&key.1);
        }
        gone.len()
    }

    /// Removes rides that ended before `cutoff`, at most `max`; returns how many.
    pub fn retire_before(&mut self, cutoff: DateTime<Utc>, max: usize) -> usize {
        let gone: Vec<(DateTime<Utc>, RideId)> = self
            .ended
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .take(max)
            .cloned()
            .collect();
        for key in &gone {
            self.ended.remove(key);
            self.by_id.remove(&key.1);
        }
        gone.len()
    }
}
