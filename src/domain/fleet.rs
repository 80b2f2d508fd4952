//! Drivers: their status, what the service knows of them, and the reports
//! they send.

use chrono::{DateTime, Utc};

use super::{Coordinates, DriverId, RideId};
use crate::domain::error::Error;

/// Where a driver stands, as the rest of the service sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverStatus {
    /// Reporting, free, listed and matched.
    Available,
    /// Holds an offer of a ride, waiting for its answer: not listed, not
    /// offered anything else.
    Offered,
    /// Owned by a ride until that ride ends.
    Assigned,
    /// Went offline, or silent for longer than the driver TTL.
    Offline,
}

impl DriverStatus {
    /// The status as GraphQL spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::Offered => "OFFERED",
            Self::Assigned => "ASSIGNED",
            Self::Offline => "OFFLINE",
        }
    }
}

/// A driver and its last known position.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    pub id: DriverId,
    pub status: DriverStatus,
    pub location: Option<Coordinates>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The ride that owns the driver while it is ASSIGNED, or that it is
    /// offered while OFFERED.
    pub ride_id: Option<RideId>,
}

impl Driver {
    /// A driver the store has never heard of: OFFLINE, nowhere.
    pub fn unknown(id: DriverId) -> Self {
        Self {
            id,
            status: DriverStatus::Offline,
            location: None,
            updated_at: None,
            ride_id: None,
        }
    }
}

/// A driver found by a nearby search, with its distance to the search centre.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyDriver {
    pub driver: Driver,
    pub distance_km: f64,
    /// Its time to the point, when it was asked for.
    pub eta: Option<super::Eta>,
}

/// One position report in a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationReport {
    pub driver: DriverId,
    pub at: Coordinates,
    /// When the position was taken; a report older than the stored
    /// position is ignored (mobile clients send late).
    pub taken_at: DateTime<Utc>,
}

/// What became of one report in a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportOutcome {
    Accepted,
    /// Older than the stored position: ignored.
    Stale,
    /// Refused (an implausible jump, too fast); nothing changed for this driver.
    Refused(Error),
    /// Not for this store: the driver is held in another area (a store of
    /// one area, asked not to create drivers, says so; never seen outside
    /// the stores).
    Elsewhere,
}
