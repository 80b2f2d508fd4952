//! The key layout's version, and `tracking migrate`.
//!
//! Every instance checks `{prefix}:layout` when it connects. Version 2 (this
//! one) keeps each driver's last report in one hash field per driver and
//! its last-seen time in coarse buckets; version 1 kept both in the
//! driver's own hash and an exact sorted set, and wrote no version. An
//! instance refuses to start on data of another layout, saying how to
//! migrate; a Redis with no data of either gets the version written.
//!
//! `tracking migrate` converts a version-1 fleet in place (stop every
//! instance first): each driver's hash becomes its `last` field (plus the
//! hash's `ride` and `ignored`), the last-seen set gets bucket scores, and
//! the version is written. Rides and every other key are the same in both.

use std::collections::HashMap;

use super::{
    connection::Conn,
    keys::Keys,
    util::{duration_ms, with_timeout},
};
use crate::domain::error::{Error, Result};

/// This layout.
pub const VERSION: &str = "2";

/// The key holding the layout's version.
pub fn key(prefix: &str) -> String {
    format!("{{{prefix}}}:layout")
}

/// Whether Redis holds data under `prefix` written before versions were
/// (by version 1).
async fn holds_version_1(conn: &mut Conn, prefix: &str) -> Result<bool> {
    let keys = Keys::new(prefix, None);
    let mut exists = redis::cmd("EXISTS");
    exists
        .arg(keys.ride_ids())
        .arg(keys.seen())
        .arg(keys.available())
        .arg(keys.offline());
    let found: i64 = with_timeout(exists.query_async(conn)).await?;
    Ok(found > 0)
}

/// Refuses another layout's data; writes the version into an empty Redis.
pub async fn check(conn: &mut Conn, prefix: &str) -> Result<()> {
    let version: Option<String> =
        with_timeout(redis::cmd("GET").arg(key(prefix)).query_async(conn)).await?;
    match version.as_deref() {
        Some(VERSION) => Ok(()),
        Some(other) => Err(Error::unavailable(format!(
            "Redis holds key layout {other} under {{{prefix}}}; this version of tracking uses layout {VERSION} and cannot convert it back"
        ))),
        None if holds_version_1(conn, prefix).await? => Err(Error::unavailable(format!(
            "Redis holds the previous key layout (1) under {{{prefix}}}: stop every instance, then run `tracking migrate` with the same --redis-url and --redis-prefix (it converts the fleet in place)"
        ))),
        None => {
            let mut set = redis::cmd("SET");
            set.arg(key(prefix)).arg(VERSION).arg("NX");
            with_timeout(set.query_async::<Option<String>>(conn)).await?;
            Ok(())
        }
    }
}

/// What a migration did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub drivers: usize,
}

/// Converts a version-1 fleet under `prefix` to this layout, in place.
/// Run with every instance stopped. Converting twice does nothing.
pub async fn migrate(
    conn: &mut Conn,
    prefix: &str,
    driver_ttl: std::time::Duration,
) -> Result<Migrated> {
    let version: Option<String> =
        with_timeout(redis::cmd("GET").arg(key(prefix)).query_async(conn)).await?;
    if version.as_deref() == Some(VERSION) {
        return Ok(Migrated::default());
    }
    if let Some(other) = version {
        return Err(Error::unavailable(format!(
            "Redis holds key layout {other}; only layout 1 can be migrated"
        )));
    }
    let keys = Keys::new(prefix, None);
    let bucket = (duration_ms(driver_ttl) / 6).max(1);
    let pattern = format!("{}*", keys.driver_prefix());
    let mut migrated = Migrated::default();
    let mut cursor: u64 = 0;
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500);
        let value = with_timeout(conn.on_node_of(&keys.ride_ids(), scan)).await?;
        let (next, found): (u64, Vec<String>) = redis::FromRedisValue::from_redis_value(value)
            .map_err(|e| Error::internal(format!("SCAN: {e}")))?;
        for key in found {
            let fields: HashMap<String, String> =
                with_timeout(redis::cmd("HGETALL").arg(&key).query_async(conn)).await?;
            let (Some(lng), Some(lat), Some(updated), Some(state)) = (
                fields.get("lng"),
                fields.get("lat"),
                fields.get("updated"),
                fields.get("state"),
            ) else {
                continue;
            };
            let id = key
                .rsplit_once(":driver:")
                .map(|(_, id)| id)
                .unwrap_or_default();
            let ms: i64 = updated.parse().unwrap_or(0);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .hset(keys.last(), id, format!("{lng}|{lat}|{ms}|{state}"))
                .ignore()
                .hdel(&key, &["lng", "lat", "updated", "state"])
                .ignore();
            if state == "AVAILABLE" || state == "OFFERED" {
                pipe.zadd(keys.seen(), id, ms - ms.rem_euclid(bucket))
                    .ignore();
            }
            with_timeout(pipe.query_async::<()>(conn)).await?;
            migrated.drivers += 1;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut set = redis::cmd("SET");
    set.arg(key(prefix)).arg(VERSION);
    with_timeout(set.query_async::<()>(conn)).await?;
    Ok(migrated)
}
