//! The driver's side of dispatch in GraphQL: offers, how they end, the
//! driver's own feed, and the dropoff a request may name.

use std::sync::Arc;

use async_graphql::{dataloader::DataLoader, Context, Enum, InputObject, Object, ResultExt};
use chrono::{DateTime, Utc};

use super::types::{Driver, Ride};
use crate::{dispatch::live, domain};

/// A ride's outstanding offer (the ride it belongs to).
pub struct Offer(pub Arc<domain::Ride>);

impl Offer {
    fn offer(&self) -> async_graphql::Result<&domain::Offer> {
        self.0
            .offer
            .as_ref()
            .ok_or_else(|| "the offer has ended".into())
    }
}

/// A ride offered to one driver, waiting for `acceptOffer` or
/// `declineOffer` until `expiresAt`; then the next nearest driver is
/// offered it.
#[Object]
impl Offer {
    /// The ride offered.
    async fn ride(&self) -> Ride {
        Ride(self.0.clone())
    }

    /// The driver it is offered to, as it is now.
    async fn driver(&self, ctx: &Context<'_>) -> async_graphql::Result<Driver> {
        let id = self.offer()?.driver.clone();
        let drivers = ctx.data::<DataLoader<super::loaders::Drivers>>()?;
        let driver = drivers.load_one(id.clone()).await.extend()?;
        Ok(Driver(
            driver.unwrap_or_else(|| domain::Driver::unknown(id)),
        ))
    }

    /// The driver's distance to the pickup when offered, in km.
    async fn distance_km(&self) -> async_graphql::Result<f64> {
        Ok(self.offer()?.distance_km)
    }

    /// When the offer was made.
    async fn offered_at(&self) -> async_graphql::Result<DateTime<Utc>> {
        Ok(self.offer()?.made_at)
    }

    /// After this the offer has timed out: an answer gets `CONFLICT`.
    async fn expires_at(&self) -> async_graphql::Result<DateTime<Utc>> {
        Ok(self.offer()?.expires_at)
    }
}

/// How an offer ended.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::OfferEndReason")]
pub enum OfferEndReason {
    /// The driver accepted: the ride is DRIVER_FOUND, the driver ASSIGNED.
    Accepted,
    /// The driver declined (or went offline): it is never offered the ride again.
    Declined,
    /// No answer before `expiresAt`: the ride goes to the next driver.
    TimedOut,
    /// The ride ended meanwhile: cancelled by its rider, or expired.
    Withdrawn,
}

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
        Driver((**self.0.driver()).clone())
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

/// A point given as input.
#[derive(InputObject)]
pub struct LocationInput {
    /// Latitude in degrees, within ±85.05112878.
    pub lat: f64,
    /// Longitude in degrees, within ±180.
    pub lng: f64,
}
