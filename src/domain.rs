//! Domain types: ids, coordinates, drivers and rides.
//!
//! Everything the service reasons about is defined here, once, and built only
//! through parsing that validates ("parse, don't validate"): once code holds a
//! [`Coordinates`] it is in range, once it holds a [`DriverId`] it is safe to
//! put into a Redis key. The GraphQL layer and the REST adapters convert their
//! transport types into these at the edge; the dispatcher and the stores only
//! ever see values that are already valid.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::Error;

/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Redis refuses latitudes beyond this (Web Mercator's limit); so do we.
pub const MAX_LATITUDE: f64 = 85.051_128_78;
/// Earth radius used for distances, in km: the value Redis uses for GEO
/// commands, so both stores report the same distances.
pub const EARTH_RADIUS_KM: f64 = 6_372.797_560_856;
/// Largest radius a query may use, in km.
pub const MAX_RADIUS_KM: f64 = 100.0;
/// Largest number of drivers a query may list.
pub const MAX_LIMIT: usize = 100;

fn parse_id(kind: &str, raw: &str) -> Result<String, Error> {
    if raw.is_empty() {
        return Err(Error::bad_input(format!("{kind} must not be empty")));
    }
    if raw.len() > MAX_ID_LEN {
        return Err(Error::bad_input(format!(
            "{kind} is longer than {MAX_ID_LEN} bytes"
        )));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return Err(Error::bad_input(format!(
            "{kind} contains {c:?}; only A-Z a-z 0-9 _ . : - are allowed"
        )));
    }
    Ok(raw.to_owned())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses an id: 1 to 64 bytes of `[A-Za-z0-9_.:-]`.
            pub fn parse(raw: &str) -> Result<Self, Error> {
                parse_id($kind, raw).map(Self)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A driver, as named by the operator's own systems.
    DriverId,
    "driverId"
);
id_type!(
    /// A rider, as named by the operator's own systems.
    RiderId,
    "riderId"
);
id_type!(
    /// A ride, named by the service: an opaque string of at most 64 bytes
    /// of `[A-Za-z0-9_.:-]`, today `<epoch>.<n>`: the `n`th ride of an epoch,
    /// a random name made together with the store's ride counter. A store
    /// that lost its data starts a new epoch, so an id handed out once is
    /// never handed out again.
    RideId,
    "rideId"
);
id_type!(
    /// A client's name for one attempt to request a ride: a retry with the
    /// same key gets the same ride.
    IdempotencyKey,
    "idempotencyKey"
);

/// Length of a ride epoch.
pub const EPOCH_LEN: usize = 8;

impl RideId {
    /// The id of the `n`th ride of `epoch`.
    pub fn new(epoch: &str, n: u64) -> Self {
        Self(format!("{epoch}.{n}"))
    }

    /// A fresh random epoch: 8 characters of `[a-z0-9]`.
    pub fn new_epoch() -> String {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        (0..EPOCH_LEN)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    }
}

/// A point on Earth, in degrees, always within the range Redis accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    lat: f64,
    lng: f64,
}

impl Coordinates {
    /// Parses a latitude/longitude pair: finite, |lat| ≤ 85.05112878, |lng| ≤ 180.
    pub fn parse(lat: f64, lng: f64) -> Result<Self, Error> {
        if !lat.is_finite() || lat.abs() > MAX_LATITUDE {
            return Err(Error::bad_input(format!(
                "lat must be a number between -{MAX_LATITUDE} and {MAX_LATITUDE}"
            )));
        }
        if !lng.is_finite() || lng.abs() > 180.0 {
            return Err(Error::bad_input(
                "lng must be a number between -180 and 180",
            ));
        }
        Ok(Self { lat, lng })
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub fn lng(&self) -> f64 {
        self.lng
    }

    /// Great-circle (haversine) distance in km, with Redis's Earth radius.
    pub fn distance_km(&self, other: &Coordinates) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlng = (other.lng - self.lng).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }

    /// The point on the unit sphere: nearest by straight (chord) distance
    /// there is nearest by great-circle distance, which lets an ordinary
    /// R-tree answer geographic nearest-neighbour questions exactly.
    pub fn unit_vector(&self) -> [f64; 3] {
        let (lat, lng) = (self.lat.to_radians(), self.lng.to_radians());
        [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
    }
}

/// GPS jitter tolerated on top of the plausible-speed check, in km.
pub const JITTER_KM: f64 = 0.25;

/// Refuses a move from `from` (reported at `then`) to `to` (at `now`)
/// faster than `max_speed_kmh`, allowing [`JITTER_KM`] of noise; a speed of
/// 0 turns the check off.
pub fn check_plausible_move(
    from: Coordinates,
    then: DateTime<Utc>,
    to: Coordinates,
    now: DateTime<Utc>,
    max_speed_kmh: f64,
) -> Result<(), Error> {
    if max_speed_kmh <= 0.0 {
        return Ok(());
    }
    let hours = (now - then).num_milliseconds().max(0) as f64 / 3_600_000.0;
    let km = from.distance_km(&to);
    if km > max_speed_kmh * hours + JITTER_KM {
        return Err(Error::bad_input(format!(
            "implausible jump: {km:.2} km in {:.1} s is faster than {max_speed_kmh} km/h",
            hours * 3600.0
        )));
    }
    Ok(())
}

/// The chord length on the unit sphere that matches a great-circle distance.
pub fn chord_for_km(km: f64) -> f64 {
    2.0 * (km / (2.0 * EARTH_RADIUS_KM))
        .min(std::f64::consts::FRAC_PI_2)
        .sin()
}

/// A search radius in km: greater than 0, at most 100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadiusKm(f64);

impl RadiusKm {
    /// Parses a radius; NaN, infinities, 0 and anything above 100 km are refused.
    pub fn parse(km: f64) -> Result<Self, Error> {
        if km.is_finite() && km > 0.0 && km <= MAX_RADIUS_KM {
            Ok(Self(km))
        } else {
            Err(Error::bad_input(format!(
                "radiusKm must be greater than 0 and at most {MAX_RADIUS_KM}"
            )))
        }
    }

    /// The radius in km.
    pub fn km(&self) -> f64 {
        self.0
    }
}

/// How many drivers a query lists: 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(usize);

impl Limit {
    /// Parses a limit in 1..=100.
    pub fn parse(n: i64) -> Result<Self, Error> {
        match usize::try_from(n) {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Self(n)),
            _ => Err(Error::bad_input(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            ))),
        }
    }

    /// The limit as a count.
    pub fn get(&self) -> usize {
        self.0
    }
}

/// Where a driver stands, as the rest of the service sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverStatus {
    /// Reporting, free, listed and matched.
    Available,
    /// Owned by a ride until that ride ends.
    Assigned,
    /// Went offline, or silent for longer than the driver TTL.
    Offline,
}

impl DriverStatus {
    /// The status as GraphQL spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::Assigned => "ASSIGNED",
            Self::Offline => "OFFLINE",
        }
    }
}

/// A driver and its last known position.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    pub id: DriverId,
    pub status: DriverStatus,
    pub location: Option<Coordinates>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The ride that owns the driver while it is ASSIGNED.
    pub ride_id: Option<RideId>,
}

/// A driver found by a nearby search, with its distance to the search centre.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyDriver {
    pub driver: Driver,
    pub distance_km: f64,
}

/// The life of a ride: SEARCHING, then DRIVER_FOUND, CANCELLED or EXPIRED;
/// DRIVER_FOUND then ends as COMPLETED or CANCELLED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RideStatus {
    Searching,
    DriverFound,
    Cancelled,
    Expired,
    Completed,
}

impl RideStatus {
    /// A terminal status never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled | Self::Expired | Self::Completed)
    }

    /// The status as stored (and as GraphQL spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Searching => "SEARCHING",
            Self::DriverFound => "DRIVER_FOUND",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Completed => "COMPLETED",
        }
    }

    /// Reads a stored status back.
    pub fn from_stored(s: &str) -> Option<Self> {
        Some(match s {
            "SEARCHING" => Self::Searching,
            "DRIVER_FOUND" => Self::DriverFound,
            "CANCELLED" => Self::Cancelled,
            "EXPIRED" => Self::Expired,
            "COMPLETED" => Self::Completed,
            _ => return None,
        })
    }
}

/// A rider's request for a driver, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ride {
    pub id: RideId,
    pub rider_id: RiderId,
    pub pickup: Coordinates,
    pub status: RideStatus,
    pub driver_id: Option<DriverId>,
    /// The driver's distance to the pickup when it was matched, in km.
    pub distance_km: Option<f64>,
    /// Searches run so far.
    pub searches: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the ride reached its terminal status (it is removed a retention
    /// period later).
    pub ended_at: Option<DateTime<Utc>>,
    /// Counts status changes (1 when created): subscribers use it to drop
    /// events they have already seen and to notice ones they missed.
    pub revision: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(DriverId::parse("driver-1.a:B_2").is_ok());
        assert!(DriverId::parse("").is_err());
        assert!(DriverId::parse(&"x".repeat(65)).is_err());
        assert!(DriverId::parse(&"x".repeat(64)).is_ok());
        assert!(DriverId::parse("a b").is_err());
        assert!(DriverId::parse("{tracking}:drivers").is_err());
        assert!(DriverId::parse("é").is_err());
    }

    #[test]
    fn coordinates_are_checked() {
        assert!(Coordinates::parse(-33.44262, -70.63054).is_ok());
        assert!(Coordinates::parse(85.05112878, 180.0).is_ok());
        assert!(Coordinates::parse(85.06, 0.0).is_err());
        assert!(Coordinates::parse(0.0, -180.1).is_err());
        assert!(Coordinates::parse(f64::NAN, 0.0).is_err());
        assert!(Coordinates::parse(0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn radius_and_limit_are_checked() {
        assert!(RadiusKm::parse(0.0).is_err());
        assert!(RadiusKm::parse(100.0).is_ok());
        assert!(RadiusKm::parse(100.1).is_err());
        assert!(RadiusKm::parse(f64::NAN).is_err());
        assert!(Limit::parse(0).is_err());
        assert!(Limit::parse(100).is_ok());
        assert!(Limit::parse(101).is_err());
        assert!(Limit::parse(-1).is_err());
    }

    #[test]
    fn distance_matches_redis_for_the_seed_points() {
        // GEODIST of the seed's rider and driver, as Redis 7 reports it: 0.1946 km.
        let rider = Coordinates::parse(-33.44262, -70.63054).unwrap_or_else(|e| panic!("{e}"));
        let driver = Coordinates::parse(-33.44091, -70.6301).unwrap_or_else(|e| panic!("{e}"));
        let d = rider.distance_km(&driver);
        assert!((d - 0.1946).abs() < 0.0005, "distance was {d}");
    }

    #[test]
    fn chord_grows_with_distance() {
        assert!(chord_for_km(1.0) < chord_for_km(2.0));
        let a = Coordinates::parse(0.0, 0.0).unwrap_or_else(|e| panic!("{e}"));
        let b = Coordinates::parse(0.0, 1.0).unwrap_or_else(|e| panic!("{e}"));
        let (va, vb) = (a.unit_vector(), b.unit_vector());
        let chord =
            ((va[0] - vb[0]).powi(2) + (va[1] - vb[1]).powi(2) + (va[2] - vb[2]).powi(2)).sqrt();
        assert!((chord - chord_for_km(a.distance_km(&b))).abs() < 1e-12);
    }
}
