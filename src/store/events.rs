//! The ride event hub: broadcast channels that carry every status change.
//!
//! Stores publish each ride as it is after a status change. There is one
//! broadcast channel per watched ride (made when the first subscriber comes,
//! dropped with the last), so a subscriber only ever wakes for its own ride
//! however many rides are moving, plus one channel of all rides for feeds
//! that watch everything. Events are `Arc`s: a publish never copies a ride.
//!
//! The hub also carries every driver change (for live maps and for riders
//! watching their car) and "a driver became available here" notices, which
//! wake the searching rides nearby. A driver's own feed has a channel of
//! its own too (made and dropped like a ride's): its changes, and the
//! changes of the rides that concern it (offered, offer ended, assigned).
//!
//! The Redis store feeds this hub from its Redis subscription, so a
//! subscriber sees the events of every instance.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::{broadcast, watch};

use crate::domain::{Coordinates, Driver, DriverId, Ride, RideId};

/// What a ride's own channel carries.
#[derive(Debug, Clone)]
pub enum RideEvent {
    /// The ride as it is after a change.
    Changed(Arc<Ride>),
    /// The ride no longer exists (its store lost it): watchers end.
    Gone,
}

/// What a driver's own channel carries.
#[derive(Debug, Clone)]
pub enum DriverSignal {
    /// The driver moved or changed status.
    Driver(Arc<Driver>),
    /// A ride that concerns the driver changed (see
    /// [`Ride::drivers_concerned`]).
    Ride(Arc<Ride>),
}

/// How many events one ride's channel holds for a slow subscriber; it
/// re-reads the ride when it falls further behind.
const PER_RIDE_CAPACITY: usize = 4;
/// How many events one driver's feed channel holds (a driver's own reports
/// pass through it too); a feed further behind re-reads the driver.
const PER_DRIVER_CAPACITY: usize = 16;
/// How many events the all-rides channel holds.
const ALL_RIDES_CAPACITY: usize = 4096;
/// How many "driver available" notices wait for the dispatcher.
const AVAILABLE_CAPACITY: usize = 4096;
/// How many driver changes wait for the slowest live-map subscriber before
/// it is told it fell behind (it then re-reads its area).
const DRIVERS_CAPACITY: usize = 4096;

/// Fan-out of ride status changes to subscribers on this instance.
#[derive(Debug)]
pub struct EventHub {
    per_ride: usize,
    rides: Mutex<Channels<RideId, RideEvent>>,
    per_driver: usize,
    feeds: Mutex<Channels<DriverId, DriverSignal>>,
    /// Bumped when events may have been missed (the event subscription
    /// reconnected, or the store lost its data): every live stream re-reads
    /// what it shows.
    resyncs: watch::Sender<u64>,
    /// Bumped when an event log may have grown (a change was logged here,
    /// or another instance's ride change arrived): deliveries and `events`
    /// subscriptions read their logs on.
    logged: watch::Sender<u64>,
    all: broadcast::Sender<Arc<Ride>>,
    available: broadcast::Sender<Coordinates>,
    drivers: broadcast::Sender<Arc<Driver>>,
    orphans: tokio::sync::Notify,
    /// Whether any ride searches on this instance: without one, there is
    /// nobody to wake and `driver_available` costs nothing.
    wakes_wanted: std::sync::atomic::AtomicBool,
}

/// Channels by key, made when the first subscriber comes; forgotten when a
/// send finds nobody listening, or by a sweep of the ones nobody listens to.
#[derive(Debug)]
struct Channels<K, V> {
    by_key: HashMap<K, broadcast::Sender<V>>,
    /// Size after the last sweep of channels nobody listens to; the next
    /// sweep comes when the map has doubled, so sweeping costs O(1) amortised.
    swept_at: usize,
}

impl<K, V> Default for Channels<K, V> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
            swept_at: 0,
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Channels<K, V> {
    fn subscribe(&mut self, key: &K, capacity: usize) -> broadcast::Receiver<V> {
        if self.by_key.len() >= 2 * self.swept_at.max(512) {
            self.by_key.retain(|_, tx| tx.receiver_count() > 0);
            self.swept_at = self.by_key.len();
        }
        self.by_key
            .entry(key.clone())
            .or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe()
    }

    /// Sends to the key's channel, if it has one; `last` forgets it after.
    fn send(&mut self, key: &K, value: V, last: bool) {
        if let Some(tx) = self.by_key.get(key) {
            if tx.send(value).is_err() || last {
                self.by_key.remove(key);
            }
        }
    }
}

/// How many events each of the hub's channels holds for its slowest
/// subscriber before that subscriber is told it fell behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacities {
    pub per_ride: usize,
    pub all_rides: usize,
    pub available: usize,
    pub drivers: usize,
}

impl Default for Capacities {
    fn default() -> Self {
        Self {
            per_ride: PER_RIDE_CAPACITY,
            all_rides: ALL_RIDES_CAPACITY,
            available: AVAILABLE_CAPACITY,
            drivers: DRIVERS_CAPACITY,
        }
    }
}

impl Default for EventHub {
    fn default() -> Self {
        Self::with_capacities(Capacities::default())
    }
}

impl EventHub {
    /// A hub whose channels hold `capacities` events (tests make them tiny
    /// to see what a slow subscriber gets).
    pub fn with_capacities(capacities: Capacities) -> Self {
        Self {
            per_ride: capacities.per_ride.max(1),
            rides: Mutex::new(Channels::default()),
            per_driver: PER_DRIVER_CAPACITY,
            feeds: Mutex::new(Channels::default()),
            resyncs: watch::channel(0).0,
            logged: watch::channel(0).0,
            all: broadcast::channel(capacities.all_rides.max(1)).0,
            available: broadcast::channel(capacities.available.max(1)).0,
            drivers: broadcast::channel(capacities.drivers.max(1)).0,
            orphans: tokio::sync::Notify::new(),
            wakes_wanted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Delivers a ride's new state to everyone watching it, and to the
    /// feeds of the drivers it concerns.
    pub fn publish(&self, ride: Arc<Ride>) {
        // A terminal ride never changes again: its channel is forgotten.
        self.rides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(
                &ride.id,
                RideEvent::Changed(ride.clone()),
                ride.status.is_terminal(),
            );
        {
            let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
            for driver in ride.drivers_concerned() {
                feeds.send(driver, DriverSignal::Ride(ride.clone()), false);
            }
        }
        // No receiver is fine: nobody watches everything right now.
        let _ = self.all.send(ride);
    }

    /// Tells a ride's watchers that it no longer exists.
    pub fn gone(&self, id: &RideId) {
        self.rides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(id, RideEvent::Gone, true);
    }

    /// Events may have been missed: every live stream re-reads what it shows.
    pub fn resync(&self) {
        self.resyncs.send_modify(|n| *n += 1);
    }

    /// An event log may have grown.
    pub fn logged(&self) {
        self.logged.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Notices that an event log may have grown, from now on (a reader
    /// also reads on a timer: a driver's change on another instance is not
    /// always told here).
    pub fn subscribe_logged(&self) -> watch::Receiver<u64> {
        let mut rx = self.logged.subscribe();
        rx.mark_unchanged();
        rx
    }

    /// Resync notices, from now on.
    pub fn subscribe_resyncs(&self) -> watch::Receiver<u64> {
        let mut rx = self.resyncs.subscribe();
        rx.mark_unchanged();
        rx
    }

    /// Events for one ride, from now on. Subscribe before reading the
    /// ride's snapshot so that no change falls between the two.
    pub fn subscribe(&self, id: &RideId) -> broadcast::Receiver<RideEvent> {
        self.rides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .subscribe(id, self.per_ride)
    }

    /// One driver's changes and those of the rides concerning it, from
    /// now on. Subscribe before reading the driver.
    pub fn subscribe_feed(&self, id: &DriverId) -> broadcast::Receiver<DriverSignal> {
        self.feeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .subscribe(id, self.per_driver)
    }

    /// Events for every ride, from now on.
    pub fn subscribe_all(&self) -> broadcast::Receiver<Arc<Ride>> {
        self.all.subscribe()
    }

    /// A driver became available at `at` (new, moved, or freed by its
    /// ride): searching rides near it should search now.
    pub fn driver_available(&self, at: Coordinates) {
        if !self.wakes_wanted.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        // Nobody listening (no dispatcher yet) is fine.
        let _ = self.available.send(at);
    }

    /// The flag the dispatcher keeps true while rides search here.
    pub fn wakes_wanted(&self) -> &std::sync::atomic::AtomicBool {
        &self.wakes_wanted
    }

    /// Says that another instance handed its searching rides over (the
    /// event bridge calls this): they are to be adopted now rather than at
    /// the next maintenance tick.
    pub fn announce_rides_released(&self) {
        self.orphans.notify_one();
    }

    /// Completes when another instance handed rides over (see
    /// [`EventHub::announce_rides_released`]).
    pub async fn rides_released(&self) {
        self.orphans.notified().await;
    }

    /// A driver moved or changed status.
    pub fn publish_driver(&self, driver: Arc<Driver>) {
        self.feeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(&driver.id, DriverSignal::Driver(driver.clone()), false);
        // Nobody watching drivers is fine.
        let _ = self.drivers.send(driver);
    }

    /// Whether anyone on this instance follows driver changes (a live map,
    /// a rider's car, a driver's own feed).
    pub fn drivers_watched(&self) -> bool {
        self.drivers.receiver_count() > 0
            || self
                .feeds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .by_key
                .values()
                .any(|tx| tx.receiver_count() > 0)
    }

    /// Driver changes, from now on.
    pub fn subscribe_drivers(&self) -> broadcast::Receiver<Arc<Driver>> {
        self.drivers.subscribe()
    }

    /// Places where drivers became available, from now on.
    pub fn subscribe_available(&self) -> broadcast::Receiver<Coordinates> {
        self.available.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis publishes every driver change only while someone here watches
    /// drivers: a hub with no watcher says so, and one with a live map or a
    /// driver's feed says so too (this once said true for a hub without a
    /// feed, and every report was published for nobody).
    #[test]
    fn drivers_are_watched_only_while_someone_watches() {
        let hub = EventHub::default();
        assert!(!hub.drivers_watched());
        let map = hub.subscribe_drivers();
        assert!(hub.drivers_watched());
        drop(map);
        assert!(!hub.drivers_watched());
        let id = DriverId::parse("d").unwrap_or_else(|e| panic!("{e}"));
        let feed = hub.subscribe_feed(&id);
        assert!(hub.drivers_watched());
        drop(feed);
        assert!(
            !hub.drivers_watched(),
            "a channel nobody listens to watches nothing"
        );
    }
}
