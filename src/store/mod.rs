//! Where the fleet lives: one [`Store`] trait, two implementations.
//!
//! The dispatcher above talks to the store only in domain terms: upsert a
//! driver's position, list nearby drivers, create and read rides, and the
//! **atomic** transitions of a ride's life (match or offer, answer an offer,
//! the trip's steps, cancel, expire).
//! Atomic in the store, so the Redis version can do each in one Lua script
//! and several instances never assign a driver twice.
//!
//! - [`memory`]: the embedded default; one mutex over maps and an R-tree.
//! - [`redis`]: the shared store that lets many instances serve one fleet.
//!
//! Every status change a store makes is published through its
//! [`EventHub`], the broadcast channel that `rideStatus` subscriptions read.

pub mod areas;
pub mod documents;
pub mod events;
pub mod memory;
pub mod redis;
pub mod traced;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use documents::SharedDocuments;
pub use events::EventHub;

use crate::{
    domain::{
        AreaSnapshot, Coordinates, Driver, DriverId, IdempotencyKey, Limit, LocationReport,
        NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, RiderId, Step,
    },
    error::Result,
};

/// Most drivers, and most rides, an area snapshot holds.
pub const SNAPSHOT_LIMIT: usize = 5000;
/// Most records one sweep step handles (of each kind); a step that hit this
/// says so, and the next follows at once.
pub const SWEEP_BATCH: usize = 1000;

/// How long what has ended is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// An ended ride (cancelled, expired, completed) is removed this long
    /// after it ended.
    pub rides: Duration,
    /// A driver silent this long is removed (unless a ride still owns it).
    pub drivers: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            rides: Duration::from_secs(24 * 3600),
            drivers: Duration::from_secs(24 * 3600),
        }
    }
}

/// What one sweep step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// AVAILABLE drivers that passed the TTL and went OFFLINE (each
    /// published once).
    pub went_offline: usize,
    /// Drivers removed after the driver retention.
    pub drivers_removed: usize,
    /// Ended rides removed after the ride retention.
    pub rides_removed: usize,
    /// The drivers removed (at most [`SWEEP_BATCH`]), so whatever points
    /// at them can go too.
    pub removed: Vec<DriverId>,
}

/// What a store holding one area says of a driver leaving it for another.
#[derive(Debug, Clone, PartialEq)]
pub enum Released {
    /// Not held here.
    Unknown,
    /// OFFERED or ASSIGNED: it stays with its ride's area until the ride
    /// (or the offer) ends. As it is.
    Busy(Driver),
    /// Taken off every index here; as it was.
    Gone(Driver),
}

// TEMPORARY (issue 21): AreaCounts now lives in domain; the merger removes this.
pub use crate::domain::AreaCounts;

impl Swept {
    /// Whether a limit was hit and more may be waiting.
    pub fn more(&self) -> bool {
        self.went_offline >= SWEEP_BATCH
            || self.drivers_removed >= SWEEP_BATCH
            || self.rides_removed >= SWEEP_BATCH
    }
}

/// How rides reach drivers: assigned at once, or offered first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offers {
    /// How long a driver has to answer an offer; zero: no offers, the
    /// nearest driver is assigned at once.
    pub timeout: Duration,
    /// A driver who lets this many offers in a row time out goes OFFLINE
    /// (0: never).
    pub ignore_limit: u32,
}

impl Offers {
    /// Whether rides are offered before they are assigned.
    pub fn on(&self) -> bool {
        !self.timeout.is_zero()
    }
}

/// A rider's request for a ride, as the store takes it.
#[derive(Debug, Clone)]
pub struct NewRide {
    pub rider: RiderId,
    pub pickup: Coordinates,
    /// Where the rider is going, if the request said.
    pub dropoff: Option<Coordinates>,
    /// How long it may search: its deadline is the store's now plus this.
    pub timeout: Duration,
    /// A retry with the same key (by the same rider) gets the same ride,
    /// for as long as the request could search.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Most rides the rider may have that have not ended (0: no limit).
    pub max_active: usize,
}

impl NewRide {
    /// A request with no idempotency key and no limit on active rides.
    pub fn new(rider: RiderId, pickup: Coordinates, timeout: Duration) -> Self {
        Self {
            rider,
            pickup,
            dropoff: None,
            timeout,
            idempotency_key: None,
            max_active: 0,
        }
    }
}

/// A rider's rides in one store, for the per-rider rules over several
/// areas (see [`areas`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiderRides {
    /// The rider's rides here that have not ended.
    pub active: Vec<RideId>,
    /// The ride the idempotency key asked about made here, while the key
    /// is remembered.
    pub remembered: Option<Arc<Ride>>,
}

/// What a ride request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Requested {
    /// A new ride: its search task must start.
    Created(Arc<Ride>),
    /// The ride an earlier request with the same idempotency key created.
    Existing(Arc<Ride>),
}

impl Requested {
    /// The ride, new or not.
    pub fn ride(&self) -> &Arc<Ride> {
        match self {
            Self::Created(ride) | Self::Existing(ride) => ride,
        }
    }
}

/// What one search for a ride's driver came to.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchOutcome {
    /// A driver was assigned; the ride is DRIVER_FOUND.
    Matched(Arc<Ride>),
    /// The ride holds an offer (made now, or still waiting for its answer);
    /// search again at the offer's deadline or when woken.
    Offered(Arc<Ride>),
    /// No available driver in range; the ride is still SEARCHING.
    NoDriver(Arc<Ride>),
    /// The ride is no longer searching (cancelled, or expired by this call
    /// because its deadline has passed); nothing more to do for it.
    Ended(Arc<Ride>),
    /// Another instance searches for this ride now (it took the ride over
    /// while this one could not renew its lease): this one stops.
    Elsewhere(Arc<Ride>),
}

/// The operations the service needs from its storage.
///
/// Every method that takes `now` uses it as the current time, so tests can
/// move time as they like and the Redis scripts never read a clock.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a driver's latest position. A new or OFFLINE driver becomes
    /// AVAILABLE; an OFFERED or ASSIGNED one stays so. A position farther
    /// from the last one than `max_speed_kmh` allows (plus GPS jitter) is
    /// refused as `BadInput` and changes nothing. With `create` false, a
    /// driver the store does not hold is left alone: `Ok(None)` (an area
    /// store, asked first whether the driver is already its own).
    async fn report(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Option<Driver>>;

    /// Applies many position reports at once (on Redis: one round trip),
    /// each as [`Store::report`] would at its `taken_at`; with `create`
    /// false, reports for drivers not held here come back
    /// [`ReportOutcome::Elsewhere`].
    async fn report_batch(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Vec<ReportOutcome>>;

    /// [`Store::report`], creating the driver if need be.
    async fn update_location(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Driver> {
        self.report(id, at, now, max_speed_kmh, true)
            .await?
            .ok_or_else(|| {
                crate::error::Error::internal("a report that may create created nothing")
            })
    }

    /// [`Store::report_batch`], creating drivers if need be.
    async fn update_locations(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Vec<ReportOutcome>> {
        self.report_batch(reports, now, max_speed_kmh, true).await
    }

    /// A driver moving to another area leaves this one (see [`Released`]).
    async fn hand_off(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Released>;

    /// What the store holds now.
    async fn counts(&self) -> Result<AreaCounts>;

    /// What one area holds now (a store of one area holds just that).
    async fn area_counts(&self, _area: &crate::domain::AreaId) -> Result<AreaCounts> {
        self.counts().await
    }

    /// Takes a driver off the market at once (declining an offer it holds).
    /// `NotFound` for an unknown driver, `Conflict` for an ASSIGNED one.
    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver>;

    /// A driver as it stands at `now` (silent past the TTL reads OFFLINE).
    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>>;

    /// Many drivers at once (on Redis: one round trip); unknown ids are
    /// left out.
    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>>;

    /// AVAILABLE, fresh drivers within `radius` of `center`, nearest first.
    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>>;

    /// Creates a SEARCHING ride with a fresh id (one never handed out
    /// before, even by a store that lost its data), atomically with its
    /// checks: the same idempotency key returns the ride it created; a rider
    /// at `max_active` is refused with [`crate::error::Error::ActiveRide`].
    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested>;

    /// The rider's rides here that have not ended, and the ride `key` made
    /// here (if it is still remembered): what a request of the rider must
    /// reckon with in this store.
    async fn rider_rides(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<RiderRides>;

    /// A ride, whatever its status.
    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>>;

    /// The drivers and active rides of an area, at most [`SNAPSHOT_LIMIT`] of each.
    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot>;

    /// One search, atomically. If the ride is SEARCHING and before its
    /// deadline: with offers off, assign the nearest AVAILABLE fresh driver
    /// within `radius` (driver ASSIGNED, ride DRIVER_FOUND); with offers on,
    /// time out an offer past its deadline (that driver is never offered
    /// the ride again, and goes OFFLINE at the ignore limit), then, unless
    /// an offer still waits, offer the ride to the nearest such driver not
    /// offered it before (driver OFFERED). Past the ride's deadline it is
    /// EXPIRED instead, withdrawing any offer. Counts the search.
    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome>;

    /// Answers the ride's outstanding offer, atomically: accepted, the ride
    /// is DRIVER_FOUND and the driver ASSIGNED; declined, the driver is
    /// AVAILABLE and never offered the ride again. `driver`, when given,
    /// must be the one offered. No such offer, or one past its deadline: a
    /// `Conflict`, and nothing changes.
    async fn answer_offer(
        &self,
        id: &RideId,
        driver: Option<&DriverId>,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<Arc<Ride>>;

    /// Moves a ride one [`Step`] on, atomically. A step that does not apply
    /// to its status is a `Conflict` (cancelling a CANCELLED ride returns it
    /// as it is). Ending a ride frees its driver; cancelling a SEARCHING one
    /// withdraws its offer.
    async fn advance_ride(&self, id: &RideId, step: Step, now: DateTime<Utc>) -> Result<Arc<Ride>>;

    /// SEARCHING and past its deadline → EXPIRED (withdrawing any offer).
    /// Returns the ride as it is afterwards (unchanged when it was not due
    /// or not searching).
    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>>;

    /// Renews this instance's claim on its searching rides and takes over
    /// those of instances that stopped renewing theirs. Returns the rides
    /// this instance must run search tasks for: those taken over, and, when
    /// the store counts a different number of searching rides owned here
    /// than the tasks `running` here (of this store's rides), every one it
    /// owns (the dispatcher starts the ones it lacks: a ride created
    /// although its request timed out).
    async fn adopt_orphans(&self, now: DateTime<Utc>, running: &[RideId])
        -> Result<Vec<Arc<Ride>>>;

    /// Gives up this instance's searching rides (on shutdown), so another
    /// instance adopts them at once.
    async fn hand_over_rides(&self) -> Result<()>;

    /// One bounded step of housekeeping, by index, never by scanning: drivers
    /// silent past the TTL go OFFLINE (declining an offer they hold; their
    /// change is published),
    /// drivers silent past the driver retention and rides ended longer ago
    /// than the ride retention are removed. At most [`SWEEP_BATCH`] of each.
    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept>;

    /// How often [`Store::adopt_orphans`] must run; `None` when the store is
    /// private to this process and there is nothing to renew or adopt.
    fn maintenance_interval(&self) -> Option<Duration>;

    /// Succeeds while the store answers.
    async fn ping(&self) -> Result<()>;

    /// The clock shared decisions are taken on: deadlines, expiry, leases
    /// and the driver TTL. On Redis, the server's `TIME` (here, as last
    /// learnt from it); in memory, this process's clock.
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Someone here starts following driver changes: make sure they are
    /// published (the Redis store publishes them only while watched).
    async fn watch_drivers(&self) -> Result<()> {
        Ok(())
    }

    /// Whether events from other instances reach this one (always, for a
    /// store private to this process).
    fn events_connected(&self) -> bool {
        true
    }

    /// The hub that carries this store's ride events.
    fn events(&self) -> &EventHub;
}
