//! Where each driver is, with an areas file on Redis: one small pointer key
//! per driver, `{prefix}:where:<driver>`, holding its area's id. Set when a
//! driver starts in or moves to an area, removed with the driver.

use async_trait::async_trait;

use super::connection::Conn;
use crate::{
    domain::{AreaId, DriverId},
    error::{Error, Result},
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
}

#[async_trait]
impl Directory for Pointers {
    async fn locate(&self, id: &DriverId) -> Result<Option<AreaId>> {
        let mut conn = self.conn.clone();
        let area: Option<String> = redis::cmd("GET")
            .arg(self.key(id))
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::unavailable_because(format!("Redis: {e}"), e))?;
        Ok(area.and_then(|a| AreaId::parse(&a).ok()))
    }

    async fn place(&self, id: &DriverId, area: &AreaId) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(id))
            .arg(area.as_str())
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| Error::unavailable_because(format!("Redis: {e}"), e))
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
            .map_err(|e| Error::unavailable_because(format!("Redis: {e}"), e))
    }

    fn keeps_track(&self) -> bool {
        true
    }
}
