//! Domain types: ids, places, drivers and rides.
//!
//! Everything the service reasons about is defined here, once, and built only
//! through parsing that validates ("parse, don't validate"): once code holds a
//! [`Coordinates`] it is in range, once it holds a [`DriverId`] it is safe to
//! put into a Redis key. The GraphQL layer and the REST adapters convert their
//! transport types into these at the edge; the dispatcher and the stores only
//! ever see values that are already valid. Types that cross layers (reports
//! and their outcomes, area snapshots and counts) live here too, so that no
//! layer needs to name another's; so does the error every layer returns
//! ([`error`], its refusals worded in `refusals.rs`).

mod areas;
mod boundary;
mod counts;
pub mod error;
mod eta;
mod event_json;
mod event_log;
mod fleet;
mod geo;
mod id_parse;
mod ids;
mod refusals;
mod rides;
pub mod rules;

pub use areas::{is_config_name, Area, AreaId, ServiceAreas, DEFAULT_AREA, MAX_AREA_ID_LEN};
pub use counts::AreaCounts;
pub use eta::{Candidate, Eta, EtaSource, StraightLine, DETOUR_FACTOR, STRAIGHT_LINE_SPEED_KMH};
pub use event_json::{driver_json, ride_json};
pub use event_log::{
    driver_change_event, ride_change_events, Event, EventId, EventType, NewEvent, Seq,
    EVENT_FORMAT_VERSION, MAX_EPOCH_LEN,
};
pub use fleet::{Driver, DriverStatus, LocationReport, NearbyDriver, ReportOutcome};
pub use geo::{
    check_plausible_move, chord_for_km, Coordinates, Limit, RadiusKm, EARTH_RADIUS_KM, JITTER_KM,
    MAX_LATITUDE, MAX_LIMIT, MAX_RADIUS_KM,
};
pub use ids::{DriverId, IdempotencyKey, RideId, RiderId, EPOCH_LEN, MAX_ID_LEN};
pub use rides::{AreaSnapshot, Offer, OfferEnd, OfferEndReason, Ride, RideStatus, Step};
pub use rules::{AreaRules, DurationBounds};

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
