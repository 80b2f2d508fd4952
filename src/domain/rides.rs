//! Rides: their life, the offers made to drivers, and what a live map shows
//! of an area.
//!
//! ```text
//!  SEARCHING ──► DRIVER_FOUND ──► ARRIVED ──► IN_PROGRESS ──► COMPLETED
//!   │  ▲  │           │              │
//!   │  │  │           └──────────────┴──────► CANCELLED
//!   │ offers          (completeRide also from DRIVER_FOUND and ARRIVED)
//!   ├──► CANCELLED
//!   └──► EXPIRED
//! ```
//!
//! While SEARCHING a ride may hold one outstanding [`Offer`] to one driver
//! (when offers are on); the driver accepts (the ride is DRIVER_FOUND),
//! declines or lets it time out (the ride searches on, never offering that
//! driver again). The allowed moves are [`Step`]s, defined here once: both
//! stores take them from this table.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Coordinates, Driver, DriverId, Eta, RideId, RiderId};

/// Where a ride stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RideStatus {
    Searching,
    DriverFound,
    Arrived,
    InProgress,
    Cancelled,
    Expired,
    Completed,
}

impl RideStatus {
    /// A terminal status never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled | Self::Expired | Self::Completed)
    }

    /// Whether a driver is assigned and the ride has not ended.
    pub fn has_driver(self) -> bool {
        matches!(self, Self::DriverFound | Self::Arrived | Self::InProgress)
    }

    /// The status as stored (and as GraphQL spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Searching => "SEARCHING",
            Self::DriverFound => "DRIVER_FOUND",
            Self::Arrived => "ARRIVED",
            Self::InProgress => "IN_PROGRESS",
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
            "ARRIVED" => Self::Arrived,
            "IN_PROGRESS" => Self::InProgress,
            "CANCELLED" => Self::Cancelled,
            "EXPIRED" => Self::Expired,
            "COMPLETED" => Self::Completed,
            _ => return None,
        })
    }
}

/// A move of a ride that a rider, its driver or a dispatcher asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `driverArrived`: the driver waits at the pickup.
    Arrive,
    /// `startTrip`: the rider is on board.
    Start,
    /// `completeRide`: the trip is over; the driver is free.
    Complete,
    /// `cancelRequest`: the rider gives up; a driver it held is free.
    Cancel,
}

impl Step {
    /// The statuses the step applies to.
    pub fn from(self) -> &'static [RideStatus] {
        use RideStatus::*;
        match self {
            Self::Arrive => &[DriverFound],
            Self::Start => &[Arrived],
            Self::Complete => &[DriverFound, Arrived, InProgress],
            Self::Cancel => &[Searching, DriverFound, Arrived],
        }
    }

    /// The status the step leads to.
    pub fn to(self) -> RideStatus {
        match self {
            Self::Arrive => RideStatus::Arrived,
            Self::Start => RideStatus::InProgress,
            Self::Complete => RideStatus::Completed,
            Self::Cancel => RideStatus::Cancelled,
        }
    }

    /// The operation that asks for it.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Arrive => "driverArrived",
            Self::Start => "startTrip",
            Self::Complete => "completeRide",
            Self::Cancel => "cancelRequest",
        }
    }

    /// Whether the step applies to a ride in `status`.
    pub fn applies_to(self, status: RideStatus) -> bool {
        self.from().contains(&status)
    }
}

/// An offer of a SEARCHING ride to one driver, waiting for its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub driver: DriverId,
    /// The driver's distance to the pickup when offered, in km.
    pub distance_km: f64,
    pub made_at: DateTime<Utc>,
    /// After this (on the store's clock) the offer has timed out.
    pub expires_at: DateTime<Utc>,
    /// The ride's revision that made it.
    pub revision: u64,
    /// The driver's time to the pickup when offered.
    pub eta: Option<Eta>,
}

/// How an offer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferEndReason {
    Accepted,
    Declined,
    TimedOut,
    /// The ride ended meanwhile (cancelled by the rider, or expired).
    Withdrawn,
}

impl OfferEndReason {
    /// As stored, as GraphQL spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::TimedOut => "TIMED_OUT",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    /// As a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::TimedOut => "timed_out",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Some(match s {
            "ACCEPTED" => Self::Accepted,
            "DECLINED" => Self::Declined,
            "TIMED_OUT" => Self::TimedOut,
            "WITHDRAWN" => Self::Withdrawn,
            _ => return None,
        })
    }
}

/// The last offer of a ride that ended, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferEnd {
    pub driver: DriverId,
    pub reason: OfferEndReason,
    /// The ride's revision that ended it.
    pub revision: u64,
}

/// A rider's request for a driver, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ride {
    pub id: RideId,
    pub rider_id: RiderId,
    pub pickup: Coordinates,
    /// Where the rider is going, when the request said.
    pub dropoff: Option<Coordinates>,
    pub status: RideStatus,
    pub driver_id: Option<DriverId>,
    /// The driver's distance to the pickup when it was matched, in km.
    pub distance_km: Option<f64>,
    /// The outstanding offer, while one waits for its answer.
    pub offer: Option<Offer>,
    /// The last offer that ended.
    pub offer_end: Option<OfferEnd>,
    /// Searches run so far.
    pub searches: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When a driver was assigned (the ride became DRIVER_FOUND), on the
    /// store's clock; `None` until then.
    pub matched_at: Option<DateTime<Utc>>,
    /// The driver's time to the pickup as computed when it was matched
    /// (by road, or the straight-line estimate, as it says).
    pub pickup_eta: Option<Eta>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    /// When the ride reached its terminal status (it is removed a retention
    /// period later).
    pub ended_at: Option<DateTime<Utc>>,
    /// Counts changes (1 when created): status changes, offers made and
    /// ended. Subscribers use it to drop events they have already seen and
    /// to notice ones they missed.
    pub revision: u64,
}

impl Ride {
    /// The offer made by this very revision, if that is what it changed.
    pub fn offer_made_now(&self) -> Option<&Offer> {
        self.offer.as_ref().filter(|o| o.revision == self.revision)
    }

    /// The offer ended by this very revision, if that is what it changed.
    pub fn offer_ended_now(&self) -> Option<&OfferEnd> {
        self.offer_end
            .as_ref()
            .filter(|e| e.revision == self.revision)
    }

    /// The drivers this ride's changes concern: the one offered, the one
    /// whose offer just ended, the one assigned.
    pub fn drivers_concerned(&self) -> impl Iterator<Item = &DriverId> {
        let offered = self.offer.as_ref().map(|o| &o.driver);
        let ended = self.offer_ended_now().map(|e| &e.driver);
        let assigned = self.driver_id.as_ref();
        offered
            .into_iter()
            .chain(ended.filter(|d| Some(*d) != offered))
            .chain(assigned.filter(|d| Some(*d) != offered && Some(*d) != ended))
    }
}

/// What a live map shows of an area when it starts: the AVAILABLE drivers in
/// it, the rides not ended whose pickup is in it, and the drivers of those
/// rides (assigned or offered, wherever they are).
#[derive(Debug, Clone, Default)]
pub struct AreaSnapshot {
    pub drivers: Vec<Driver>,
    pub rides: Vec<Arc<Ride>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_leads_somewhere_it_does_not_start_from() {
        for step in [Step::Arrive, Step::Start, Step::Complete, Step::Cancel] {
            assert!(!step.applies_to(step.to()), "{step:?}");
            assert!(step.from().iter().all(|s| !s.is_terminal()), "{step:?}");
        }
        assert!(!Step::Cancel.applies_to(RideStatus::InProgress));
        assert!(Step::Complete.applies_to(RideStatus::DriverFound));
    }

    #[test]
    fn statuses_read_back_as_stored() {
        use RideStatus::*;
        for s in [
            Searching,
            DriverFound,
            Arrived,
            InProgress,
            Cancelled,
            Expired,
            Completed,
        ] {
            assert_eq!(RideStatus::from_stored(s.as_str()), Some(s));
        }
        for r in [
            OfferEndReason::Accepted,
            OfferEndReason::Declined,
            OfferEndReason::TimedOut,
            OfferEndReason::Withdrawn,
        ] {
            assert_eq!(OfferEndReason::from_stored(r.as_str()), Some(r));
        }
    }
}
