//! The rides of the in-memory store, and their indexes: the active ones
//! (SEARCHING, DRIVER_FOUND) by pickup, so a live map's snapshot reads only
//! those in its area, and the ended ones by end time, so the ones past their
//! retention are found at the front. Every change goes through
//! [`Rides::put`], which keeps both exact.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use rstar::{primitives::GeomWithData, RTree};

use crate::domain::{chord_for_km, Coordinates, RadiusKm, Ride, RideId};

type ActiveRide = GeomWithData<[f64; 3], RideId>;

/// All rides and their indexes.
#[derive(Debug, Default)]
pub(super) struct Rides {
    by_id: HashMap<RideId, Arc<Ride>>,
    /// Exactly the rides not ended, by pickup.
    active: RTree<ActiveRide>,
    /// Exactly the ended rides, by when they ended.
    ended: BTreeSet<(DateTime<Utc>, RideId)>,
    last: u64,
}

fn active_entry(ride: &Ride) -> ActiveRide {
    GeomWithData::new(ride.pickup.unit_vector(), ride.id.clone())
}

impl Rides {
    /// The next ride number.
    pub fn next_number(&mut self) -> u64 {
        self.last += 1;
        self.last
    }

    pub fn get(&self, id: &RideId) -> Option<&Arc<Ride>> {
        self.by_id.get(id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Every ride (for inspection).
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Ride>> {
        self.by_id.values()
    }

    /// Stores a ride (new, or its next state), keeping the indexes exact.
    pub fn put(&mut self, ride: Arc<Ride>) {
        if let Some(old) = self.by_id.get(&ride.id) {
            match old.ended_at {
                Some(at) => {
                    self.ended.remove(&(at, old.id.clone()));
                }
                None => {
                    self.active.remove(&active_entry(old));
                }
            }
        }
        match ride.ended_at {
            Some(at) => {
                self.ended.insert((at, ride.id.clone()));
            }
            None => self.active.insert(active_entry(&ride)),
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
