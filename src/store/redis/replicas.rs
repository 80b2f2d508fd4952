//! Ride writes acknowledged only once a replica has them: on a Cluster
//! with replicas, each write waits (`WAIT 1`) so a failover loses none.

use std::{sync::atomic::Ordering, time::Duration};

use tracing::{info, warn};

use super::{
    connection::COMMAND_TIMEOUT,
    handle::RedisStore,
    util::{duration_ms, with_timeout},
};
use crate::domain::error::{Error, Result};

/// The longest one `WAIT` blocks the node's shared connection.
const WAIT_SLICE: Duration = Duration::from_millis(100);

impl RedisStore {
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
    pub(super) async fn replicated(&self) -> Result<()> {
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
    pub(super) async fn wait_for_replica(&self) -> Result<()> {
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
    pub(super) async fn count_replicas(&self) -> Result<i64> {
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

    pub(super) fn note_without_replica(&self) {
        if !self.without_replica.swap(true, Ordering::Relaxed) {
            warn!(area = %self.keys.tag(), "the primary has no replica: writes are not replicated until one is back");
        }
    }
}
