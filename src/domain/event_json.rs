//! An event as the sinks send it: JSON with the field names the GraphQL
//! types carry (documented in `docs/events.md`; `v` says the format).
//!
//! ```json
//! {"id": "north:k3x9q2:1764856800123-0", "v": 1, "type": "DRIVER_FOUND",
//!  "at": "2026-12-04T14:00:00.123Z", "rideId": "north:k3x9q2.17",
//!  "driverId": "d-17", "riderId": "r-4", "reason": null,
//!  "ride": {"id": …, "status": "DRIVER_FOUND", …}, "driver": null}
//! ```

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{Coordinates, Driver, Event, Ride, EVENT_FORMAT_VERSION};

fn time(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(time).unwrap_or(Value::Null)
}

fn location(c: Coordinates) -> Value {
    json!({"lat": c.lat(), "lng": c.lng()})
}

/// A ride with the fields of the GraphQL `Ride` type that are stored (not
/// those computed for a caller: `area`, `driver`, `pickupRoute`).
pub fn ride_json(r: &Ride) -> Value {
    json!({
        "id": r.id.as_str(),
        "riderId": r.rider_id.as_str(),
        "pickup": location(r.pickup),
        "dropoff": r.dropoff.map(location),
        "status": r.status.as_str(),
        "driverId": r.driver_id.as_ref().map(|d| d.as_str()),
        "distanceKm": r.distance_km,
        "searches": r.searches,
        "createdAt": time(r.created_at),
        "expiresAt": time(r.expires_at),
        "offer": r.offer.as_ref().map(|o| json!({
            "driverId": o.driver.as_str(),
            "distanceKm": o.distance_km,
            "etaSeconds": o.eta.map(|e| e.seconds),
            "offeredAt": time(o.made_at),
            "expiresAt": time(o.expires_at),
        })),
        "lastOfferEnd": r.offer_end.as_ref().map(|e| e.reason.as_str()),
        "matchedAt": opt_time(r.matched_at),
        "pickupEtaSeconds": r.pickup_eta.map(|e| e.seconds),
        "pickupRoadKm": r.pickup_eta.map(|e| e.road_km),
        "etaSource": r.pickup_eta.map(|e| e.source.as_str()),
        "arrivedAt": opt_time(r.arrived_at),
        "startedAt": opt_time(r.started_at),
        "endedAt": opt_time(r.ended_at),
        "revision": r.revision,
    })
}

/// A driver with the fields of the GraphQL `Driver` type.
pub fn driver_json(d: &Driver) -> Value {
    json!({
        "id": d.id.as_str(),
        "status": d.status.as_str(),
        "location": d.location.map(location),
        "updatedAt": opt_time(d.updated_at),
        "rideId": d.ride_id.as_ref().map(|r| r.as_str()),
    })
}

impl Event {
    /// The event as sinks send it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "v": EVENT_FORMAT_VERSION,
            "type": self.kind.as_str(),
            "at": time(self.at),
            "rideId": self.ride_id.as_ref().map(|r| r.as_str()),
            "driverId": self.driver_id.as_ref().map(|d| d.as_str()),
            "riderId": self.rider_id.as_ref().map(|r| r.as_str()),
            "reason": self.reason.map(|r| r.as_str()),
            "ride": self.ride.as_deref().map(ride_json),
            "driver": self.driver.as_deref().map(driver_json),
        })
    }
}
