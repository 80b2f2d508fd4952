//! The refusals a store or the dispatcher makes, worded once for every
//! store: constructors of [`Error`] that name rides, drivers and places.
//!
//! They live apart from `error.rs` so that the error type itself needs
//! only the ids, and the files that return errors (geo, fleet, the ids'
//! parsing) never form a loop with it.

use super::{
    error::Error,
    geo::Coordinates,
    ids::{DriverId, RideId},
    rides::{RideStatus, Step},
};

impl Error {
    /// No ride has this id (never had, or it was removed).
    pub fn ride_not_found(id: &RideId) -> Self {
        Self::NotFound(format!("no ride with id {id}"))
    }

    /// A ride being followed no longer exists (its store lost it).
    pub fn ride_gone(id: &RideId) -> Self {
        Self::NotFound(format!("ride {id} no longer exists"))
    }

    /// No driver has this id.
    pub fn driver_not_found(id: &DriverId) -> Self {
        Self::NotFound(format!("no driver with id {id}"))
    }

    /// A step that does not apply to the ride's status.
    pub fn wrong_step(id: &RideId, status: RideStatus, step: Step) -> Self {
        let allowed: Vec<&str> = step.from().iter().map(|s| s.as_str()).collect();
        Self::Conflict(format!(
            "ride {id} is {}; {} needs a ride that is {}",
            status.as_str(),
            step.operation(),
            allowed.join(" or ")
        ))
    }

    /// An answer to an offer the ride does not hold (never made, made to
    /// another driver, or already ended).
    pub fn no_offer(id: &RideId, driver: Option<&DriverId>) -> Self {
        Self::Conflict(match driver {
            Some(driver) => format!("ride {id} has no outstanding offer to driver {driver}"),
            None => format!("ride {id} has no outstanding offer"),
        })
    }

    /// An answer that came after the offer's deadline.
    pub fn offer_timed_out(id: &RideId) -> Self {
        Self::Conflict(format!(
            "the offer of ride {id} has timed out; it goes to another driver"
        ))
    }

    /// A pickup no service area covers.
    pub fn out_of_service_area(at: Coordinates) -> Self {
        Self::OutOfServiceArea(format!(
            "no service area covers {}, {}: no ride can start there",
            at.lat(),
            at.lng()
        ))
    }

    /// An ASSIGNED driver cannot leave the market.
    pub fn driver_busy(id: &DriverId, ride: &str) -> Self {
        Self::Conflict(format!(
            "driver {id} is assigned to ride {ride}; end the ride first"
        ))
    }

    /// A position farther from the last one than a plausible speed allows.
    pub fn implausible_jump(km: f64, seconds: f64, max_speed_kmh: f64) -> Self {
        Self::BadInput(format!(
            "implausible jump: {km:.2} km in {seconds:.1} s is faster than {max_speed_kmh} km/h"
        ))
    }
}
