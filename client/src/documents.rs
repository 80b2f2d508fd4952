//! Every document the typed methods send, spelled once, so that a service
//! that runs only trusted documents (`--only-persisted`) can be given the
//! whole list: `tracking persisted-documents` prints it with the
//! dashboard's.

use std::sync::LazyLock;

/// The selections the typed methods read, spelled once.
pub(crate) const DRIVER: &str = "id status location { lat lng } updatedAt rideId";
pub(crate) const RIDE: &str = "id riderId status pickup { lat lng } dropoff { lat lng } driverId driver { id status location { lat lng } updatedAt rideId } distanceKm searches createdAt expiresAt arrivedAt startedAt endedAt offer { distanceKm offeredAt expiresAt }";
pub(crate) const OFFER: &str = "distanceKm offeredAt expiresAt";

macro_rules! documents {
    ($($name:ident = $format:literal;)*) => {
        $(
            pub(crate) static $name: LazyLock<String> = LazyLock::new(|| format!($format));
        )*
        /// Every document the typed methods send.
        pub fn all() -> Vec<&'static str> {
            vec![$($name.as_str()),*]
        }
    };
}

documents! {
    UPDATE_LOCATION = "mutation($d: ID!, $lat: Float!, $lng: Float!) {{ updateLocation(driverId: $d, lat: $lat, lng: $lng) {{ {DRIVER} }} }}";
    UPDATE_LOCATIONS = "mutation($u: [LocationUpdate!]!) {{ updateLocations(updates: $u) {{ accepted stale refused {{ index driverId code message }} }} }}";
    GO_OFFLINE = "mutation($d: ID!) {{ goOffline(driverId: $d) {{ {DRIVER} }} }}";
    REQUEST_DRIVER_TO = "mutation($r: ID!, $lat: Float!, $lng: Float!, $to: LocationInput) {{ requestDriver(riderId: $r, lat: $lat, lng: $lng, dropoff: $to) {{ {RIDE} }} }}";
    REQUEST_DRIVER = "mutation($r: ID!, $lat: Float!, $lng: Float!, $k: String) {{ requestDriver(riderId: $r, lat: $lat, lng: $lng, idempotencyKey: $k) {{ {RIDE} }} }}";
    CANCEL_REQUEST = "mutation($id: ID!) {{ cancelRequest(rideId: $id) {{ {RIDE} }} }}";
    COMPLETE_RIDE = "mutation($id: ID!) {{ completeRide(rideId: $id) {{ {RIDE} }} }}";
    ACCEPT_OFFER = "mutation($id: ID!) {{ acceptOffer(rideId: $id) {{ {RIDE} }} }}";
    DECLINE_OFFER = "mutation($id: ID!) {{ declineOffer(rideId: $id) {{ {RIDE} }} }}";
    DRIVER_ARRIVED = "mutation($id: ID!) {{ driverArrived(rideId: $id) {{ {RIDE} }} }}";
    START_TRIP = "mutation($id: ID!) {{ startTrip(rideId: $id) {{ {RIDE} }} }}";
    RIDE_QUERY = "query($id: ID!) {{ ride(id: $id) {{ {RIDE} }} }}";
    DRIVER_QUERY = "query($id: ID!) {{ driver(id: $id) {{ {DRIVER} }} }}";
    NEARBY_DRIVERS = "query($lat: Float!, $lng: Float!, $r: Float, $n: Int) {{ nearbyDrivers(lat: $lat, lng: $lng, radiusKm: $r, limit: $n) {{ distanceKm driver {{ {DRIVER} }} }} }}";
    RIDE_STATUS = "subscription($id: ID!) {{ rideStatus(rideId: $id) {{ {RIDE} }} }}";
    DRIVER_LOCATION = "subscription($id: ID!) {{ driverLocation(rideId: $id) {{ {DRIVER} }} }}";
    DRIVER_FEED = "subscription($d: ID!) {{ driverFeed(driverId: $d) {{ kind reason driver {{ {DRIVER} }} offer {{ {OFFER} }} ride {{ {RIDE} }} }} }}";
    FLEET = "subscription($lat: Float!, $lng: Float!, $r: Float!) {{ fleet(lat: $lat, lng: $lng, radiusKm: $r) {{ kind resync drivers {{ {DRIVER} }} rides {{ {RIDE} }} }} }}";
}
