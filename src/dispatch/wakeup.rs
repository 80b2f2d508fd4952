//! Which rides are searching where, so that the right ones can be woken.
//!
//! Every search task registers its ride's pickup here with a [`Notify`].
//! When a driver becomes AVAILABLE (new, moved, or freed by its ride) the
//! dispatcher asks for the rides within the match radius of that driver and
//! wakes only those: one R-tree query, not a scan of every searching ride.
//! A cancel wakes its own ride's task the same way, so it stops at once.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use rstar::{primitives::GeomWithData, RTree};
use tokio::sync::Notify;

use crate::domain::{chord_for_km, Coordinates, RadiusKm, RideId};

type IndexedRide = GeomWithData<[f64; 3], RideId>;

/// The searching rides of this instance, indexed by pickup.
#[derive(Debug, Default)]
pub struct SearchingRides {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_place: RTree<IndexedRide>,
    by_id: HashMap<RideId, ([f64; 3], Arc<Notify>)>,
}

impl SearchingRides {
    /// Registers a searching ride; `None` when this instance already runs a
    /// task for it (so a ride never has two tasks here).
    /// `wanted` is kept true while any ride is registered (under this
    /// registry's lock, so it never lags behind the registry).
    pub fn register(
        &self,
        id: &RideId,
        pickup: Coordinates,
        wanted: &AtomicBool,
    ) -> Option<Arc<Notify>> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.by_id.contains_key(id) {
            return None;
        }
        wanted.store(true, Ordering::Release);
        let point = pickup.unit_vector();
        let notify = Arc::new(Notify::new());
        inner.by_place.insert(GeomWithData::new(point, id.clone()));
        inner.by_id.insert(id.clone(), (point, notify.clone()));
        Some(notify)
    }

    /// Forgets a ride whose task has ended.
    pub fn unregister(&self, id: &RideId, wanted: &AtomicBool) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((point, _)) = inner.by_id.remove(id) {
            inner.by_place.remove(&GeomWithData::new(point, id.clone()));
        }
        if inner.by_id.is_empty() {
            wanted.store(false, Ordering::Release);
        }
    }

    /// Wakes one ride's task, if it runs here.
    pub fn wake(&self, id: &RideId) {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, notify)) = inner.by_id.get(id) {
            notify.notify_one();
        }
    }

    /// Wakes every ride whose pickup lies within `radius` of `place`;
    /// returns how many were woken.
    pub fn wake_near(&self, place: Coordinates, radius: RadiusKm) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let chord = chord_for_km(radius.km());
        let mut woken = 0;
        for ride in inner
            .by_place
            .locate_within_distance(place.unit_vector(), chord * chord)
        {
            if let Some((_, notify)) = inner.by_id.get(&ride.data) {
                notify.notify_one();
                woken += 1;
            }
        }
        woken
    }

    /// Wakes every searching ride (when wake-ups were lost to a lag).
    pub fn wake_all(&self) {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, notify) in inner.by_id.values() {
            notify.notify_one();
        }
    }

    /// How many rides search on this instance.
    /// The rides searching here.
    pub fn ids(&self) -> Vec<RideId> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_id.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .len()
    }

    /// True when no ride searches on this instance.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lng: f64) -> Coordinates {
        Coordinates::parse(lat, lng).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_rides_within_the_radius_are_woken() {
        let rides = SearchingRides::default();
        let near = RideId::new("test", 1);
        let far = RideId::new("test", 2);
        let wanted = AtomicBool::new(false);
        let near_notify = rides.register(&near, at(-33.4426, -70.6305), &wanted);
        let far_notify = rides.register(&far, at(-33.0, -71.0), &wanted);
        assert!(near_notify.is_some() && far_notify.is_some());
        assert!(wanted.load(Ordering::Acquire));
        assert!(
            rides.register(&near, at(0.0, 0.0), &wanted).is_none(),
            "registered twice"
        );
        let radius = RadiusKm::parse(5.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rides.wake_near(at(-33.4409, -70.6301), radius), 1);
        rides.unregister(&near, &wanted);
        assert_eq!(rides.wake_near(at(-33.4409, -70.6301), radius), 0);
        assert_eq!(rides.len(), 1);
        assert!(wanted.load(Ordering::Acquire), "one ride still searches");
        rides.unregister(&far, &wanted);
        assert!(!wanted.load(Ordering::Acquire));
    }
}
