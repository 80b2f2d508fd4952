//! Where each driver is, with an areas file on Redis: one small pointer key
//! per driver, `{prefix}:where:<driver>`, holding its area's id. Set when a
//! driver starts in or moves to an area, removed with the driver.
//!
//! Beside it, while a driver moves between areas (or starts in one), a
//! lease `{prefix:driver:<driver>}:moving` with a random token and a TTL: taken
//! with `SET NX PX`, given back only by its holder, so two reports of one
//! driver, on any instances, never move it at once (a driver in two areas
//! could be matched twice). The TTL outlasts every step a holder takes
//! (each bounded by the command timeout), so a live holder never loses it;
//! a killed one's lapses.

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::connection::{Conn, COMMAND_TIMEOUT};
use crate::{
    domain::error::{Error, Result},
    domain::{AreaId, DriverId},
    store::areas::Directory,
};

/// Where each driver is, on Redis: `{prefix}:where:<driver>` holds its
/// area's id.
pub struct Pointers {
    conn: Conn,
    prefix: String,
}

impl Pointers {
    pub fn new(conn: Conn, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, id: &DriverId) -> String {
        format!("{{{}}}:where:{id}", self.prefix)
    }

    /// In the driver's own slot: moves of different drivers spread over
    /// the Cluster's nodes.
    fn lease_key(&self, id: &DriverId) -> String {
        format!("{{{}:driver:{id}}}:moving", self.prefix)
    }
}

/// How long a lease lives: longer than every step of a move together.
const LEASE_TTL: Duration = Duration::from_secs(15);
/// How long a report waits for another's move of the same driver.
const LEASE_WAIT: Duration = Duration::from_secs(4);

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable_because(format!("Redis: {e}"), e)
}

#[async_trait]
impl Directory for Pointers {
    async fn locate(&self, id: &DriverId) -> Result<Option<AreaId>> {
        let mut conn = self.conn.clone();
        let area: Option<String> = redis::cmd("GET")
            .arg(self.key(id))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(area.and_then(|a| AreaId::parse(&a).ok()))
    }

    async fn place(&self, id: &DriverId, area: &AreaId) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(id))
            .arg(area.as_str())
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn forget(&self, ids: &[DriverId], area: &AreaId) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // Only pointers still naming this area: a driver that moved on
        // keeps its new one.
        let script = redis::Script::new(
            "for _, k in ipairs(KEYS) do if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end end",
        );
        let mut invocation = script.prepare_invoke();
        for id in ids {
            invocation.key(self.key(id));
        }
        invocation.arg(area.as_str());
        let mut conn = self.conn.clone();
        invocation
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    fn keeps_track(&self) -> bool {
        true
    }

    async fn lease(&self, id: &DriverId) -> Result<Option<String>> {
        take_lease(&self.conn, &self.lease_key(id), || {
            format!("driver {id} is being moved between areas by another report; try again")
        })
        .await
        .map(Some)
    }

    async fn release(&self, id: &DriverId, lease: String) -> Result<()> {
        give_lease_back(&self.conn, &self.lease_key(id), lease).await
    }
}

/// Takes a lease: `SET key <token> NX PX` with [`LEASE_TTL`], waiting (with
/// back-off, at most [`LEASE_WAIT`]) while another holds it, then
/// `UNAVAILABLE` with `busy`'s words. Returns the token.
pub(super) async fn take_lease(
    conn: &Conn,
    key: &str,
    busy: impl Fn() -> String,
) -> Result<String> {
    let token = crate::domain::RideId::new_epoch();
    let deadline = Instant::now() + LEASE_WAIT;
    let mut pause = Duration::from_millis(2);
    loop {
        let mut conn = conn.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LEASE_TTL.as_millis().to_string())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if taken.is_some() {
            return Ok(token);
        }
        if Instant::now() + pause > deadline {
            return Err(Error::unavailable(busy()));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(COMMAND_TIMEOUT / 20);
    }
}

/// Gives a lease back, only if it is still the one `token` took.
pub(super) async fn give_lease_back(conn: &Conn, key: &str, token: String) -> Result<()> {
    let script = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end",
    );
    let mut conn = conn.clone();
    script
        .key(key)
        .arg(token)
        .invoke_async::<()>(&mut conn)
        .await
        .map_err(unavailable)
}
