//! Rides: their life, and what a live map shows of an area.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Coordinates, Driver, DriverId, RideId, RiderId};

/// The life of a ride: SEARCHING, then DRIVER_FOUND, CANCELLED or EXPIRED;
/// DRIVER_FOUND then ends as COMPLETED or CANCELLED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RideStatus {
    Searching,
    DriverFound,
    Cancelled,
    Expired,
    Completed,
}

impl RideStatus {
    /// A terminal status never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled | Self::Expired | Self::Completed)
    }

    /// The status as stored (and as GraphQL spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Searching => "SEARCHING",
            Self::DriverFound => "DRIVER_FOUND",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Completed => "COMPLETED",
        }
    }

    /// Reads a stored status back.
    pub fn from_stored(s: &str) -> Option<Self> {
        Some(match s {
            "SEARCHING" => Self::Searching,
            "DRIVER_FOUND" => Self::DriverFound,
            "CANCELLED" => Self::Cancelled,
            "EXPIRED" => Self::Expired,
            "COMPLETED" => Self::Completed,
            _ => return None,
        })
    }
}

/// A rider's request for a driver, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ride {
    pub id: RideId,
    pub rider_id: RiderId,
    pub pickup: Coordinates,
    pub status: RideStatus,
    pub driver_id: Option<DriverId>,
    /// The driver's distance to the pickup when it was matched, in km.
    pub distance_km: Option<f64>,
    /// Searches run so far.
    pub searches: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the ride reached its terminal status (it is removed a retention
    /// period later).
    pub ended_at: Option<DateTime<Utc>>,
    /// Counts status changes (1 when created): subscribers use it to drop
    /// events they have already seen and to notice ones they missed.
    pub revision: u64,
}

/// What a live map shows of an area when it starts: the AVAILABLE drivers in
/// it, the rides not ended whose pickup is in it, and the drivers of those
/// rides (wherever they are).
#[derive(Debug, Clone, Default)]
pub struct AreaSnapshot {
    pub drivers: Vec<Driver>,
    pub rides: Vec<Arc<Ride>>,
}
