//! Every Redis key and channel name, built here and nowhere else.
//!
//! All keys share one hash tag, `{PREFIX}`, so a Redis Cluster node owns a
//! whole fleet (the scripts touch several keys at once) and nothing collides
//! with other data in the same Redis:
//!
//! | key                          | type | holds |
//! |------------------------------|------|-------|
//! | `{P}:drivers:available`      | GEO  | AVAILABLE drivers' positions |
//! | `{P}:drivers:seen`           | ZSET | AVAILABLE driver → last report (ms); the sweep takes silent ones OFFLINE from its front |
//! | `{P}:drivers:offline`        | ZSET | OFFLINE driver → last report (ms); the sweep removes those past the driver retention |
//! | `{P}:driver:<id>`            | HASH | `lat lng updated state [ride]` |
//! | `{P}:ride:<n>`               | HASH | `id rider lat lng status driver distance searches created expires ended revision owner`; expires after the ride retention once ended |
//! | `{P}:rides:seq`              | STR  | last ride number (`INCR`) |
//! | `{P}:rides:searching`        | ZSET | SEARCHING ride → deadline (ms) |
//! | `{P}:rides:pickups`          | GEO  | SEARCHING rides' pickups (who to wake when a driver frees up) |
//! | `{P}:rides:active`           | GEO  | SEARCHING and DRIVER_FOUND rides' pickups (live maps) |
//! | `{P}:drivers:watched`        | STR  | present (with a lease) while some instance has driver watchers |
//! | `{P}:instances`              | ZSET | instance → lease end (ms); renewed by each live instance |
//! | `{P}:owned:<instance>`       | SET  | SEARCHING rides whose search task that instance runs |
//!
//! Channels: `{P}:events` (a ride, as JSON, after each status change),
//! `{P}:drivers` (a driver, as JSON, after each report or status change),
//! `{P}:wake` (`lng,lat` of a driver that became available near a
//! searching ride) and `{P}:adopt` (an instance released its rides: adopt
//! them now).
//!
//! Ride keys are only ever built from ride ids made of digits (the ids this
//! service hands out), so no request can name another key: the seed's flaw
//! where `cancel` could overwrite any key, even the drivers set, cannot happen.

use crate::domain::{DriverId, RideId};

/// The names of one fleet's keys.
#[derive(Debug, Clone)]
pub struct Keys {
    tag: String,
}

impl Keys {
    /// Keys under `{prefix}`.
    pub fn new(prefix: &str) -> Self {
        Self {
            tag: format!("{{{prefix}}}"),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.tag)
    }

    pub fn available(&self) -> String {
        self.key("drivers:available")
    }

    pub fn seen(&self) -> String {
        self.key("drivers:seen")
    }

    pub fn offline(&self) -> String {
        self.key("drivers:offline")
    }

    pub fn searching(&self) -> String {
        self.key("rides:searching")
    }

    pub fn pickups(&self) -> String {
        self.key("rides:pickups")
    }

    pub fn drivers_watched(&self) -> String {
        self.key("drivers:watched")
    }

    pub fn active(&self) -> String {
        self.key("rides:active")
    }

    pub fn ride_seq(&self) -> String {
        self.key("rides:seq")
    }

    pub fn instances(&self) -> String {
        self.key("instances")
    }

    /// Prefix of driver hashes; the scripts append a driver id.
    pub fn driver_prefix(&self) -> String {
        self.key("driver:")
    }

    /// Prefix of ride hashes; the scripts append a ride number.
    pub fn ride_prefix(&self) -> String {
        self.key("ride:")
    }

    /// Prefix of the sets of rides each instance searches for.
    pub fn owned_prefix(&self) -> String {
        self.key("owned:")
    }

    pub fn driver(&self, id: &DriverId) -> String {
        format!("{}{id}", self.driver_prefix())
    }

    /// The ride's hash, or `None` for an id this service never hands out.
    pub fn ride(&self, id: &RideId) -> Option<String> {
        let digits = id.as_str();
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("{}{digits}", self.ride_prefix()))
    }

    pub fn events_channel(&self) -> String {
        self.key("events")
    }

    pub fn drivers_channel(&self) -> String {
        self.key("drivers")
    }

    pub fn wake_channel(&self) -> String {
        self.key("wake")
    }

    pub fn adopt_channel(&self) -> String {
        self.key("adopt")
    }

    /// The pattern that matches every key of this fleet.
    pub fn pattern(&self) -> String {
        format!("{}:*", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = Keys::new("tracking");
        assert_eq!(keys.available(), "{tracking}:drivers:available");
        let driver = DriverId::parse("d:1").unwrap();
        assert_eq!(keys.driver(&driver), "{tracking}:driver:d:1");
        assert_eq!(
            keys.ride(&RideId::parse("42").unwrap()).as_deref(),
            Some("{tracking}:ride:42")
        );
    }

    #[test]
    fn only_numeric_ride_ids_name_a_key() {
        let keys = Keys::new("tracking");
        for id in ["drivers", "1:x", "x1", "-1", "1.0"] {
            assert_eq!(keys.ride(&RideId::parse(id).unwrap()), None, "{id}");
        }
    }
}
