//! The event log's vocabulary: what happened ([`EventType`]), where in an
//! area's log it stands ([`EventId`]) and the event itself ([`Event`]).
//!
//! Every status change of a ride or a driver is one event in its area's
//! log, written by the store in the same atomic step as the change. An id
//! is `<area>:<epoch>:<ms>-<n>`: the area, the area's epoch (a store that
//! lost its data starts a new one, so no id is ever reused) and the
//! position in the log (a Redis stream id), increasing within an area and
//! epoch.

use std::{cmp::Ordering, fmt, sync::Arc};

use chrono::{DateTime, Utc};

use super::{AreaId, Driver, DriverId, DriverStatus, OfferEndReason, Ride, RideStatus, RiderId};

/// The format version every event carries as `v`.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    RideRequested,
    RideOffered,
    OfferEnded,
    DriverFound,
    DriverApproaching,
    DriverArrived,
    TripStarted,
    RideCompleted,
    RideCancelled,
    RideExpired,
    DriverAvailable,
    DriverOffline,
}

impl EventType {
    /// Every type, in the order above.
    pub const ALL: [EventType; 12] = [
        Self::RideRequested,
        Self::RideOffered,
        Self::OfferEnded,
        Self::DriverFound,
        Self::DriverApproaching,
        Self::DriverArrived,
        Self::TripStarted,
        Self::RideCompleted,
        Self::RideCancelled,
        Self::RideExpired,
        Self::DriverAvailable,
        Self::DriverOffline,
    ];

    /// As stored, sent and spelled in GraphQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RideRequested => "RIDE_REQUESTED",
            Self::RideOffered => "RIDE_OFFERED",
            Self::OfferEnded => "OFFER_ENDED",
            Self::DriverFound => "DRIVER_FOUND",
            Self::DriverApproaching => "DRIVER_APPROACHING",
            Self::DriverArrived => "DRIVER_ARRIVED",
            Self::TripStarted => "TRIP_STARTED",
            Self::RideCompleted => "RIDE_COMPLETED",
            Self::RideCancelled => "RIDE_CANCELLED",
            Self::RideExpired => "RIDE_EXPIRED",
            Self::DriverAvailable => "DRIVER_AVAILABLE",
            Self::DriverOffline => "DRIVER_OFFLINE",
        }
    }

    /// From [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The ride status this type says a ride reached, for the types that
    /// are a status change.
    pub fn for_status(status: RideStatus) -> Option<Self> {
        Some(match status {
            RideStatus::Searching => return None,
            RideStatus::DriverFound => Self::DriverFound,
            RideStatus::Arrived => Self::DriverArrived,
            RideStatus::InProgress => Self::TripStarted,
            RideStatus::Completed => Self::RideCompleted,
            RideStatus::Cancelled => Self::RideCancelled,
            RideStatus::Expired => Self::RideExpired,
        })
    }

    /// As a metric label (a fixed set).
    pub fn label(self) -> &'static str {
        match self {
            Self::RideRequested => "ride_requested",
            Self::RideOffered => "ride_offered",
            Self::OfferEnded => "offer_ended",
            Self::DriverFound => "driver_found",
            Self::DriverApproaching => "driver_approaching",
            Self::DriverArrived => "driver_arrived",
            Self::TripStarted => "trip_started",
            Self::RideCompleted => "ride_completed",
            Self::RideCancelled => "ride_cancelled",
            Self::RideExpired => "ride_expired",
            Self::DriverAvailable => "driver_available",
            Self::DriverOffline => "driver_offline",
        }
    }
}

/// A position in an area's log: a Redis stream id, `<ms>-<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Seq {
    pub ms: u64,
    pub n: u64,
}

impl Seq {
    /// From `<ms>-<n>`.
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, n) = s.split_once('-')?;
        let digits =
            |p: &str| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(n) {
            return None;
        }
        Some(Self {
            ms: ms.parse().ok()?,
            n: n.parse().ok()?,
        })
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.n)
    }
}

/// Most bytes of an epoch.
pub const MAX_EPOCH_LEN: usize = 32;

/// An event's id: `<area>:<epoch>:<ms>-<n>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId {
    pub area: AreaId,
    pub epoch: String,
    pub seq: Seq,
}

impl EventId {
    /// Parses an id a client or a stored cursor gives; `None` when it is
    /// not one.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, ':');
        let area = AreaId::parse(parts.next()?).ok()?;
        let epoch = parts.next()?;
        let ok_epoch = !epoch.is_empty()
            && epoch.len() <= MAX_EPOCH_LEN
            && epoch
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok_epoch {
            return None;
        }
        let seq = Seq::parse(parts.next()?)?;
        Some(Self {
            area,
            epoch: epoch.to_owned(),
            seq,
        })
    }

    /// Where this id stands against another of the same log: `None` when
    /// they are of different areas or epochs (not comparable).
    pub fn compare(&self, other: &EventId) -> Option<Ordering> {
        (self.area == other.area && self.epoch == other.epoch).then(|| self.seq.cmp(&other.seq))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.area.as_str(), self.epoch, self.seq)
    }
}

/// One event of an area's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub kind: EventType,
    /// When the change happened, on the store's clock.
    pub at: DateTime<Utc>,
    pub ride_id: Option<super::RideId>,
    pub driver_id: Option<DriverId>,
    pub rider_id: Option<RiderId>,
    /// How the offer ended (OFFER_ENDED only).
    pub reason: Option<OfferEndReason>,
    /// The ride as it was right after the change (ride events).
    pub ride: Option<Arc<Ride>>,
    /// The driver as it was right after the change (driver events, and
    /// DRIVER_APPROACHING).
    pub driver: Option<Arc<Driver>>,
}

/// An event before the log gave it its id: what a store appends.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventType,
    pub reason: Option<OfferEndReason>,
    pub ride: Option<Arc<Ride>>,
    pub driver: Option<Arc<Driver>>,
}

impl NewEvent {
    /// The event a ride's change makes.
    pub fn ride(kind: EventType, ride: Arc<Ride>) -> Self {
        let reason = (kind == EventType::OfferEnded)
            .then(|| ride.offer_end.as_ref().map(|e| e.reason))
            .flatten();
        Self {
            kind,
            reason,
            ride: Some(ride),
            driver: None,
        }
    }

    /// The event a driver's change makes.
    pub fn driver(kind: EventType, driver: Arc<Driver>) -> Self {
        Self {
            kind,
            reason: None,
            ride: None,
            driver: Some(driver),
        }
    }

    /// The event, with its id and time.
    pub fn logged(self, id: EventId, at: DateTime<Utc>) -> Event {
        let ride_id = self
            .ride
            .as_ref()
            .map(|r| r.id.clone())
            .or_else(|| self.driver.as_ref().and_then(|d| d.ride_id.clone()));
        let driver_id = match (&self.ride, &self.driver) {
            (_, Some(d)) => Some(d.id.clone()),
            (Some(r), None) => match self.kind {
                EventType::RideOffered => r.offer.as_ref().map(|o| o.driver.clone()),
                EventType::OfferEnded => r.offer_end.as_ref().map(|e| e.driver.clone()),
                _ => r.driver_id.clone(),
            },
            (None, None) => None,
        };
        Event {
            id,
            kind: self.kind,
            at,
            ride_id,
            driver_id,
            rider_id: self.ride.as_ref().map(|r| r.rider_id.clone()),
            reason: self.reason,
            ride: self.ride,
            driver: self.driver,
        }
    }
}

/// The events a ride's change makes, from the ride before (`None`: it is
/// new) and after: the store that cannot say which change it made (the
/// memory store) derives them here. An accepted offer is two events: the
/// offer ended, then the driver found.
pub fn ride_change_events(before: Option<&Ride>, after: &Ride) -> Vec<EventType> {
    let mut out = Vec::new();
    let Some(before) = before else {
        out.push(EventType::RideRequested);
        return out;
    };
    if after.offer_ended_now().is_some() {
        out.push(EventType::OfferEnded);
    }
    if after.offer_made_now().is_some() {
        out.push(EventType::RideOffered);
    }
    if before.status != after.status {
        out.extend(EventType::for_status(after.status));
    }
    out
}

/// The event a driver's status change makes (AVAILABLE and OFFLINE only:
/// OFFERED and ASSIGNED are told by their ride's events), `None` when the
/// status did not change or is not one of them.
pub fn driver_change_event(before: Option<DriverStatus>, after: DriverStatus) -> Option<EventType> {
    if before == Some(after) {
        return None;
    }
    match after {
        DriverStatus::Available => Some(EventType::DriverAvailable),
        DriverStatus::Offline if before.is_some() => Some(EventType::DriverOffline),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_what_is_not_one() {
        let id = EventId::parse("north:ab12:1733312345678-3").unwrap_or_else(|| panic!("an id"));
        assert_eq!(id.to_string(), "north:ab12:1733312345678-3");
        assert_eq!(
            id.seq,
            Seq {
                ms: 1733312345678,
                n: 3
            }
        );
        for bad in [
            "",
            "north",
            "north:ab12",
            "north:ab12:12",
            "north:ab12:12-",
            "North:ab12:1-2",
            "north:AB:1-2",
            "north:ab12:1-2-3",
            "north::1-2",
            "north:ab12:-1-2",
            "north:ab12:99999999999999999999999-1",
        ] {
            assert!(EventId::parse(bad).is_none(), "{bad:?} is not an id");
        }
        let later = EventId::parse("north:ab12:1733312345678-4").unwrap_or_else(|| panic!("an id"));
        assert_eq!(id.compare(&later), Some(Ordering::Less));
        let other = EventId::parse("north:cd34:1-0").unwrap_or_else(|| panic!("an id"));
        assert_eq!(id.compare(&other), None, "another epoch does not compare");
    }

    #[test]
    fn types_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("RIDE_TELEPORTED"), None);
    }

    #[test]
    fn driver_events_are_status_changes_only() {
        use DriverStatus::*;
        assert_eq!(driver_change_event(Some(Available), Available), None);
        assert_eq!(
            driver_change_event(None, Available),
            Some(EventType::DriverAvailable)
        );
        assert_eq!(
            driver_change_event(Some(Offline), Available),
            Some(EventType::DriverAvailable)
        );
        assert_eq!(
            driver_change_event(Some(Offered), Available),
            Some(EventType::DriverAvailable)
        );
        assert_eq!(
            driver_change_event(Some(Available), Offline),
            Some(EventType::DriverOffline)
        );
        assert_eq!(driver_change_event(Some(Available), Offered), None);
        assert_eq!(driver_change_event(Some(Offered), Assigned), None);
    }
}
