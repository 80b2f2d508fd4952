//! The GraphQL output types: thin views over the domain types.

use std::sync::Arc;

use async_graphql::{
    dataloader::DataLoader, Context, Enum, InputObject, Object, ResultExt, SimpleObject, ID,
};
use chrono::{DateTime, Utc};

use crate::{dispatch::Dispatcher, domain};

pub struct Location(pub domain::Coordinates);

/// A point on Earth in degrees (WGS 84).
#[Object]
impl Location {
    /// Latitude in degrees, within ±85.05112878.
    async fn lat(&self) -> f64 {
        self.0.lat()
    }

    /// Longitude in degrees, within ±180.
    async fn lng(&self) -> f64 {
        self.0.lng()
    }
}

/// Whether a driver can be matched.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "DriverStatus", remote = "crate::domain::DriverStatus")]
pub enum DriverStatus {
    /// Reporting its position and free: listed and matched.
    Available,
    /// Holds an offer of a ride, waiting for its answer: not listed, and no
    /// other ride reaches it meanwhile.
    Offered,
    /// Owned by a ride until the ride is completed or cancelled.
    Assigned,
    /// Went offline, or has not reported within the driver TTL.
    Offline,
}

pub struct Driver(pub domain::Driver);

/// A driver and its last reported position.
#[Object]
impl Driver {
    /// The driver's id, as the operator's systems name it.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Whether the driver can be matched now.
    async fn status(&self) -> DriverStatus {
        self.0.status.into()
    }

    /// The last reported position.
    async fn location(&self) -> Option<Location> {
        self.0.location.map(Location)
    }

    /// When the driver last reported its position.
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.updated_at
    }

    /// The ride that owns the driver while it is ASSIGNED, or that it is
    /// offered while OFFERED (for the driver itself and dispatchers).
    async fn ride_id(&self) -> Option<ID> {
        self.0.ride_id.as_ref().map(|id| ID(id.to_string()))
    }
}

pub struct NearbyDriver(pub domain::NearbyDriver);

/// A driver found near a point, with its distance.
#[Object]
impl NearbyDriver {
    /// The driver.
    async fn driver(&self) -> Driver {
        Driver(self.0.driver.clone())
    }

    /// Great-circle distance from the searched point, in km.
    async fn distance_km(&self) -> f64 {
        self.0.distance_km
    }
}

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
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<super::areas::Area> {
        let areas = ctx.data::<Dispatcher>()?.areas();
        areas
            .of_ride(&self.0.id)
            .or_else(|| areas.locate(self.0.pickup))
            .cloned()
            .map(super::areas::Area)
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
        let Some(id) = dispatcher.driver_to_show(super::caller(ctx), &self.0) else {
            return Ok(None);
        };
        // Batched: a fleet snapshot's thousands of rides read their drivers
        // in one store call, not one each.
        let drivers = ctx.data::<DataLoader<super::loaders::Drivers>>()?;
        Ok(drivers.load_one(id.clone()).await.extend()?.map(Driver))
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
    async fn offer(&self, ctx: &Context<'_>) -> Option<super::offers::Offer> {
        let offer = self.0.offer.as_ref()?;
        crate::dispatch::access::may_see_offer(super::caller(ctx), &offer.driver)
            .then(|| super::offers::Offer(self.0.clone()))
    }

    /// How the last offer that ended ended (for dispatchers and that
    /// driver; null for everyone else).
    async fn last_offer_end(&self, ctx: &Context<'_>) -> Option<super::offers::OfferEndReason> {
        let end = self.0.offer_end.as_ref()?;
        crate::dispatch::access::may_see_offer(super::caller(ctx), &end.driver)
            .then(|| end.reason.into())
    }

    /// When a driver was assigned (the ride became DRIVER_FOUND), on the
    /// service's clock, as `createdAt` is: `matchedAt - createdAt` is how
    /// long the ride waited for its driver. Null until then.
    async fn matched_at(&self) -> Option<DateTime<Utc>> {
        self.0.matched_at
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

/// What a `fleet` event is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum FleetEventKind {
    /// Everything in the area now (`drivers` and `rides` filled). The first
    /// event, and again after the subscriber fell behind (`resync`).
    Snapshot,
    /// One driver moved or changed status (`drivers` holds it). A driver
    /// that just left the area is sent once more, so maps can drop it.
    Driver,
    /// One ride changed status (`rides` holds it).
    Ride,
    /// Every driver and ride that changed since the last event, each as it
    /// is now (`drivers` and `rides`), gathered over the service's
    /// `--fleet-interval` (250 ms by default) and sent instead of DRIVER
    /// and RIDE events. Drivers that just left the area are among them,
    /// once, so maps can drop them.
    Changes,
}

/// A change in a watched area. Start from the first event (a SNAPSHOT),
/// then apply each CHANGES event (or DRIVER and RIDE events, on a service
/// run with `--fleet-interval 0s`); a SNAPSHOT arriving later replaces the
/// whole picture.
pub struct FleetEvent(pub crate::dispatch::live::FleetEvent);

/// A change in a watched area (see `FleetEventKind`).
#[Object]
impl FleetEvent {
    /// What this event carries.
    async fn kind(&self) -> FleetEventKind {
        use crate::dispatch::live::FleetEvent as E;
        match &self.0 {
            E::Snapshot { .. } => FleetEventKind::Snapshot,
            E::Driver(_) => FleetEventKind::Driver,
            E::Ride(_) => FleetEventKind::Ride,
            E::Changes { .. } => FleetEventKind::Changes,
        }
    }

    /// SNAPSHOT: the available drivers in the area and the drivers its
    /// active rides are assigned or offered to. DRIVER: the driver that
    /// changed. CHANGES: the drivers that changed. RIDE: empty.
    async fn drivers(&self) -> Vec<Driver> {
        use crate::dispatch::live::FleetEvent as E;
        match &self.0 {
            E::Snapshot { area, .. } => area.drivers.iter().cloned().map(Driver).collect(),
            E::Driver(driver) => vec![Driver((**driver).clone())],
            E::Changes { drivers, .. } => drivers.iter().map(|d| Driver((**d).clone())).collect(),
            E::Ride(_) => Vec::new(),
        }
    }

    /// SNAPSHOT: the rides not ended (SEARCHING, DRIVER_FOUND, ARRIVED,
    /// IN_PROGRESS) with their pickup in the area. RIDE: the ride that
    /// changed (its status, or an offer made or ended). CHANGES: the rides
    /// that changed. DRIVER: empty.
    async fn rides(&self) -> Vec<Ride> {
        use crate::dispatch::live::FleetEvent as E;
        match &self.0 {
            E::Snapshot { area, .. } => area.rides.iter().cloned().map(Ride).collect(),
            E::Ride(ride) => vec![Ride(ride.clone())],
            E::Changes { rides, .. } => rides.iter().cloned().map(Ride).collect(),
            E::Driver(_) => Vec::new(),
        }
    }

    /// True on a SNAPSHOT sent because this subscriber fell behind and
    /// events were skipped.
    async fn resync(&self) -> bool {
        matches!(
            self.0,
            crate::dispatch::live::FleetEvent::Snapshot { resync: true, .. }
        )
    }
}

/// One position report in `updateLocations`.
#[derive(InputObject)]
pub struct LocationUpdate {
    /// The driver.
    pub driver_id: ID,
    /// Latitude in degrees, within ±85.05112878.
    pub lat: f64,
    /// Longitude in degrees, within ±180.
    pub lng: f64,
    /// When the position was taken (default: now). A report older than the
    /// driver's stored position is ignored.
    pub at: Option<DateTime<Utc>>,
}

impl LocationUpdate {
    pub(super) fn report(&self) -> Result<crate::domain::LocationReport, crate::error::Error> {
        Ok(crate::domain::LocationReport {
            driver: domain::DriverId::parse(&self.driver_id)?,
            at: domain::Coordinates::parse(self.lat, self.lng)?,
            taken_at: self.at.unwrap_or_else(Utc::now),
        })
    }
}

/// What became of an `updateLocations` call.
#[derive(SimpleObject)]
pub struct LocationBatch {
    /// Reports stored.
    pub accepted: i32,
    /// Reports ignored because they were older than the stored position.
    pub stale: i32,
    /// Reports refused, each with its reason.
    pub refused: Vec<RefusedUpdate>,
}

/// A report `updateLocations` refused; nothing changed for it.
#[derive(SimpleObject)]
pub struct RefusedUpdate {
    /// Its position in `updates`.
    pub index: i32,
    /// The driver it was for.
    pub driver_id: ID,
    /// Machine-readable reason, as in `extensions.code` (`TOO_MANY_REQUESTS`, `BAD_USER_INPUT`).
    pub code: String,
    /// Why.
    pub message: String,
}

impl LocationBatch {
    pub(super) fn new(
        updates: &[LocationUpdate],
        outcomes: Vec<crate::domain::ReportOutcome>,
    ) -> Self {
        use crate::domain::ReportOutcome;
        let mut batch = Self {
            accepted: 0,
            stale: 0,
            refused: Vec::new(),
        };
        for (index, (update, outcome)) in updates.iter().zip(outcomes).enumerate() {
            match outcome {
                ReportOutcome::Accepted => batch.accepted += 1,
                ReportOutcome::Stale => batch.stale += 1,
                // Resolved by the store of areas before it answers.
                ReportOutcome::Elsewhere => batch.refused.push(RefusedUpdate {
                    index: i32::try_from(index).unwrap_or(i32::MAX),
                    driver_id: update.driver_id.clone(),
                    code: "INTERNAL".to_owned(),
                    message: "the report reached no area".to_owned(),
                }),
                ReportOutcome::Refused(error) => batch.refused.push(RefusedUpdate {
                    index: i32::try_from(index).unwrap_or(i32::MAX),
                    driver_id: update.driver_id.clone(),
                    code: error.code().to_owned(),
                    message: error.to_string(),
                }),
            }
        }
        batch
    }
}
