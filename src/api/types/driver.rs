//! A driver in GraphQL: where it is and whether it can be matched, found
//! near a point, and what became of its position reports.

use async_graphql::{Context, Enum, Object, ResultExt, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{inputs::LocationUpdate, location::Location};
use crate::domain;

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

/// A driver, and (in a `driverLocation` event) its time to the pickup.
pub struct Driver(pub domain::Driver, pub Option<domain::Eta>);

impl From<domain::Driver> for Driver {
    fn from(driver: domain::Driver) -> Self {
        Driver(driver, None)
    }
}

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

    /// In a `driverLocation` event while the ride is DRIVER_FOUND: the
    /// driver's time to the pickup from where it is now, in seconds (by
    /// road when the service has roads, else the straight-line estimate),
    /// recomputed at most once a second. Null anywhere else.
    async fn pickup_eta_seconds(&self) -> Option<i32> {
        self.1.map(|e| i32::try_from(e.seconds).unwrap_or(i32::MAX))
    }
}

/// A driver found near a point (the point searched from).
pub struct NearbyDriver(pub domain::NearbyDriver, pub domain::Coordinates);

/// A driver found near a point, with its distance and time to it.
#[Object]
impl NearbyDriver {
    /// The driver.
    async fn driver(&self) -> Driver {
        Driver::from(self.0.driver.clone())
    }

    /// Great-circle distance from the searched point, in km.
    async fn distance_km(&self) -> f64 {
        self.0.distance_km
    }

    /// The driver's time to the searched point, in seconds: by road when
    /// the service has roads there (`etaSource: ROADS`), else the
    /// straight-line estimate.
    #[graphql(complexity = 2)]
    async fn eta_seconds(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(i32::try_from(self.eta(ctx).await?.seconds).unwrap_or(i32::MAX))
    }

    /// How `etaSeconds` was made.
    #[graphql(complexity = 2)]
    async fn eta_source(&self, ctx: &Context<'_>) -> async_graphql::Result<EtaSource> {
        Ok(self.eta(ctx).await?.source.into())
    }
}

impl NearbyDriver {
    /// Its time to the point: as listed by time, or computed now.
    async fn eta(&self, ctx: &Context<'_>) -> async_graphql::Result<domain::Eta> {
        if let Some(eta) = self.0.eta {
            return Ok(eta);
        }
        let from = self.0.driver.location.unwrap_or(self.1);
        let dispatcher = ctx.data::<crate::dispatch::Dispatcher>()?;
        dispatcher.eta(from, self.1).await.extend()
    }
}

/// How a time to a point was made.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::EtaSource")]
pub enum EtaSource {
    /// Along the road network (shortest time; no turn restrictions, no
    /// time-of-day speeds).
    Roads,
    /// From the straight-line distance, times a detour factor, at the
    /// area's straight-line speed: the service has no roads there, an end
    /// is off the network, or no road joins them.
    StraightLine,
}

/// How `nearbyDrivers` orders the drivers it lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(remote = "crate::dispatch::NearbyOrder")]
pub enum NearbyOrder {
    /// Nearest first, in a straight line (the seed's order).
    #[default]
    Distance,
    /// Fastest to the point first, by road time (the order a search
    /// ranks by); among the nearest 16 (or `limit`) drivers.
    Eta,
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
    pub(in crate::api) fn new(
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
