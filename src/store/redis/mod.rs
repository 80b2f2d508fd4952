//! The Redis store: one fleet shared by every instance pointed at it.
//!
//! Data model: see [`keys`]. Every change of state is one Lua script
//! (`lua/*.lua`, each prefixed with `lua/common.lua`), loaded once and run
//! with `EVALSHA` (reloaded on `NOSCRIPT` by `redis::Script`), so matching,
//! cancelling, completing and expiring are atomic across instances: no driver
//! is ever assigned twice. Scripts take the current time as an argument and
//! never read a clock.
//!
//! Each status change is published on the `{P}:events` channel inside the
//! script that makes it; every instance runs one subscriber connection
//! ([`bridge`]) that feeds its local [`EventHub`], so a subscription on one
//! instance sees what a search task on another did.
//!
//! Ownership of searching rides: each instance holds a lease in
//! `{P}:instances`, renewed every quarter of the lease, and a set of the
//! rides it searches for. When an instance stops renewing (killed, or cut
//! off), the next instance to renew adopts its rides and restarts their
//! search tasks; a ride past its deadline then expires at its first search,
//! so expiry happens even if no instance was up at the deadline.
//!
//! Outages: commands go through a reconnecting `ConnectionManager` with
//! short timeouts, so while Redis is down operations fail fast with
//! `UNAVAILABLE`; the bridge re-subscribes and re-reads the watched rides
//! after a reconnect, and the search tasks retry until Redis answers.

mod bridge;
mod fields;
pub mod keys;
mod scripts;
mod store;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, Script};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{EventHub, Retention, Store};
use crate::{
    domain::{Driver, DriverId, OfferEndReason, RadiusKm, Ride, RideId},
    error::{Error, Result},
};
use fields::split_reply;
pub(crate) use fields::{driver_from_fields, ride_from_fields};
pub use keys::Keys;
use scripts::Scripts;

/// How long one Redis command may take before it fails as `UNAVAILABLE`.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// What the Redis store needs to know.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    pub prefix: String,
    pub driver_ttl: Duration,
    /// Drivers within this radius of a searching ride wake it.
    pub match_radius: RadiusKm,
    /// How long an instance owns its searching rides without renewing.
    pub lease: Duration,
    /// How long ended rides and silent drivers are kept.
    pub retention: Retention,
}

/// The Redis [`Store`].
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    settings: RedisSettings,
    /// This instance's name in `{P}:instances`.
    instance: String,
    scripts: Scripts,
    events: Arc<EventHub>,
    bridge_up: Arc<AtomicBool>,
    /// Stops the bridge when the store goes.
    bridge_stop: CancellationToken,
    /// The server's clock less ours, in ms, as last learnt from a script.
    clock_offset_ms: AtomicI64,
    /// The ride epoch last seen: when the store's differs, it lost its data.
    epoch: Mutex<Option<String>>,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.bridge_stop.cancel();
    }
}

impl RedisStore {
    /// Connects (failing at once when Redis cannot be reached) and starts
    /// the event bridge.
    pub async fn connect(settings: RedisSettings) -> Result<Self> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| {
                Error::unavailable_because(
                    format!("bad Redis URL (expected redis://[user:password@]host:port[/db], rediss://… for TLS, or unix:///path/to/redis.sock): {e}"),
                    e,
                )
            })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT * 4,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| Error::unavailable(format!("no answer from Redis at {}", settings.url)))?
        .map_err(|e| {
            Error::unavailable_because(
                format!("cannot connect to Redis at {}: {e}", settings.url),
                e,
            )
        })?;
        let keys = Keys::new(&settings.prefix);
        let events = Arc::new(EventHub::default());
        let bridge_up = Arc::new(AtomicBool::new(false));
        let bridge_stop = CancellationToken::new();
        bridge::spawn(
            client,
            keys.clone(),
            events.clone(),
            bridge_up.clone(),
            bridge_stop.clone(),
            settings.driver_ttl,
        );
        let store = Self {
            conn,
            keys,
            settings,
            instance: instance_name(),
            scripts: Scripts::load(),
            events,
            bridge_up,
            bridge_stop,
            clock_offset_ms: AtomicI64::new(0),
            epoch: Mutex::new(None),
        };
        store.ping().await?;
        Ok(store)
    }

    /// Remembers the epoch of a ride this instance created.
    fn note_epoch(&self, id: &RideId) {
        if let Some((epoch, _)) = id.as_str().split_once('.') {
            let mut known = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
            if known.as_deref() != Some(epoch) {
                *known = Some(epoch.to_owned());
            }
        }
    }

    /// Compares the store's epoch with the one last seen: a store that lost
    /// its data (restarted empty, flushed, evicted) has another or none.
    /// Then every live stream re-reads what it shows: watched rides that
    /// are gone end with NOT_FOUND, never showing a later ride's data.
    fn check_epoch(&self, current: &str) {
        let current = (!current.is_empty()).then(|| current.to_owned());
        let mut known = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        let lost = matches!((&*known, &current), (Some(old), now) if now.as_ref() != Some(old));
        *known = current;
        drop(known);
        if lost {
            warn!("the Redis store lost its data (its ride epoch changed); live streams re-read");
            self.events.resync();
        }
    }

    /// True while the event subscription is connected.
    pub fn bridge_connected(&self) -> bool {
        self.bridge_up.load(Ordering::Relaxed)
    }

    /// The shared calling convention of the scripts (see `lua/common.lua`).
    fn invocation<'s>(
        &self,
        script: &'s Script,
        subject: &str,
        now: DateTime<Utc>,
    ) -> redis::ScriptInvocation<'s> {
        let k = &self.keys;
        let mut inv = script.prepare_invoke();
        inv.key(k.available())
            .key(k.seen())
            .key(k.searching())
            .key(k.pickups())
            .key(k.ride_ids())
            .key(k.instances())
            .key(k.active())
            .key(k.drivers_watched())
            .key(subject)
            .key(k.offline())
            .arg(k.driver_prefix())
            .arg(k.ride_prefix())
            .arg(k.owned_prefix())
            .arg(k.events_channel())
            .arg(k.wake_channel())
            .arg(k.drivers_channel())
            // The scripts read the server's TIME; the caller's clock is
            // never used for what instances share.
            .arg(now.timestamp_millis())
            .arg(duration_ms(self.settings.driver_ttl))
            .arg(self.settings.match_radius.km())
            .arg(duration_ms(self.settings.retention.rides))
            .arg(duration_ms(self.settings.retention.drivers))
            .arg(k.rider_prefix())
            .arg(k.idempotency_prefix())
            .arg(k.declined_prefix());
        inv
    }

    async fn run(&self, inv: redis::ScriptInvocation<'_>) -> Result<Vec<String>> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(COMMAND_TIMEOUT, inv.invoke_async(&mut conn))
            .await
            .map_err(|_| {
                metrics::counter!(crate::telemetry::STORE_ERRORS).increment(1);
                Error::unavailable("Redis did not answer in time")
            })?
            .map_err(redis_error)
    }

    /// Learns the server's clock from a time a script read (ms).
    fn learn_clock(&self, server_ms: &str) {
        if let Ok(server) = server_ms.parse::<i64>() {
            let offset = server - Utc::now().timestamp_millis();
            self.clock_offset_ms.store(offset, Ordering::Relaxed);
        }
    }

    /// Splits a script's reply, learning the server's clock from it and
    /// counting the offers it ended.
    fn fields(&self, reply: Vec<String>) -> Result<(String, HashMap<String, String>)> {
        let (tag, fields) = split_reply(reply)?;
        if let Some(now) = fields.get("_now") {
            self.learn_clock(now);
        }
        if let Some(ended) = fields.get("_ended") {
            count_offers_ended(ended);
        }
        Ok((tag, fields))
    }

    /// Runs a ride script and reads back `{tag, field, value, …}`.
    async fn ride_script(
        &self,
        script: &Script,
        id: &RideId,
        now: DateTime<Utc>,
        extra: &[String],
    ) -> Result<(String, Arc<Ride>)> {
        let key = self.keys.ride(id);
        let mut inv = self.invocation(script, &key, now);
        inv.arg(id.as_str());
        for arg in extra {
            inv.arg(arg);
        }
        let reply = self.run(inv).await?;
        let (tag, fields) = self.fields(reply)?;
        if tag == "NOT_FOUND" {
            return Err(Error::ride_not_found(id));
        }
        Ok((tag, Arc::new(ride_from_fields(&fields)?)))
    }

    fn driver_from_fields(
        &self,
        id: &DriverId,
        fields: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Driver> {
        driver_from_fields(id, fields, now, self.settings.driver_ttl)
    }

    /// Driver changes are published while this flag lives; each instance
    /// with watchers renews it every maintenance tick.
    async fn mark_drivers_watched(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        let ttl = u64::try_from(duration_ms(self.settings.lease * 2)).unwrap_or(10_000);
        let mut set = redis::cmd("SET");
        set.arg(self.keys.drivers_watched())
            .arg(1)
            .arg("PX")
            .arg(ttl);
        with_timeout(set.query_async::<()>(&mut conn)).await
    }

    /// `HGETALL` of many keys in one round trip.
    async fn hashes(&self, keys: &[String]) -> Result<Vec<HashMap<String, String>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.hgetall(key);
        }
        let mut conn = self.conn.clone();
        with_timeout(pipe.query_async(&mut conn)).await
    }

    /// Rides by id, in one round trip; ids that name no ride are skipped.
    async fn rides(&self, ids: &[String]) -> Result<Vec<Arc<Ride>>> {
        let keys: Vec<String> = ids
            .iter()
            .filter_map(|id| RideId::parse(id).ok().map(|id| self.keys.ride(&id)))
            .collect();
        self.hashes(&keys)
            .await?
            .iter()
            .filter(|fields| !fields.is_empty())
            .map(|fields| ride_from_fields(fields).map(Arc::new))
            .collect()
    }

    /// Drivers by id, in one round trip; unknown ids are skipped.
    async fn drivers_by_id(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>> {
        let keys: Vec<String> = ids.iter().map(|id| self.keys.driver(id)).collect();
        self.hashes(&keys)
            .await?
            .iter()
            .zip(ids)
            .filter(|(fields, _)| !fields.is_empty())
            .map(|(fields, id)| self.driver_from_fields(id, fields, now))
            .collect()
    }
}

/// Counts the offers a script ended (`ACCEPTED,TIMED_OUT`, …).
pub(super) fn count_offers_ended(reasons: &str) {
    reasons
        .split(',')
        .filter_map(OfferEndReason::from_stored)
        .for_each(crate::telemetry::offer_ended);
}

/// A name unique to this process's life: host-independent, random enough.
fn instance_name() -> String {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("{:x}-{:x}", std::process::id(), nanos)
}

pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn with_timeout<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, fut)
        .await
        .map_err(|_| {
            metrics::counter!(crate::telemetry::STORE_ERRORS).increment(1);
            Error::unavailable("Redis did not answer in time")
        })?
        .map_err(redis_error)
}

/// Connection trouble is `UNAVAILABLE` (try again); anything else is a bug.
fn redis_error(e: redis::RedisError) -> Error {
    metrics::counter!(crate::telemetry::STORE_ERRORS).increment(1);
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
    {
        Error::unavailable_because(e.to_string(), e)
    } else {
        Error::internal_because(format!("Redis: {e}"), e)
    }
}
