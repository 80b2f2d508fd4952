//! Every Redis key and channel name, built here (and in the Lua library,
//! from the tag this passes it) and nowhere else.
//!
//! All of an area's keys share one hash tag, `T`: `{prefix}` for the only
//! area (`default`, no areas file), `{prefix:area}` for each area of an
//! areas file. On a Redis Cluster an area is then one slot: every function
//! call touches one slot and stays atomic, and areas spread over the nodes.
//!
//! | key                       | type | holds |
//! |---------------------------|------|-------|
//! | `T:drivers:last`          | HASH | driver → `lng|lat|ms|STATE`: its last report and status, written on every report |
//! | `T:drivers:available`     | GEO  | AVAILABLE drivers' positions |
//! | `T:drivers:seen`          | ZSET | AVAILABLE or OFFERED driver → the start of its last report's bucket (a sixth of the TTL), written only when a report starts a new bucket; the sweep takes silent ones OFFLINE from its front, checking the exact time in `last` |
//! | `T:drivers:offline`       | ZSET | OFFLINE driver → last report (ms); the sweep removes those past the driver retention |
//! | `T:driver:<id>`           | HASH | `ride` (while OFFERED or ASSIGNED), `ignored` (offers let time out in a row), `approach` (`lng,lat,ride`: an assigned driver's pickup until its first report near it, while the log is on); touched only when those change |
//! | `T:ride:<id>`             | HASH | `id rider lat lng [dropoff_lat dropoff_lng] status [driver distance] searches created expires [arrived started ended] revision owner`, the outstanding offer `[offer_driver offer_km offer_at offer_expires offer_rev]` and the last one ended `[end_driver end_reason end_rev]`; expires after the ride retention once ended |
//! | `T:rides:ids`             | HASH | `epoch` and `n`: ride ids are `[<area>:]<epoch>.<n>`; lost together, so an id is never handed out twice |
//! | `T:rider:<id>:active`     | SET  | the rider's rides that have not ended (for the per-rider limit) |
//! | `T:idem:<rider>:<key>`    | STR  | the ride an idempotency key made; expires after the request timeout |
//! | `T:declined:<ride>`       | SET  | drivers never to be offered a searching ride again; gone when it stops searching |
//! | `T:rides:searching`       | ZSET | SEARCHING ride → deadline (ms) |
//! | `T:rides:pickups`         | GEO  | SEARCHING rides' pickups (who to wake when a driver frees up) |
//! | `T:rides:active`          | GEO  | rides not ended, by pickup (live maps) |
//! | `T:drivers:watched`       | STR  | present (with a lease) while some instance has driver watchers |
//! | `T:instances`             | ZSET | instance → lease end (ms); renewed by each live instance |
//! | `T:owned:<instance>`      | SET  | SEARCHING rides whose search task that instance runs |
//! | `T:batch:lease`           | STR  | with a match window, the instance running the area's batches (PX `--instance-lease`, renewed each window) |
//! | `T:batch:last`            | HASH | with a match window, what the area's last window did: `rides`, `matched`, `at` (ms) |
//! | `T:log`                   | STREAM | the area's event log: one entry per status change, `XADD`ed by the function that makes it: `v` (format, `1`), `type`, `at` (ms), `ride` and/or `driver` (JSON, the hash as it is after the change), `reason` (OFFER_ENDED); with `--event-log on` or a sink; trimmed by age and `--max-events`, never past what a sink lacks |
//! | `T:log:acked`             | HASH | sink → `epoch|ms-n`, its last acknowledged event; `_removed` → the highest position trimmed |
//! | `T:log:lease:<sink>`      | STR  | the instance delivering the area to that sink (PX `--instance-lease`) |
//! | `T:log:dead`              | STREAM | dead letters: an event's fields plus `sink`, `id` (its position), `epoch`; capped by `--max-dead-letters` |
//! | `T:log:retry:<sink>`      | STREAM | dead letters queued for redelivery to that sink (`redeliverEvents`) |
//! | `{prefix}:layout`         | STR  | the key layout's version (`2`) |
//! | `{prefix}:where:<driver>` | STR  | the area holding a driver, with an areas file (one small pointer per driver) |
//! | `{prefix:driver:<id>}:moving` | STR | with an areas file, the lease on moving a driver between areas (a random token, 15 s TTL; the driver's own slot), held only while one report moves it |
//! | `{prefix:rider:<id>}:requesting` | STR | with an areas file, the lease a request of the rider holds while it checks the rider's rides in every area and creates its own (the rider's own slot); expires by itself |
//!
//! Channels (sharded on a Cluster): `T:events` (a ride, as JSON, after each
//! change), `T:drivers` (a driver, as JSON, after each report or status
//! change, while watched), `T:wake` (`lng,lat` of a driver that became
//! available near a searching ride) and `T:adopt` (an instance released its
//! rides: adopt them now).
//!
//! Keys built from an id (driver, ride, rider, idempotency key) take the id
//! only once it parsed as an id (`[A-Za-z0-9_.:-]`, at most 64 bytes), and
//! always behind a fixed part of their own (`driver:`, `ride:`, …), so no
//! request can name another key: the seed's flaw, where `cancel` could
//! overwrite any key, even the drivers set, cannot happen.

use crate::domain::{AreaId, DriverId, IdempotencyKey, RideId, RiderId};

/// The names of one area's keys.
#[derive(Debug, Clone)]
pub struct Keys {
    tag: String,
}

impl Keys {
    /// Keys under `{prefix}` (the only area), or `{prefix:area}`.
    pub fn new(prefix: &str, area: Option<&AreaId>) -> Self {
        Self {
            tag: match area {
                Some(area) => format!("{{{prefix}:{area}}}"),
                None => format!("{{{prefix}}}"),
            },
        }
    }

    /// The hash tag every key of the area starts with.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.tag)
    }

    pub fn available(&self) -> String {
        self.key("drivers:available")
    }

    pub fn last(&self) -> String {
        self.key("drivers:last")
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

    /// The set of a rider's rides that have not ended (written by the
    /// functions, read here).
    pub fn rider_active(&self, rider: &RiderId) -> String {
        self.key(&format!("rider:{rider}:active"))
    }

    /// The ride an idempotency key of a rider made.
    pub fn idempotency(&self, rider: &RiderId, key: &IdempotencyKey) -> String {
        self.key(&format!("idem:{rider}:{key}"))
    }

    /// The lease on a rider's requests, in the rider's own hash tag (its
    /// own Cluster slot), whatever the areas.
    pub fn rider_lease(prefix: &str, rider: &RiderId) -> String {
        format!("{{{prefix}:rider:{rider}}}:requesting")
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
        let keys = Keys::new("tracking", None);
        assert_eq!(keys.available(), "{tracking}:drivers:available");
        let scl = AreaId::parse("scl").unwrap();
        assert_eq!(
            Keys::new("tracking", Some(&scl)).available(),
            "{tracking:scl}:drivers:available"
        );
        let driver = DriverId::parse("d:1").unwrap();
        assert_eq!(keys.driver(&driver), "{tracking}:driver:d:1");
        let rider = RiderId::parse("ana").unwrap();
        assert_eq!(
            Keys::rider_lease("tracking", &rider),
            "{tracking:rider:ana}:requesting"
        );
        assert_eq!(
            keys.ride(&RideId::parse("k3x9q2ab.42").unwrap()),
            "{tracking}:ride:k3x9q2ab.42"
        );
    }

    #[test]
    fn every_id_stays_behind_its_own_prefix() {
        let keys = Keys::new("tracking", None);
        for id in ["drivers", "1:x", "..", "rides:ids"] {
            let key = keys.ride(&RideId::parse(id).unwrap());
            assert!(key.starts_with("{tracking}:ride:"), "{key}");
        }
        // What cannot be an id never reaches a key.
        assert!(RideId::parse("{tracking}:drivers:available").is_err());
        assert!(RideId::parse("a b").is_err());
    }
}
