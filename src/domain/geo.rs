//! Places and distances: coordinates always in the range Redis accepts,
//! radii and limits in range, great-circle distances with Redis's Earth
//! radius (so both stores agree to the metre), and the plausible-speed rule.

use chrono::{DateTime, Utc};

use crate::domain::error::Error;

/// Redis refuses latitudes beyond this (Web Mercator's limit); so do we.
pub const MAX_LATITUDE: f64 = 85.051_128_78;
/// Earth radius used for distances, in km: the value Redis uses for GEO
/// commands, so both stores report the same distances.
pub const EARTH_RADIUS_KM: f64 = 6_372.797_560_856;
/// Largest radius a query may use, in km.
pub const MAX_RADIUS_KM: f64 = 100.0;
/// Largest number of drivers a query may list.
pub const MAX_LIMIT: usize = 100;

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
        return Err(Error::implausible_jump(km, hours * 3600.0, max_speed_kmh));
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
