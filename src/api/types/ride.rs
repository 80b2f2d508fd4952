//! A ride in GraphQL: where it stands, its driver and area, and the offer
//! waiting for a driver's answer.

use std::sync::Arc;

use async_graphql::{dataloader::DataLoader, Context, Enum, Object, ResultExt, ID};
use chrono::{DateTime, Utc};

use super::{
    area::Area,
    driver::{Driver, EtaSource},
    location::Location,
};
use crate::{
    api::{context::caller, loaders::Drivers},
    dispatch::{access::may_see_offer, Dispatcher},
    domain,
};

/// Where a ride stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "RideStatus", remote = "crate::domain::RideStatus")]
pub enum RideStatus {
    /// Looking for the nearest available driver (offering the ride to one
    /// driver at a time, when offers are on).
    Searching,
    /// A driver is assigned and on its way to the pickup.
    DriverFound,
    /// The driver waits at the pickup.
    Arrived,
    /// The rider is on board; the trip to the dropoff is under way. Cannot
    /// be cancelled.
    InProgress,
    /// Cancelled by the rider (from SEARCHING, DRIVER_FOUND or ARRIVED). Terminal.
    Cancelled,
    /// No driver was found before the request timed out. Terminal.
    Expired,
    /// The driver completed the ride (from DRIVER_FOUND, ARRIVED or
    /// IN_PROGRESS). Terminal.
    Completed,
}

pub struct Ride(pub Arc<domain::Ride>);

/// A rider's request for a driver, and what became of it.
#[Object]
impl Ride {
    /// The ride's id, handed out by the service.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The rider who asked for the ride.
    async fn rider_id(&self) -> ID {
        ID(self.0.rider_id.to_string())
    }

    /// Where the rider waits.
    async fn pickup(&self) -> Location {
        Location(self.0.pickup)
    }

    /// The service area the ride belongs to (that of its pickup).
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<Area> {
        let areas = ctx.data::<Dispatcher>()?.areas();
        areas
            .of_ride(&self.0.id)
            .or_else(|| areas.locate(self.0.pickup))
            .cloned()
            .map(Area)
            .ok_or_else(|| "the ride's area is no longer served".into())
    }

    /// Where the rider is going, if the request said.
    async fn dropoff(&self) -> Option<Location> {
        self.0.dropoff.map(Location)
    }

    /// Where the ride stands.
    async fn status(&self) -> RideStatus {
        self.0.status.into()
    }

    /// The id of the driver assigned to the ride (set once a driver is
    /// found; kept after the ride ends).
    async fn driver_id(&self) -> Option<ID> {
        self.0.driver_id.as_ref().map(|id| ID(id.to_string()))
    }

    /// The assigned driver as it is now (set once a driver is found). Once
    /// the ride has ended, null for everyone but dispatchers: a past ride
    /// does not follow its driver.
    async fn driver(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Driver>> {
        let dispatcher = ctx.data::<Dispatcher>()?;
        let Some(id) = dispatcher.driver_to_show(caller(ctx), &self.0) else {
            return Ok(None);
        };
        // Batched: a fleet snapshot's thousands of rides read their drivers
        // in one store call, not one each.
        let drivers = ctx.data::<DataLoader<Drivers>>()?;
        Ok(drivers
            .load_one(id.clone())
            .await
            .extend()?
            .map(Driver::from))
    }

    /// The driver's distance to the pickup when it was matched, in km.
    async fn distance_km(&self) -> Option<f64> {
        self.0.distance_km
    }

    /// How many searches have run so far.
    async fn searches(&self) -> i32 {
        i32::try_from(self.0.searches).unwrap_or(i32::MAX)
    }

    /// When the ride was requested.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the search gives up: a ride still SEARCHING then becomes EXPIRED.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    /// The outstanding offer, while one waits for its answer. For
    /// dispatchers and the driver offered; null for everyone else (a rider
    /// never learns who was offered its ride).
    async fn offer(&self, ctx: &Context<'_>) -> Option<Offer> {
        let offer = self.0.offer.as_ref()?;
        may_see_offer(caller(ctx), &offer.driver).then(|| Offer(self.0.clone()))
    }

    /// How the last offer that ended ended (for dispatchers and that
    /// driver; null for everyone else).
    async fn last_offer_end(&self, ctx: &Context<'_>) -> Option<OfferEndReason> {
        let end = self.0.offer_end.as_ref()?;
        may_see_offer(caller(ctx), &end.driver).then(|| end.reason.into())
    }

    /// When a driver was assigned (the ride became DRIVER_FOUND), on the
    /// service's clock, as `createdAt` is: `matchedAt - createdAt` is how
    /// long the ride waited for its driver. Null until then.
    async fn matched_at(&self) -> Option<DateTime<Utc>> {
        self.0.matched_at
    }

    /// The driver's time to the pickup in seconds, as computed when it
    /// was matched (at `matchedAt`): by road when the service has roads
    /// (see `etaSource`), else the straight-line estimate. Null until then.
    async fn pickup_eta_seconds(&self) -> Option<i32> {
        let eta = self.0.pickup_eta?;
        Some(i32::try_from(eta.seconds).unwrap_or(i32::MAX))
    }

    /// The length of the driver's way to the pickup when it was matched,
    /// in km (by road, or the straight line times the detour factor).
    async fn pickup_road_km(&self) -> Option<f64> {
        self.0.pickup_eta.map(|e| e.road_km)
    }

    /// How `pickupEtaSeconds` was made.
    async fn eta_source(&self) -> Option<EtaSource> {
        self.0.pickup_eta.map(|e| e.source.into())
    }

    /// While DRIVER_FOUND, the road route from where the driver is now to
    /// the pickup, for drawing (at most 200 points). Null otherwise,
    /// without roads there, when no road joins them, or for a caller who
    /// may not see the driver.
    #[graphql(complexity = 5)]
    async fn pickup_route(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<Location>>> {
        let dispatcher = ctx.data::<Dispatcher>()?;
        if self.0.status != domain::RideStatus::DriverFound {
            return Ok(None);
        }
        let Some(id) = dispatcher.driver_to_show(caller(ctx), &self.0) else {
            return Ok(None);
        };
        let drivers = ctx.data::<DataLoader<Drivers>>()?;
        let driver = drivers.load_one(id.clone()).await.extend()?;
        let Some(from) = driver.and_then(|d| d.location) else {
            return Ok(None);
        };
        let route = dispatcher.route(from, self.0.pickup).await.extend()?;
        Ok(route.map(|points| points.into_iter().map(Location).collect()))
    }

    /// When the driver arrived at the pickup.
    async fn arrived_at(&self) -> Option<DateTime<Utc>> {
        self.0.arrived_at
    }

    /// When the trip started.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }

    /// When the ride ended (completed, cancelled or expired).
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
}

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
        let drivers = ctx.data::<DataLoader<Drivers>>()?;
        let driver = drivers.load_one(id.clone()).await.extend()?;
        Ok(Driver::from(
            driver.unwrap_or_else(|| domain::Driver::unknown(id)),
        ))
    }

    /// The driver's distance to the pickup when offered, in km.
    async fn distance_km(&self) -> async_graphql::Result<f64> {
        Ok(self.offer()?.distance_km)
    }

    /// The driver's time to the pickup when offered, in seconds (by road
    /// when the service has roads, else the straight-line estimate).
    async fn eta_seconds(&self) -> async_graphql::Result<Option<i32>> {
        let eta = self.offer()?.eta;
        Ok(eta.map(|e| i32::try_from(e.seconds).unwrap_or(i32::MAX)))
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
