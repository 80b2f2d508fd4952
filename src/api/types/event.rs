//! An event of an area's log in GraphQL (`events`): what happened, when,
//! to which ride and driver, with the ride or driver as they were then; and
//! a page of them with where the next page starts.

use async_graphql::{Enum, Object, ID};
use chrono::{DateTime, Utc};

use super::{driver::Driver, ride::OfferEndReason, ride::Ride};
use crate::{dispatch::replay::ReplayPage, domain};

/// What an event says happened. Every status change of a ride or a driver
/// is one event (a driver's position reports are not).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "EventType", remote = "crate::domain::EventType")]
pub enum EventType {
    /// A rider asked for a ride (it is SEARCHING).
    RideRequested,
    /// The ride was offered to a driver (`driverId`), waiting for its answer.
    RideOffered,
    /// An offer ended (`reason`): accepted (DRIVER_FOUND follows), declined,
    /// timed out or withdrawn.
    OfferEnded,
    /// A driver was assigned to the ride (it is DRIVER_FOUND).
    DriverFound,
    /// The assigned driver's first report within the area's
    /// `approachMeters` of the pickup.
    DriverApproaching,
    /// The driver waits at the pickup (ARRIVED).
    DriverArrived,
    /// The rider is on board (IN_PROGRESS).
    TripStarted,
    /// The ride was completed (COMPLETED).
    RideCompleted,
    /// The ride was cancelled (CANCELLED).
    RideCancelled,
    /// No driver was found in time (EXPIRED).
    RideExpired,
    /// A driver became AVAILABLE (came online, its ride or offer ended, or
    /// it entered this area).
    DriverAvailable,
    /// A driver went OFFLINE (by `goOffline`, or silent past the driver
    /// TTL), or left this area while AVAILABLE.
    DriverOffline,
}

/// An event of an area's log.
pub struct Event(pub domain::Event);

/// One change of a ride or a driver, as the area's log holds it (the same
/// fields the webhooks and NATS carry).
#[Object]
impl Event {
    /// `<area>:<epoch>:<ms>-<n>`: unique, increasing within an area and
    /// epoch; pass it as `after` to read what followed.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The event format's version.
    async fn v(&self) -> i32 {
        i32::try_from(domain::EVENT_FORMAT_VERSION).unwrap_or(i32::MAX)
    }

    /// What happened.
    #[graphql(name = "type")]
    async fn kind(&self) -> EventType {
        self.0.kind.into()
    }

    /// When, on the store's clock.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The ride it concerns, if any.
    async fn ride_id(&self) -> Option<ID> {
        self.0.ride_id.as_ref().map(|id| ID(id.to_string()))
    }

    /// The driver it concerns, if any (for RIDE_OFFERED and OFFER_ENDED,
    /// the driver offered).
    async fn driver_id(&self) -> Option<ID> {
        self.0.driver_id.as_ref().map(|id| ID(id.to_string()))
    }

    /// The rider of the ride it concerns, if any.
    async fn rider_id(&self) -> Option<ID> {
        self.0.rider_id.as_ref().map(|id| ID(id.to_string()))
    }

    /// How the offer ended (OFFER_ENDED only).
    async fn reason(&self) -> Option<OfferEndReason> {
        self.0.reason.map(Into::into)
    }

    /// The ride as it was right after the change (ride events and
    /// DRIVER_APPROACHING). Its stored fields are as they were then; the
    /// fields a `Ride` computes when asked (`driver`, `pickupRoute`, `area`)
    /// are computed now, as for any ride: the event's own `driver` is the
    /// driver as it was.
    async fn ride(&self) -> Option<Ride> {
        self.0.ride.clone().map(Ride)
    }

    /// The driver as it was right after the change (driver events and
    /// DRIVER_APPROACHING).
    async fn driver(&self) -> Option<Driver> {
        self.0.driver.as_deref().map(|d| Driver::from(d.clone()))
    }
}

/// A page of an area's log.
pub struct EventPage(pub ReplayPage);

/// A page of an area's event log, and where the next one starts.
#[Object]
impl EventPage {
    /// The events, in log order (of the types asked for).
    async fn events(&self) -> Vec<Event> {
        self.0.events.iter().cloned().map(Event).collect()
    }

    /// Pass as `after` for the next page: the id of the last event read
    /// (returned, or skipped by `types`), else the `after` given. Null when
    /// nothing was read and nothing was given, or after `recovered: false`
    /// with nothing read: the next page then starts at the oldest event
    /// kept.
    async fn next(&self) -> Option<String> {
        self.0.next.as_ref().map(ToString::to_string)
    }

    /// False when events may have been missed before this page: `after` is
    /// older than the oldest event the log keeps, or of another epoch (the
    /// store lost its data). The page then starts at the oldest event kept.
    async fn recovered(&self) -> bool {
        self.0.recovered
    }
}
