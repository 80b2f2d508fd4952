//! The values a store takes and returns: requests, outcomes, settings
//! and what housekeeping did.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use crate::domain::{
    Candidate, Coordinates, Driver, DriverId, IdempotencyKey, Ride, RideId, RiderId, StraightLine,
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

/// The most candidates a ranked search hands the store.
pub const MAX_CANDIDATES: usize = 256;

/// How a search picks its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// The nearest fresh AVAILABLE driver by straight line, its time to
    /// the pickup the straight-line estimate (how every search ran before
    /// roads, and still runs without them).
    Nearest(StraightLine),
    /// The first of these, in this order (the fastest first), still fresh,
    /// AVAILABLE, within the radius and not offered the ride before; none
    /// of them: no driver. At most [`MAX_CANDIDATES`] are tried.
    Ranked(Vec<Candidate>),
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
/// areas (see [`super::areas`]).
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

/// An offer answered: the ride afterwards, and when the offer was made
/// (for the time drivers take to answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    /// The ride as the answer left it.
    pub ride: Arc<Ride>,
    /// When the offer answered was made; `None` when the store could not
    /// say (a Redis library loaded by an older instance of a mixed-version
    /// fleet, whose reply lacks it): the answer stands, only its metric is
    /// skipped.
    pub offered_at: Option<DateTime<Utc>>,
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
