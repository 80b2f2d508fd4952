//! The API's operations, typed.

use serde_json::json;

use crate::{
    documents, Client, Driver, Location, LocationBatch, NearbyDriver, Report, Result, Ride,
};

impl Client {
    /// Records a driver's position (`updateLocation`).
    pub async fn update_location(&self, driver: &str, lat: f64, lng: f64) -> Result<Driver> {
        self.field(
            "updateLocation",
            &documents::UPDATE_LOCATION,
            json!({"d": driver, "lat": lat, "lng": lng}),
        )
        .await
    }

    /// Records many positions in one call (`updateLocations`, up to 1,000).
    pub async fn update_locations(&self, reports: &[Report]) -> Result<LocationBatch> {
        self.field(
            "updateLocations",
            &documents::UPDATE_LOCATIONS,
            json!({"u": reports}),
        )
        .await
    }

    /// Takes a driver off the market (`goOffline`).
    pub async fn go_offline(&self, driver: &str) -> Result<Driver> {
        self.field("goOffline", &documents::GO_OFFLINE, json!({"d": driver}))
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
            &documents::REQUEST_DRIVER_TO,
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
            &documents::REQUEST_DRIVER,
            json!({"r": rider, "lat": lat, "lng": lng, "k": idempotency_key}),
        )
        .await
    }

    /// Cancels a ride (`cancelRequest`).
    pub async fn cancel_request(&self, ride: &str) -> Result<Ride> {
        self.ride_change("cancelRequest", &documents::CANCEL_REQUEST, ride)
            .await
    }

    /// Completes a ride (`completeRide`).
    pub async fn complete_ride(&self, ride: &str) -> Result<Ride> {
        self.ride_change("completeRide", &documents::COMPLETE_RIDE, ride)
            .await
    }

    /// Accepts the ride's offer (`acceptOffer`).
    pub async fn accept_offer(&self, ride: &str) -> Result<Ride> {
        self.ride_change("acceptOffer", &documents::ACCEPT_OFFER, ride)
            .await
    }

    /// Declines the ride's offer (`declineOffer`).
    pub async fn decline_offer(&self, ride: &str) -> Result<Ride> {
        self.ride_change("declineOffer", &documents::DECLINE_OFFER, ride)
            .await
    }

    /// The driver waits at the pickup (`driverArrived`).
    pub async fn driver_arrived(&self, ride: &str) -> Result<Ride> {
        self.ride_change("driverArrived", &documents::DRIVER_ARRIVED, ride)
            .await
    }

    /// The rider is on board (`startTrip`).
    pub async fn start_trip(&self, ride: &str) -> Result<Ride> {
        self.ride_change("startTrip", &documents::START_TRIP, ride)
            .await
    }

    async fn ride_change(&self, operation: &str, document: &str, ride: &str) -> Result<Ride> {
        self.field(operation, document, json!({"id": ride})).await
    }

    /// A ride, or `None` when there is none.
    pub async fn ride(&self, id: &str) -> Result<Option<Ride>> {
        self.field("ride", &documents::RIDE_QUERY, json!({"id": id}))
            .await
    }

    /// A driver, or `None` when it never reported.
    pub async fn driver(&self, id: &str) -> Result<Option<Driver>> {
        self.field("driver", &documents::DRIVER_QUERY, json!({"id": id}))
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
            &documents::NEARBY_DRIVERS,
            json!({"lat": lat, "lng": lng, "r": radius_km, "n": limit}),
        )
        .await
    }
}
