//! The API's objects, as the typed methods return them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A point on Earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
}

/// Whether a driver can be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DriverStatus {
    Available,
    Offered,
    Assigned,
    Offline,
    /// A status this client does not know yet (a newer service).
    #[serde(other)]
    Other,
}

/// Where a ride stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RideStatus {
    Searching,
    DriverFound,
    Arrived,
    InProgress,
    Cancelled,
    Expired,
    Completed,
    /// A status this client does not know yet (a newer service).
    #[serde(other)]
    Other,
}

impl RideStatus {
    /// A terminal status never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled | Self::Expired | Self::Completed)
    }
}

/// A driver, as the typed methods select it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    pub id: String,
    pub status: DriverStatus,
    pub location: Option<Location>,
    pub updated_at: Option<DateTime<Utc>>,
    pub ride_id: Option<String>,
}

/// A ride, as the typed methods select it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ride {
    pub id: String,
    pub rider_id: String,
    pub status: RideStatus,
    pub pickup: Location,
    pub dropoff: Option<Location>,
    pub driver_id: Option<String>,
    pub driver: Option<Driver>,
    pub distance_km: Option<f64>,
    pub searches: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The outstanding offer (shown to dispatchers and the driver offered).
    pub offer: Option<Offer>,
}

/// A ride's outstanding offer to one driver.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub distance_km: f64,
    pub offered_at: DateTime<Utc>,
    /// After this, an answer is refused (`CONFLICT`).
    pub expires_at: DateTime<Utc>,
}

/// How an offer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfferEndReason {
    Accepted,
    Declined,
    TimedOut,
    Withdrawn,
    #[serde(other)]
    Other,
}

/// What a `driverFeed` event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FeedKind {
    State,
    Offer,
    OfferEnded,
    Ride,
    #[serde(other)]
    Other,
}

/// An event of a driver's own feed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FeedEvent {
    pub kind: FeedKind,
    pub driver: Driver,
    /// STATE and OFFER: the offer held (its ride is `ride`).
    pub offer: Option<Offer>,
    /// The ride concerned (STATE: the ride assigned, or offered).
    pub ride: Option<Ride>,
    /// OFFER_ENDED: how.
    pub reason: Option<OfferEndReason>,
}

/// A driver near a point.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NearbyDriver {
    pub distance_km: f64,
    pub driver: Driver,
}

/// One report of a batch (`updateLocations`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub driver_id: String,
    pub lat: f64,
    pub lng: f64,
    /// When the position was taken (default: when the service receives it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// What became of a batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LocationBatch {
    pub accepted: u32,
    pub stale: u32,
    pub refused: Vec<serde_json::Value>,
}

/// What a `fleet` event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FleetEventKind {
    Snapshot,
    Driver,
    Ride,
    /// The drivers and rides that changed over the service's
    /// `--fleet-interval`, each as it is now.
    Changes,
    #[serde(other)]
    Other,
}

/// A change in a watched area.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FleetEvent {
    pub kind: FleetEventKind,
    pub resync: bool,
    pub drivers: Vec<Driver>,
    pub rides: Vec<Ride>,
}
