//! The Redis store's handle: its settings, its connection, the server's
//! clock as last learnt, and how it calls the library's functions.

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
use tracing::warn;

use super::{
    bridge,
    connection::{Conn, Connector},
    fields::{count_offers_ended, driver_from_fields, ride_from_fields, split_reply},
    functions,
    keys::Keys,
    layout,
    util::{duration_ms, with_timeout},
};
use crate::{
    domain::error::{Error, Result},
    domain::{AreaId, Driver, DriverId, RadiusKm, Ride, RideId},
    store::{EventHub, Retention, Upkeep},
};

/// Snapshots one store reads at once; more wait their turn (see
/// [`reads`](super::reads)).
pub(super) const SNAPSHOT_READS: usize = 2;

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
    /// Whether changes are logged (the area's event stream).
    pub log: crate::store::LogSettings,
    /// At most this many single reports in one call (group commit, see
    /// [`group`](super::group)); `--max-report-batch`.
    pub max_report_batch: usize,
}

/// The Redis [`Store`](crate::store::Store).
pub struct RedisStore {
    pub(super) conn: Conn,
    pub(super) keys: Keys,
    pub(super) settings: RedisSettings,
    /// This instance's name in the area's `instances`.
    pub(super) instance: String,
    pub(super) events: Arc<EventHub>,
    pub(super) bridge_up: Arc<AtomicBool>,
    /// Stops the bridge when the store goes.
    pub(super) bridge_stop: CancellationToken,
    /// The server's clock less ours, in ms, as last learnt from a call.
    pub(super) clock_offset_ms: Arc<AtomicI64>,
    /// The ride epoch last seen: when the store's differs, it lost its data.
    pub(super) epoch: Mutex<Option<String>>,
    /// Whether ride writes wait for a replica (a Cluster with replicas).
    pub(super) wait_replicas: bool,
    /// Whether the last write found no replica to wait for (logged once).
    pub(super) without_replica: AtomicBool,
    /// Replicas of the area's primary, as last read; -1: to be read again
    /// (at start, and after a call failed: the topology may have changed).
    pub(super) replicas: AtomicI64,
    /// Writes finished that want a replica, and how many of them a
    /// replica is known to have; one wait at a time (see `replicated`).
    pub(super) writes: AtomicU64,
    pub(super) covered: AtomicU64,
    /// How many of them a wait that failed was sent after.
    pub(super) failed: AtomicU64,
    pub(super) wait_turn: tokio::sync::Mutex<()>,
    /// Turns of the snapshot reads (see [`reads`](super::reads)).
    pub(super) snapshot_reads: tokio::sync::Semaphore,
    /// Single reports gathered into shared calls.
    pub(super) reports: Arc<super::group::Group>,
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
        let reports = Arc::new(super::group::Group::new(settings.max_report_batch));
        let store = Self {
            conn,
            keys,
            settings,
            instance: instance_name(),
            events,
            bridge_up,
            bridge_stop,
            clock_offset_ms: Arc::new(AtomicI64::new(0)),
            epoch: Mutex::new(None),
            wait_replicas,
            without_replica: AtomicBool::new(false),
            replicas: AtomicI64::new(-1),
            writes: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            wait_turn: tokio::sync::Mutex::new(()),
            snapshot_reads: tokio::sync::Semaphore::new(SNAPSHOT_READS),
            reports,
        };
        store.ping().await?;
        Ok(store)
    }

    /// Remembers the epoch of a ride this instance created.
    pub(super) fn note_epoch(&self, id: &RideId) {
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
    pub(super) fn check_epoch(&self, current: &str) {
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

    /// Calls one of the library's functions (see `lua/common.lua` for
    /// the calling convention) on this area's node, with `subject` (a
    /// driver or ride hash) declared as a key when there is one.
    pub(super) async fn call<T: redis::FromRedisValue>(
        &self,
        name: &str,
        subject: Option<&str>,
        own: &[String],
    ) -> Result<T> {
        let cmd = self.function_cmd(name, subject, own);
        let result = run_function(self.conn.clone(), cmd).await;
        if matches!(result, Err(Error::Unavailable { .. })) {
            // The node may have failed over: its replicas are read again.
            self.replicas.store(-1, Ordering::Relaxed);
        }
        result
    }

    /// The `FCALL` of one of the library's functions, with the common
    /// arguments (see `lua/common.lua`) and the function's own.
    pub(super) fn function_cmd(
        &self,
        name: &str,
        subject: Option<&str>,
        own: &[String],
    ) -> redis::Cmd {
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
            .arg(if self.settings.log.enabled { "1" } else { "0" })
            .arg(self.settings.log.approach_meters)
            .arg(own);
        cmd
    }

    /// Learns the server's clock from a time a script read (ms).
    pub(super) fn learn_clock(&self, server_ms: &str) {
        learn_clock(&self.clock_offset_ms, server_ms);
    }

    /// Splits a script's reply, learning the server's clock from it and
    /// counting the offers it ended.
    pub(super) fn fields(&self, reply: Vec<String>) -> Result<(String, HashMap<String, String>)> {
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
    pub(super) async fn ride_call(
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
    pub(super) async fn ride_call_fields(
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
    pub(super) fn owns(&self, ride: &RideId) -> bool {
        AreaId::of_ride(ride).as_ref() == self.settings.area.as_ref()
    }

    pub(super) fn driver_from_fields(
        &self,
        id: &DriverId,
        fields: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Driver> {
        driver_from_fields(id, fields, now, self.settings.driver_ttl)
    }

    /// Driver changes are published while this flag lives; each instance
    /// with watchers renews it every maintenance tick.
    pub(super) async fn mark_drivers_watched(&self) -> Result<()> {
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

/// A name unique to this process's life: host-independent, random enough.
fn instance_name() -> String {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("{:x}-{:x}", std::process::id(), nanos)
}

/// Runs a function's `FCALL` on `conn` (owned: a call may outlive its
/// caller, as a group commit's does), loading the library again once should
/// the node have lost it (restarted empty, replaced).
pub(super) async fn run_function<T: redis::FromRedisValue>(
    mut conn: Conn,
    cmd: redis::Cmd,
) -> Result<T> {
    match with_timeout(cmd.query_async::<T>(&mut conn)).await {
        Err(Error::Internal { message, .. }) if message.contains("Function not found") => {
            functions::load(&mut conn).await?;
            with_timeout(cmd.query_async::<T>(&mut conn)).await
        }
        other => other,
    }
}

/// Learns the server's clock (less ours) from a time a script read (ms).
pub(super) fn learn_clock(offset: &AtomicI64, server_ms: &str) {
    if let Ok(server) = server_ms.parse::<i64>() {
        offset.store(server - Utc::now().timestamp_millis(), Ordering::Relaxed);
    }
}
