//! Every Redis key and channel name, built here and nowhere else.
//!
//! All keys share one hash tag, `{PREFIX}`, so a Redis Cluster node owns a
//! whole fleet (the scripts touch several keys at once) and nothing collides
//! with other data in the same Redis:
//!
//! | key                          | type | holds |
//! |------------------------------|------|-------|
//! | `{P}:drivers:available`      | GEO  | AVAILABLE drivers' positions |
//! | `{P}:drivers:seen`           | ZSET | AVAILABLE or OFFERED driver → last report (ms); the sweep takes silent ones OFFLINE from its front |
//! | `{P}:drivers:offline`        | ZSET | OFFLINE driver → last report (ms); the sweep removes those past the driver retention |
//! | `{P}:driver:<id>`            | HASH | `lat lng updated state [ride] [ignored]`; `ride` while OFFERED or ASSIGNED |
//! | `{P}:ride:<n>`               | HASH | `id rider lat lng [dropoff_lat dropoff_lng] status [driver distance] searches created expires [arrived started ended] revision owner`, the outstanding offer `[offer_driver offer_km offer_at offer_expires offer_rev]` and the last one ended `[end_driver end_reason end_rev]`; expires after the ride retention once ended |
//! | `{P}:declined:<ride>`        | SET  | drivers never to be offered a searching ride again; gone when it stops searching |
//! | `{P}:rides:ids`              | HASH | `epoch` (random, made with the counter) and `n` (the last ride number): ride ids are `<epoch>.<n>`; lost together, so an id is never handed out twice |
//! | `{P}:rider:<id>:active`      | SET  | the rider's rides that have not ended (for the per-rider limit) |
//! | `{P}:idem:<rider>:<key>`     | STR  | the ride an idempotency key made; expires after the request timeout |
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
//! Keys built from an id (driver, ride, rider, idempotency key) take the id
//! only once it parsed as an id (`[A-Za-z0-9_.:-]`, at most 64 bytes), and
//! always behind a fixed part of their own (`driver:`, `ride:`, …), so no
//! request can name another key: the seed's flaw, where `cancel` could
//! overwrite any key, even the drivers set, cannot happen.

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

    /// The ride counter and its epoch.
    pub fn ride_ids(&self) -> String {
        self.key("rides:ids")
    }

    /// Prefix of the sets of riders' active rides; the scripts append
    /// `<rider>:active`.
    pub fn rider_prefix(&self) -> String {
        self.key("rider:")
    }

    /// Prefix of the sets of drivers who declined a ride; the scripts
    /// append the ride id.
    pub fn declined_prefix(&self) -> String {
        self.key("declined:")
    }

    /// Prefix of the idempotency keys; the scripts append `<rider>:<key>`.
    pub fn idempotency_prefix(&self) -> String {
        self.key("idem:")
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

    /// The ride's hash.
    pub fn ride(&self, id: &RideId) -> String {
        format!("{}{id}", self.ride_prefix())
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
            keys.ride(&RideId::parse("k3x9q2ab.42").unwrap()),
            "{tracking}:ride:k3x9q2ab.42"
        );
    }

    #[test]
    fn every_id_stays_behind_its_own_prefix() {
        let keys = Keys::new("tracking");
        for id in ["drivers", "1:x", "..", "rides:ids"] {
            let key = keys.ride(&RideId::parse(id).unwrap());
            assert!(key.starts_with("{tracking}:ride:"), "{key}");
        }
        // What cannot be an id never reaches a key.
        assert!(RideId::parse("{tracking}:drivers:available").is_err());
        assert!(RideId::parse("a b").is_err());
    }
}
