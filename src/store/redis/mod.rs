//! The Redis store: one fleet (or one area of it) shared by every instance
//! pointed at it.
//!
//! Data model: see [`keys`]. Every change of state is one Redis function
//! (`lua/tracking.lua`, loaded into each node once with `FUNCTION LOAD`,
//! called with `FCALL`), so matching, offers, the trip's steps, cancelling
//! and expiring are atomic across instances: no driver is ever assigned
//! twice. The functions read the server's clock (`TIME`), never the
//! caller's.
//!
//! All of one area's keys share one hash tag, `{prefix}` or
//! `{prefix:area}`, so on a Redis Cluster an area is one slot, every call
//! stays atomic, and areas spread over the nodes ([`connection`]).
//!
//! Each status change is published on the area's `events` channel inside
//! the function that makes it (sharded pub/sub on a Cluster); every
//! instance listens ([`bridge`]) and feeds its local [`EventHub`], so a
//! subscription on one instance sees what a search task on another did.
//!
//! Ownership of searching rides: each instance holds a lease in the area's
//! `instances`, renewed every quarter of the lease, and a set of the rides
//! it searches for. When an instance stops renewing (killed, or cut off),
//! the next instance to renew adopts its rides and restarts their search
//! tasks; a ride past its deadline then expires at its first search, so
//! expiry happens even if no instance was up at the deadline.
//!
//! Outages: commands fail fast with `UNAVAILABLE` while Redis is away; the
//! bridge re-subscribes and live streams re-read what they show after a
//! reconnect, and the search tasks retry until Redis answers. On a Cluster
//! with replicas, ride writes are acknowledged only once a replica has
//! them (`WAIT 1`), so a failover loses no acknowledged ride.

mod bridge;
pub mod connection;
pub mod documents;
mod fields;
mod functions;
pub mod keys;
pub mod layout;
pub mod pointers;
mod reads;
pub mod riders;
mod store;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{EventHub, Retention, Upkeep};
use crate::{
    domain::{AreaId, Driver, DriverId, OfferEndReason, RadiusKm, Ride, RideId},
    error::{Error, Result},
};
use connection::{Conn, COMMAND_TIMEOUT};
pub use connection::{Connector, Target};
use fields::split_reply;
pub(crate) use fields::{driver_from_fields, ride_from_fields};
pub use keys::Keys;

/// What the Redis store needs to know.
#[derive(Clone)]
pub struct RedisSettings {
    /// Where Redis is, and how to reach it.
    pub connector: Connector,
    pub prefix: String,
    /// The area this store holds (`None`: the only one, `default`).
    pub area: Option<AreaId>,
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
    conn: Conn,
    keys: Keys,
    settings: RedisSettings,
    /// This instance's name in the area's `instances`.
    instance: String,
    events: Arc<EventHub>,
    bridge_up: Arc<AtomicBool>,
    /// Stops the bridge when the store goes.
    bridge_stop: CancellationToken,
    /// The server's clock less ours, in ms, as last learnt from a call.
    clock_offset_ms: AtomicI64,
    /// The ride epoch last seen: when the store's differs, it lost its data.
    epoch: Mutex<Option<String>>,
    /// Whether ride writes wait for a replica (a Cluster with replicas).
    wait_replicas: bool,
    /// Whether the last write found no replica to wait for (logged once).
    without_replica: AtomicBool,
    /// Replicas of the area's primary, as last read; -1: to be read again
    /// (at start, and after a call failed: the topology may have changed).
    replicas: AtomicI64,
    /// Writes finished that want a replica, and how many of them a
    /// replica is known to have; one wait at a time (see `replicated`).
    writes: AtomicU64,
    covered: AtomicU64,
    /// How many of them a wait that failed was sent after.
    failed: AtomicU64,
    wait_turn: tokio::sync::Mutex<()>,
    /// Turns of the snapshot reads (see [`reads`]).
    snapshot_reads: tokio::sync::Semaphore,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.bridge_stop.cancel();
    }
}

impl RedisStore {
    /// Connects (failing at once when Redis cannot be reached), checks the
    /// key layout, loads the functions and starts the event bridge.
    pub async fn connect(settings: RedisSettings) -> Result<Self> {
        let conn = settings.connector.connect().await?;
        let events = Arc::new(EventHub::default());
        Self::on(settings, conn, events).await
    }

    /// The store of one area on a shared connection, publishing into a
    /// shared hub.
    pub async fn on(
        settings: RedisSettings,
        mut conn: Conn,
        events: Arc<EventHub>,
    ) -> Result<Self> {
        layout::check(&mut conn, &settings.prefix).await?;
        functions::load(&mut conn).await?;
        let keys = Keys::new(&settings.prefix, settings.area.as_ref());
        let wait_replicas = settings.connector.is_cluster() && has_replicas(&mut conn).await;
        let bridge_up = Arc::new(AtomicBool::new(false));
        let bridge_stop = CancellationToken::new();
        bridge::spawn(
            settings.connector.clone(),
            keys.clone(),
            events.clone(),
            bridge_up.clone(),
            bridge_stop.clone(),
            settings.driver_ttl,
        )?;
        let store = Self {
            conn,
            keys,
            settings,
            instance: instance_name(),
            events,
            bridge_up,
            bridge_stop,
            clock_offset_ms: AtomicI64::new(0),
            epoch: Mutex::new(None),
            wait_replicas,
            without_replica: AtomicBool::new(false),
            replicas: AtomicI64::new(-1),
            writes: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            wait_turn: tokio::sync::Mutex::new(()),
            snapshot_reads: reads::snapshot_permits(),
        };
        store.ping().await?;
        Ok(store)
    }

    /// Remembers the epoch of a ride this instance created.
    fn note_epoch(&self, id: &RideId) {
        // The bare epoch, as the store keeps it: a ride id of an area
        // carries the area's prefix too.
        if let Some(epoch) = id.epoch() {
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
            metrics::counter!(crate::telemetry::STORE_DATA_LOST).increment(1);
            self.events.resync();
        }
    }

    /// True while the event subscription is connected.
    pub fn bridge_connected(&self) -> bool {
        self.bridge_up.load(Ordering::Relaxed)
    }

    /// Calls one of the library's functions (see `lua/tracking.lua` for
    /// the calling convention) on this area's node, with `subject` (a
    /// driver or ride hash) declared as a key when there is one.
    async fn call<T: redis::FromRedisValue>(
        &self,
        name: &str,
        subject: Option<&str>,
        own: &[String],
    ) -> Result<T> {
        let k = &self.keys;
        let mut cmd = redis::cmd("FCALL");
        cmd.arg(functions::name(name))
            .arg(if subject.is_some() { 2 } else { 1 })
            .arg(k.ride_ids());
        if let Some(subject) = subject {
            cmd.arg(subject);
        }
        let ttl = duration_ms(self.settings.driver_ttl);
        cmd.arg(k.tag())
            .arg(ttl)
            .arg(self.settings.match_radius.km())
            .arg(duration_ms(self.settings.retention.rides))
            .arg(duration_ms(self.settings.retention.drivers))
            .arg(if self.settings.connector.is_cluster() {
                "SPUBLISH"
            } else {
                "PUBLISH"
            })
            .arg((ttl / 6).max(1))
            .arg(own);
        let mut conn = self.conn.clone();
        let first = with_timeout(cmd.query_async::<T>(&mut conn)).await;
        if matches!(first, Err(Error::Unavailable { .. })) {
            // The node may have failed over: its replicas are read again.
            self.replicas.store(-1, Ordering::Relaxed);
        }
        match first {
            Err(Error::Internal { message, .. }) if message.contains("Function not found") => {
                // A node that lost its functions (restarted empty, replaced).
                functions::load(&mut conn).await?;
                with_timeout(cmd.query_async::<T>(&mut conn)).await
            }
            other => other,
        }
    }

    /// Waits until a replica has this area's writes, when the Cluster has
    /// replicas: a failover then loses no write acknowledged to a client.
    /// A primary without any replica (its own replica took over from it,
    /// and nothing replaced the old one) cannot wait: writes go on at once,
    /// said once in the log, until a replica is back.
    ///
    /// How many replicas the area's primary has is known before waiting
    /// (read with `INFO replication` at the first write, every maintenance
    /// tick, and again after any failed call or a wait that fell short), so
    /// a primary without one never makes a write wait; and a `WAIT` blocks
    /// the node's shared connection for at most [`WAIT_SLICE`] at a time,
    /// so a replica that stopped answering never holds unrelated writes
    /// for long. One `WAIT` at a time per area, and one covers every write
    /// this instance finished before sending it (a replica that has the
    /// latest write of a connection has every earlier one): concurrent
    /// writes share a wait instead of queueing one behind another.
    async fn replicated(&self) -> Result<()> {
        if !self.wait_replicas {
            return Ok(());
        }
        let mine = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let Ok(_turn) = tokio::time::timeout(COMMAND_TIMEOUT, self.wait_turn.lock()).await else {
            return Err(Error::unavailable(
                "no replica acknowledged the write in time",
            ));
        };
        if self.covered.load(Ordering::SeqCst) >= mine {
            return Ok(());
        }
        // A wait sent after this write failed: this one fails with it, at
        // once, instead of waiting again in turn.
        if self.failed.load(Ordering::SeqCst) >= mine {
            return Err(Error::unavailable(
                "no replica acknowledged the write in time",
            ));
        }
        let upto = self.writes.load(Ordering::SeqCst);
        match self.wait_for_replica().await {
            Ok(()) => {
                self.covered.fetch_max(upto, Ordering::SeqCst);
                Ok(())
            }
            Err(error) => {
                self.failed.fetch_max(upto, Ordering::SeqCst);
                Err(error)
            }
        }
    }

    /// One wait for a replica (see [`RedisStore::replicated`]).
    async fn wait_for_replica(&self) -> Result<()> {
        let known = match self.replicas.load(Ordering::Relaxed) {
            n if n >= 0 => n,
            _ => self.count_replicas().await?,
        };
        if known == 0 {
            self.note_without_replica();
            return Ok(());
        }
        let anchor = self.keys.ride_ids();
        let deadline = tokio::time::Instant::now() + COMMAND_TIMEOUT / 2;
        loop {
            let mut conn = self.conn.clone();
            let mut wait = redis::cmd("WAIT");
            wait.arg(1).arg(duration_ms(WAIT_SLICE));
            let acked: i64 = match with_timeout(conn.on_node_of(&anchor, wait)).await {
                Ok(value) => redis::from_redis_value(value)
                    .map_err(|e| Error::internal(format!("WAIT answered oddly: {e}")))?,
                Err(error) => {
                    self.replicas.store(-1, Ordering::Relaxed);
                    return Err(error);
                }
            };
            if acked >= 1 {
                if self.without_replica.swap(false, Ordering::Relaxed) {
                    info!(area = %self.keys.tag(), "writes are replicated again");
                }
                return Ok(());
            }
            // Short: is there still a replica to wait for?
            if self.count_replicas().await? == 0 {
                self.note_without_replica();
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::unavailable(
                    "no replica acknowledged the write in time",
                ));
            }
        }
    }

    /// Reads how many replicas the area's primary has now, and keeps it.
    async fn count_replicas(&self) -> Result<i64> {
        let anchor = self.keys.ride_ids();
        let mut conn = self.conn.clone();
        let mut role = redis::cmd("INFO");
        role.arg("replication");
        let counted = match with_timeout(conn.on_node_of(&anchor, role)).await {
            Ok(value) => {
                let info: String = redis::from_redis_value(value).unwrap_or_default();
                info.lines()
                    .find_map(|l| l.strip_prefix("connected_slaves:"))
                    .and_then(|n| n.trim().parse::<i64>().ok())
                    .unwrap_or(0)
            }
            Err(error) => {
                self.replicas.store(-1, Ordering::Relaxed);
                return Err(error);
            }
        };
        self.replicas.store(counted, Ordering::Relaxed);
        Ok(counted)
    }

    fn note_without_replica(&self) {
        if !self.without_replica.swap(true, Ordering::Relaxed) {
            warn!(area = %self.keys.tag(), "the primary has no replica: writes are not replicated until one is back");
        }
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

    /// Runs a ride function and reads back `{tag, field, value, …}`.
    async fn ride_call(
        &self,
        name: &str,
        id: &RideId,
        extra: &[String],
    ) -> Result<(String, Arc<Ride>)> {
        let (tag, fields) = self.ride_call_fields(name, id, extra).await?;
        Ok((tag, Arc::new(ride_from_fields(&fields)?)))
    }

    /// [`Self::ride_call`], with the reply's fields as they came (for
    /// the extras a function adds to the ride's).
    async fn ride_call_fields(
        &self,
        name: &str,
        id: &RideId,
        extra: &[String],
    ) -> Result<(String, HashMap<String, String>)> {
        let key = self.keys.ride(id);
        let mut own = vec![id.to_string()];
        own.extend_from_slice(extra);
        let reply: Vec<String> = self.call(name, Some(&key), &own).await?;
        let (tag, fields) = self.fields(reply)?;
        if tag == "NOT_FOUND" {
            return Err(Error::ride_not_found(id));
        }
        Ok((tag, fields))
    }

    /// Whether a ride id is one of this store's (its area's).
    fn owns(&self, ride: &RideId) -> bool {
        AreaId::of_ride(ride).as_ref() == self.settings.area.as_ref()
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
}

/// Whether the Cluster has replicas (then writes wait for one): `CLUSTER
/// NODES` lists each node with its flags, `slave` for a replica.
async fn has_replicas(conn: &mut Conn) -> bool {
    let nodes: redis::RedisResult<String> =
        redis::cmd("CLUSTER").arg("NODES").query_async(conn).await;
    nodes.is_ok_and(|text| {
        text.lines().any(|line| {
            line.split_whitespace()
                .nth(2)
                .is_some_and(|flags| flags.split(',').any(|f| f == "slave"))
        })
    })
}

/// Counts the offers a call ended (`ACCEPTED,TIMED_OUT`, …).
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

/// The longest one `WAIT` blocks the node's shared connection.
const WAIT_SLICE: Duration = Duration::from_millis(100);

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
