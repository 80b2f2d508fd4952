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
//! wake the searching rides nearby.
//!
//! The Redis store feeds this hub from its Redis subscription, so a
//! subscriber sees the events of every instance.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::{broadcast, watch};

use crate::domain::{Coordinates, Driver, Ride, RideId};

/// What a ride's own channel carries.
#[derive(Debug, Clone)]
pub enum RideEvent {
    /// The ride as it is after a change.
    Changed(Arc<Ride>),
    /// The ride no longer exists (its store lost it): watchers end.
    Gone,
}

/// How many events one ride's channel holds for a slow subscriber; it
/// re-reads the ride when it falls further behind.
const PER_RIDE_CAPACITY: usize = 4;
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
    rides: Mutex<RideChannels>,
    /// Bumped when events may have been missed (the event subscription
    /// reconnected, or the store lost its data): every live stream re-reads
    /// what it shows.
    resyncs: watch::Sender<u64>,
    all: broadcast::Sender<Arc<Ride>>,
    available: broadcast::Sender<Coordinates>,
    drivers: broadcast::Sender<Arc<Driver>>,
    orphans: tokio::sync::Notify,
    /// Whether any ride searches on this instance: without one, there is
    /// nobody to wake and `driver_available` costs nothing.
    wakes_wanted: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct RideChannels {
    by_ride: HashMap<RideId, broadcast::Sender<RideEvent>>,
    /// Size after the last sweep of channels nobody listens to; the next
    /// sweep comes when the map has doubled, so sweeping costs O(1) amortised.
    swept_at: usize,
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
            rides: Mutex::new(RideChannels::default()),
            resyncs: watch::channel(0).0,
            all: broadcast::channel(capacities.all_rides.max(1)).0,
            available: broadcast::channel(capacities.available.max(1)).0,
            drivers: broadcast::channel(capacities.drivers.max(1)).0,
            orphans: tokio::sync::Notify::new(),
            wakes_wanted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Delivers a ride's new state to everyone watching it.
    pub fn publish(&self, ride: Arc<Ride>) {
        {
            let mut rides = self.rides.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(tx) = rides.by_ride.get(&ride.id) {
                // A terminal ride never changes again, and a channel without
                // receivers serves nobody: either way, forget it.
                if tx.send(RideEvent::Changed(ride.clone())).is_err() || ride.status.is_terminal() {
                    rides.by_ride.remove(&ride.id);
                }
            }
        }
        // No receiver is fine: nobody watches everything right now.
        let _ = self.all.send(ride);
    }

    /// Tells a ride's watchers that it no longer exists.
    pub fn gone(&self, id: &RideId) {
        let mut rides = self.rides.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = rides.by_ride.remove(id) {
            let _ = tx.send(RideEvent::Gone);
        }
    }

    /// Events may have been missed: every live stream re-reads what it shows.
    pub fn resync(&self) {
        self.resyncs.send_modify(|n| *n += 1);
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
        let mut rides = self.rides.lock().unwrap_or_else(PoisonError::into_inner);
        if rides.by_ride.len() >= 2 * rides.swept_at.max(512) {
            rides.by_ride.retain(|_, tx| tx.receiver_count() > 0);
            rides.swept_at = rides.by_ride.len();
        }
        rides
            .by_ride
            .entry(id.clone())
            .or_insert_with(|| broadcast::channel(self.per_ride).0)
            .subscribe()
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
        // Nobody watching drivers is fine.
        let _ = self.drivers.send(driver);
    }

    /// Whether anyone on this instance follows driver changes.
    pub fn drivers_watched(&self) -> bool {
        self.drivers.receiver_count() > 0
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
