//! The events of a driver's own feed (`driverFeed`): its offers, how they
//! end, and its ride.

use async_graphql::{Enum, Object};

use super::{
    driver::Driver,
    ride::{Offer, OfferEndReason, Ride},
};
use crate::dispatch::live;

/// What a `driverFeed` event is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DriverFeedKind {
    /// The driver as it is, with its outstanding `offer` or current `ride`:
    /// the first event, after the feed fell behind, and when the driver goes
    /// OFFLINE (silent, `goOffline`, too many offers ignored) or comes back.
    State,
    /// A ride is offered to the driver (`offer`, `ride`).
    Offer,
    /// The driver's offer ended (`reason`, `ride`).
    OfferEnded,
    /// The driver's ride changed status (`ride`): assigned, arrived, trip
    /// started, completed or cancelled by the rider.
    Ride,
}

/// An event of a driver's own feed (see `DriverFeedKind`).
pub struct DriverFeedEvent(pub live::FeedEvent);

/// What a driver app is told (see `DriverFeedKind`).
#[Object]
impl DriverFeedEvent {
    /// What happened.
    async fn kind(&self) -> DriverFeedKind {
        match &self.0 {
            live::FeedEvent::State { .. } => DriverFeedKind::State,
            live::FeedEvent::Offer { .. } => DriverFeedKind::Offer,
            live::FeedEvent::OfferEnded { .. } => DriverFeedKind::OfferEnded,
            live::FeedEvent::Ride { .. } => DriverFeedKind::Ride,
        }
    }

    /// The driver, as of this event.
    async fn driver(&self) -> Driver {
        Driver::from((**self.0.driver()).clone())
    }

    /// STATE and OFFER: the offer the driver holds.
    async fn offer(&self) -> Option<Offer> {
        match &self.0 {
            live::FeedEvent::State {
                offered: Some(ride),
                ..
            }
            | live::FeedEvent::Offer { ride, .. } => {
                ride.offer.is_some().then(|| Offer(ride.clone()))
            }
            _ => None,
        }
    }

    /// STATE: the ride the driver is assigned to. OFFER, OFFER_ENDED, RIDE:
    /// the ride concerned.
    async fn ride(&self) -> Option<Ride> {
        match &self.0 {
            live::FeedEvent::State { ride, .. } => ride.clone().map(Ride),
            live::FeedEvent::Offer { ride, .. }
            | live::FeedEvent::OfferEnded { ride, .. }
            | live::FeedEvent::Ride { ride, .. } => Some(Ride(ride.clone())),
        }
    }

    /// OFFER_ENDED: how.
    async fn reason(&self) -> Option<OfferEndReason> {
        match &self.0 {
            live::FeedEvent::OfferEnded { reason, .. } => Some((*reason).into()),
            _ => None,
        }
    }
}
