//! The API's operations, typed.

use serde_json::json;

use crate::{
    types::fields::{DRIVER, RIDE},
    Client, Driver, Location, LocationBatch, NearbyDriver, Report, Result, Ride,
};

impl Client {
    /// Records a driver's position (`updateLocation`).
    pub async fn update_location(&self, driver: &str, lat: f64, lng: f64) -> Result<Driver> {
        self.field(
            "updateLocation",
            &format!("mutation($d: ID!, $lat: Float!, $lng: Float!) {{ updateLocation(driverId: $d, lat: $lat, lng: $lng) {{ {DRIVER} }} }}"),
            json!({"d": driver, "lat": lat, "lng": lng}),
        )
        .await
    }

    /// Records many positions in one call (`updateLocations`, up to 1,000).
    pub async fn update_locations(&self, reports: &[Report]) -> Result<LocationBatch> {
        self.field(
            "updateLocations",
            "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted stale refused { index driverId code message } } }",
            json!({"u": reports}),
        )
        .await
    }

    /// Takes a driver off the market (`goOffline`).
    pub async fn go_offline(&self, driver: &str) -> Result<Driver> {
        self.field(
            "goOffline",
            &format!("mutation($d: ID!) {{ goOffline(driverId: $d) {{ {DRIVER} }} }}"),
            json!({"d": driver}),
        )
        .await
    }

    /// Asks for a driver near a pickup (`requestDriver`).
    pub async fn request_driver(&self, rider: &str, lat: f64, lng: f64) -> Result<Ride> {
        self.request_driver_once(rider, lat, lng, None).await
    }

    /// Asks for a driver near a pickup, saying where the rider is going.
    pub async fn request_driver_to(
        &self,
        rider: &str,
        pickup: Location,
        dropoff: Location,
    ) -> Result<Ride> {
        self.field(
            "requestDriver",
            &format!("mutation($r: ID!, $lat: Float!, $lng: Float!, $to: LocationInput) {{ requestDriver(riderId: $r, lat: $lat, lng: $lng, dropoff: $to) {{ {RIDE} }} }}"),
            json!({"r": rider, "lat": pickup.lat, "lng": pickup.lng, "to": dropoff}),
        )
        .await
    }

    /// Asks for a driver, with an idempotency key: a retry with the same key
    /// returns the same ride.
    pub async fn request_driver_once(
        &self,
        rider: &str,
        lat: f64,
        lng: f64,
        idempotency_key: Option<&str>,
    ) -> Result<Ride> {
        self.field(
            "requestDriver",
            &format!("mutation($r: ID!, $lat: Float!, $lng: Float!, $k: String) {{ requestDriver(riderId: $r, lat: $lat, lng: $lng, idempotencyKey: $k) {{ {RIDE} }} }}"),
            json!({"r": rider, "lat": lat, "lng": lng, "k": idempotency_key}),
        )
        .await
    }

    /// Cancels a ride (`cancelRequest`).
    pub async fn cancel_request(&self, ride: &str) -> Result<Ride> {
        self.ride_change("cancelRequest", ride).await
    }

    /// Completes a ride (`completeRide`).
    pub async fn complete_ride(&self, ride: &str) -> Result<Ride> {
        self.ride_change("completeRide", ride).await
    }

    /// Accepts the ride's offer (`acceptOffer`).
    pub async fn accept_offer(&self, ride: &str) -> Result<Ride> {
        self.ride_change("acceptOffer", ride).await
    }

    /// Declines the ride's offer (`declineOffer`).
    pub async fn decline_offer(&self, ride: &str) -> Result<Ride> {
        self.ride_change("declineOffer", ride).await
    }

    /// The driver waits at the pickup (`driverArrived`).
    pub async fn driver_arrived(&self, ride: &str) -> Result<Ride> {
        self.ride_change("driverArrived", ride).await
    }

    /// The rider is on board (`startTrip`).
    pub async fn start_trip(&self, ride: &str) -> Result<Ride> {
        self.ride_change("startTrip", ride).await
    }

    async fn ride_change(&self, operation: &str, ride: &str) -> Result<Ride> {
        self.field(
            operation,
            &format!("mutation($id: ID!) {{ {operation}(rideId: $id) {{ {RIDE} }} }}"),
            json!({"id": ride}),
        )
        .await
    }

    /// A ride, or `None` when there is none.
    pub async fn ride(&self, id: &str) -> Result<Option<Ride>> {
        self.field(
            "ride",
            &format!("query($id: ID!) {{ ride(id: $id) {{ {RIDE} }} }}"),
            json!({"id": id}),
        )
        .await
    }

    /// A driver, or `None` when it never reported.
    pub async fn driver(&self, id: &str) -> Result<Option<Driver>> {
        self.field(
            "driver",
            &format!("query($id: ID!) {{ driver(id: $id) {{ {DRIVER} }} }}"),
            json!({"id": id}),
        )
        .await
    }

    /// Available drivers near a point, nearest first (`nearbyDrivers`).
    pub async fn nearby_drivers(
        &self,
        lat: f64,
        lng: f64,
        radius_km: f64,
        limit: u32,
    ) -> Result<Vec<NearbyDriver>> {
        self.field(
            "nearbyDrivers",
            &format!("query($lat: Float!, $lng: Float!, $r: Float, $n: Int) {{ nearbyDrivers(lat: $lat, lng: $lng, radiusKm: $r, limit: $n) {{ distanceKm driver {{ {DRIVER} }} }} }}"),
            json!({"lat": lat, "lng": lng, "r": radius_km, "n": limit}),
        )
        .await
    }
}
