//! Who may do what: the rules, in one place.
//!
//! | operation                         | driver            | rider                  | dispatcher |
//! |-----------------------------------|-------------------|------------------------|------------|
//! | `updateLocation`, `goOffline`     | its own id        | –                      | yes        |
//! | `driver(id)`                      | itself            | the driver of its ride | yes        |
//! | `nearbyDrivers`                   | –                 | without driver ids     | yes        |
//! | `requestDriver`                   | –                 | as itself              | yes        |
//! | `ride`, `rideStatus`              | its assigned ride | its own rides          | yes        |
//! | `cancelRequest`                   | –                 | its own rides          | yes        |
//! | `completeRide`                    | its assigned ride | –                      | yes        |
//! | `driverLocation`                  | its assigned ride | its own rides          | yes        |
//! | `fleet`                           | –                 | –                      | yes        |
//!
//! With no verification key configured every caller is [`Caller::Open`] and
//! may do everything (development). Refusals are logged with the caller's
//! role and subject, never with the token.

use tracing::warn;

use crate::{
    auth::{Caller, Role},
    domain::{DriverId, Ride, RiderId},
    error::{Error, Result},
};

fn refuse(caller: &Caller, action: &str) -> Error {
    match caller {
        Caller::Anonymous => {
            warn!(action, "refused: no token");
            Error::Unauthenticated(format!("{action} needs a token (Authorization: Bearer …)"))
        }
        _ => {
            warn!(action, caller = %caller, "refused: not allowed");
            Error::Forbidden(format!("{action} is not allowed for {caller}"))
        }
    }
}

/// Whether the caller has a dispatcher's rights.
fn is_dispatcher(caller: &Caller) -> bool {
    matches!(
        caller,
        Caller::Open
            | Caller::Token {
                role: Role::Dispatcher,
                ..
            }
    )
}

fn is(caller: &Caller, role: Role, id: &str) -> bool {
    matches!(caller, Caller::Token { role: r, sub } if *r == role && sub == id)
}

/// `updateLocation` and `goOffline`.
pub fn act_as_driver(caller: &Caller, driver: &DriverId, action: &str) -> Result<()> {
    if is_dispatcher(caller) || is(caller, Role::Driver, driver.as_str()) {
        Ok(())
    } else {
        Err(refuse(caller, action))
    }
}

/// `requestDriver`.
pub fn may_request_as(caller: &Caller, rider: &RiderId) -> Result<()> {
    if is_dispatcher(caller) || is(caller, Role::Rider, rider.as_str()) {
        Ok(())
    } else {
        Err(refuse(caller, "requestDriver"))
    }
}

/// Whom a seed-style request (`/v2/search`, which names no rider unless it
/// passes `rider_id`) is for: a rider's token speaks for its own `sub`; a
/// dispatcher must name the rider; `anonymous` exists only when the service
/// verifies no tokens at all.
pub fn rider_for(caller: &Caller, named: Option<&str>) -> Result<RiderId> {
    match (caller, named) {
        (_, Some(name)) => RiderId::parse(name),
        (Caller::Open, None) => RiderId::parse(ANONYMOUS_RIDER),
        (
            Caller::Token {
                role: Role::Rider,
                sub,
            },
            None,
        ) => RiderId::parse(sub),
        (
            Caller::Token {
                role: Role::Dispatcher,
                ..
            },
            None,
        ) => Err(Error::bad_input(
            "a dispatcher must say which rider the ride is for (rider_id)",
        )),
        (_, None) => Err(refuse(caller, "requestDriver")),
    }
}

/// The rider of requests that name none, on a service without tokens.
const ANONYMOUS_RIDER: &str = "anonymous";

/// `nearbyDrivers`: returns whether driver ids may be shown.
pub fn list_nearby(caller: &Caller) -> Result<bool> {
    match caller {
        _ if is_dispatcher(caller) => Ok(true),
        Caller::Token {
            role: Role::Rider, ..
        } => Ok(false),
        _ => Err(refuse(caller, "nearbyDrivers")),
    }
}

/// `ride`, `rideStatus`: the rider who asked, or the driver assigned.
pub fn see_ride(caller: &Caller, ride: &Ride, action: &str) -> Result<()> {
    let assigned = ride
        .driver_id
        .as_ref()
        .is_some_and(|d| is(caller, Role::Driver, d.as_str()));
    if is_dispatcher(caller) || is(caller, Role::Rider, ride.rider_id.as_str()) || assigned {
        Ok(())
    } else {
        Err(refuse(caller, action))
    }
}

/// Whether the caller may look up a ride at all before it is read (so that
/// callers who may never see rides learn nothing about which ids exist).
pub fn may_look_up_rides(caller: &Caller, action: &str) -> Result<()> {
    match caller {
        Caller::Anonymous => Err(refuse(caller, action)),
        _ => Ok(()),
    }
}

/// `fleet`: dispatchers only.
pub fn watch_fleet(caller: &Caller) -> Result<()> {
    if is_dispatcher(caller) {
        Ok(())
    } else {
        Err(refuse(caller, "fleet"))
    }
}

/// `cancelRequest`: the rider who asked.
pub fn cancel(caller: &Caller, ride: &Ride) -> Result<()> {
    if is_dispatcher(caller) || is(caller, Role::Rider, ride.rider_id.as_str()) {
        Ok(())
    } else {
        Err(refuse(caller, "cancelRequest"))
    }
}

/// `completeRide`: the driver assigned.
pub fn complete(caller: &Caller, ride: &Ride) -> Result<()> {
    let assigned = ride
        .driver_id
        .as_ref()
        .is_some_and(|d| is(caller, Role::Driver, d.as_str()));
    if is_dispatcher(caller) || assigned {
        Ok(())
    } else {
        Err(refuse(caller, "completeRide"))
    }
}

/// `Ride.driver`: who may see a ride's driver as it is now, given that they
/// may see the ride. Once the ride has ended, dispatchers only: its rider
/// (or a driver looking at a past ride) gets the driver's id and nothing of
/// where the car goes next.
pub fn may_follow_driver_of(caller: &Caller, ride: &Ride) -> bool {
    is_dispatcher(caller) || !ride.status.is_terminal()
}

/// `driver(id)`: itself, the rider of the ride it drives, or a dispatcher.
/// `ride_of_driver` is the ride the driver is assigned to, if any.
pub fn see_driver(caller: &Caller, driver: &DriverId, ride_of_driver: Option<&Ride>) -> Result<()> {
    let rider_of_its_ride =
        ride_of_driver.is_some_and(|r| is(caller, Role::Rider, r.rider_id.as_str()));
    if is_dispatcher(caller) || is(caller, Role::Driver, driver.as_str()) || rider_of_its_ride {
        Ok(())
    } else {
        Err(refuse(caller, "driver"))
    }
}
