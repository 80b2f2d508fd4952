//! Who may do what: the rules, in one place. Every function here is a
//! question (`may_…`), answered `Ok` or with the refusal to send.
//!
//! | operation                         | driver            | rider                  | dispatcher |
//! |-----------------------------------|-------------------|------------------------|------------|
//! | `updateLocation(s)`, `goOffline`  | its own id        | –                      | yes        |
//! | `driver(id)`                      | itself            | the driver of its ride while it runs | yes |
//! | `nearbyDrivers`                   | –                 | without driver ids     | yes        |
//! | `requestDriver`                   | –                 | as itself              | yes        |
//! | `ride`, `rideStatus`              | its assigned or offered ride | its own rides | yes   |
//! | `Ride.driver` of an ended ride    | null              | null                   | yes        |
//! | `Ride.offer`, `Ride.lastOfferEnd` | its own offer     | null                   | yes        |
//! | `cancelRequest`                   | –                 | its own rides          | yes        |
//! | `acceptOffer`, `declineOffer`     | its own offers    | –                      | yes        |
//! | `driverArrived`, `startTrip`, `completeRide` | its assigned ride | –           | yes        |
//! | `driverLocation`                  | its assigned ride | its own rides          | yes        |
//! | `driverFeed`                      | its own           | –                      | yes        |
//! | `fleet`                           | –                 | –                      | yes        |
//! | `events` (query, subscription), `redeliverEvents` | – | –                      | yes        |
//! | `__schema`, `__type` (introspection) | yes            | yes                    | yes        |
//!
//! A stream (`rideStatus`, `driverLocation`) asks [`may_see_ride`] again at
//! every change of its ride: a right lost mid-stream (an offer declined,
//! timed out or withdrawn; the ride gone to another driver) ends it with
//! `FORBIDDEN` at once.
//!
//! Introspection needs a token like everything else (any role), unless the
//! operator opens it to anonymous callers (`--open-introspection`).
//!
//! With no verification key configured every caller is [`Caller::Open`] and
//! may do everything (development). Refusals are logged with the caller's
//! role and subject, never with the token.

use tracing::warn;

use crate::{
    auth::{Caller, Role},
    domain::error::{Error, Result},
    domain::{DriverId, Ride, RiderId},
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

fn allow(allowed: bool, caller: &Caller, action: &str) -> Result<()> {
    if allowed {
        Ok(())
    } else {
        Err(refuse(caller, action))
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

/// Whether the caller holds a token for `role` with subject `id`.
fn speaks_for(caller: &Caller, role: Role, id: &str) -> bool {
    matches!(caller, Caller::Token { role: r, sub } if *r == role && sub == id)
}

/// Whether the caller is the driver assigned to `ride`.
fn drives(caller: &Caller, ride: &Ride) -> bool {
    ride.driver_id
        .as_ref()
        .is_some_and(|d| speaks_for(caller, Role::Driver, d.as_str()))
}

/// Whether the caller is the driver `ride` is offered to now.
fn is_offered(caller: &Caller, ride: &Ride) -> bool {
    ride.offer
        .as_ref()
        .is_some_and(|o| speaks_for(caller, Role::Driver, o.driver.as_str()))
}

/// `updateLocation(s)` and `goOffline`.
pub fn may_act_as_driver(caller: &Caller, driver: &DriverId, action: &str) -> Result<()> {
    allow(
        is_dispatcher(caller) || speaks_for(caller, Role::Driver, driver.as_str()),
        caller,
        action,
    )
}

/// `requestDriver`.
pub fn may_request_as(caller: &Caller, rider: &RiderId) -> Result<()> {
    allow(
        is_dispatcher(caller) || speaks_for(caller, Role::Rider, rider.as_str()),
        caller,
        "requestDriver",
    )
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

/// The cap on rides that have not ended for `rider`: `cap`, except, on a
/// service without tokens, for the rider every anonymous request shares
/// (the seed's `/v2/search` names none), whose requests are many people's,
/// not one's: no cap (0). With tokens `anonymous` is a rider like any.
pub fn ride_cap_for(caller: &Caller, rider: &RiderId, cap: usize) -> usize {
    if matches!(caller, Caller::Open) && rider.as_str() == ANONYMOUS_RIDER {
        0
    } else {
        cap
    }
}

/// `nearbyDrivers`: returns whether driver ids may be shown.
pub fn may_list_nearby(caller: &Caller) -> Result<bool> {
    match caller {
        _ if is_dispatcher(caller) => Ok(true),
        Caller::Token {
            role: Role::Rider, ..
        } => Ok(false),
        _ => Err(refuse(caller, "nearbyDrivers")),
    }
}

/// `ride`, `rideStatus`, `driverLocation`: the rider who asked, the driver
/// assigned, or the driver offered it (to decide).
pub fn may_see_ride(caller: &Caller, ride: &Ride, action: &str) -> Result<()> {
    allow(
        is_dispatcher(caller)
            || speaks_for(caller, Role::Rider, ride.rider_id.as_str())
            || drives(caller, ride)
            || is_offered(caller, ride),
        caller,
        action,
    )
}

/// `Ride.offer`, `Ride.lastOfferEnd`: who was offered a ride is for
/// dispatchers and that driver; a rider never learns it.
pub fn may_see_offer(caller: &Caller, driver: &DriverId) -> bool {
    is_dispatcher(caller) || speaks_for(caller, Role::Driver, driver.as_str())
}

/// `acceptOffer`, `declineOffer`: a driver answers its own offers (returns
/// its id, which the store checks against the offer atomically); a
/// dispatcher answers whichever driver holds it (`None`).
pub fn may_answer_offers(caller: &Caller, action: &str) -> Result<Option<DriverId>> {
    match caller {
        _ if is_dispatcher(caller) => Ok(None),
        Caller::Token {
            role: Role::Driver,
            sub,
        } => DriverId::parse(sub).map(Some),
        _ => Err(refuse(caller, action)),
    }
}

/// `driverFeed`: the driver itself.
pub fn may_follow_feed(caller: &Caller, driver: &DriverId) -> Result<()> {
    allow(
        is_dispatcher(caller) || speaks_for(caller, Role::Driver, driver.as_str()),
        caller,
        "driverFeed",
    )
}

/// Whether the caller may look up a ride at all before it is read (so that
/// callers who may never see rides learn nothing about which ids exist).
pub fn may_look_up_rides(caller: &Caller, action: &str) -> Result<()> {
    allow(!matches!(caller, Caller::Anonymous), caller, action)
}

/// `__schema`, `__type`: any caller with a token, or anyone when the
/// operator opened introspection.
pub fn may_read_schema(caller: &Caller, open: bool) -> Result<()> {
    allow(
        open || !matches!(caller, Caller::Anonymous),
        caller,
        "introspection",
    )
}

/// `fleet`: dispatchers only.
pub fn may_watch_fleet(caller: &Caller) -> Result<()> {
    allow(is_dispatcher(caller), caller, "fleet")
}

/// `events` (the query and the subscription) and `redeliverEvents`: an
/// area's whole log, every rider's and driver's changes in it, is for
/// dispatchers only.
pub fn may_read_events(caller: &Caller, action: &str) -> Result<()> {
    allow(is_dispatcher(caller), caller, action)
}

/// `cancelRequest`: the rider who asked.
pub fn may_cancel(caller: &Caller, ride: &Ride) -> Result<()> {
    allow(
        is_dispatcher(caller) || speaks_for(caller, Role::Rider, ride.rider_id.as_str()),
        caller,
        "cancelRequest",
    )
}

/// `driverArrived`, `startTrip`, `completeRide`: the driver assigned.
pub fn may_drive(caller: &Caller, ride: &Ride, action: &str) -> Result<()> {
    allow(
        is_dispatcher(caller) || drives(caller, ride),
        caller,
        action,
    )
}

/// `Ride.driver`: who may see a ride's driver as it is now, given that they
/// may see the ride. Once the ride has ended, dispatchers only: its rider
/// (or a driver looking at a past ride) gets the driver's id and nothing of
/// where the car goes next.
pub fn may_follow_driver_of(caller: &Caller, ride: &Ride) -> bool {
    is_dispatcher(caller) || !ride.status.is_terminal()
}

/// `driver(id)`: itself, the rider of the ride it drives, or a dispatcher.
/// `ride_of_driver` is the ride the driver is assigned to now, if any (a
/// ride merely offered to it does not count: its rider does not learn who).
pub fn may_see_driver(
    caller: &Caller,
    driver: &DriverId,
    ride_of_driver: Option<&Ride>,
) -> Result<()> {
    let rider_of_its_ride = ride_of_driver.is_some_and(|r| {
        r.driver_id.as_ref() == Some(driver) && speaks_for(caller, Role::Rider, r.rider_id.as_str())
    });
    allow(
        is_dispatcher(caller)
            || speaks_for(caller, Role::Driver, driver.as_str())
            || rider_of_its_ride,
        caller,
        "driver",
    )
}

#[cfg(test)]
mod tests;
