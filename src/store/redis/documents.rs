//! Persisted queries registered by clients (APQ), shared by every instance
//! on one Redis: once one instance has the text of a hash, all do.
//!
//! Anyone may register, so what is kept is bounded three ways: a document
//! is only registered once it hashes to its key and validates (see
//! `api::prepare::persisted`), within the query-size limit; each expires
//! `ttl` after its last registration; and at most `max_entries` are kept,
//! the soonest to expire going first. The keys share one hash tag,
//! `{PREFIX:apq}`, so that on a Cluster one node holds them all and the
//! registration script touches one slot; their names hold only a checked
//! SHA-256.

use std::time::Duration;

use redis::Script;

use super::{connection::Conn, util::with_timeout, Connector};
use crate::{domain::error::Error, store::documents::SharedDocuments};

/// Registers a document and keeps the set bounded. KEYS: the index (a
/// sorted set of hashes by expiry), the document's key. ARGV: text, ttl in
/// ms, now in ms, most entries, hash, the document keys' prefix.
const REGISTER: &str = r"
local index, doc = KEYS[1], KEYS[2]
local text, ttl, now, cap, hash, prefix =
  ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
if not redis.call('ZSCORE', index, hash) then
  local over = redis.call('ZCARD', index) - cap + 1
  if over > 0 then
    local oldest = redis.call('ZPOPMIN', index, over)
    for i = 1, #oldest, 2 do redis.call('DEL', prefix .. oldest[i]) end
  end
end
redis.call('SET', doc, text, 'PX', ttl)
redis.call('ZADD', index, now + ttl, hash)
return 1
";

/// The registry on Redis.
pub struct RedisDocuments {
    conn: Conn,
    /// `{PREFIX:apq}:`: the documents' keys are this and their hash.
    prefix: String,
    index: String,
    ttl: Duration,
    max_entries: usize,
    register: Script,
}

impl RedisDocuments {
    pub async fn connect(
        connector: &Connector,
        prefix: &str,
        ttl: Duration,
        max_entries: usize,
    ) -> Result<Self, Error> {
        let tag = format!("{{{prefix}:apq}}");
        Ok(Self {
            conn: connector.connect().await?,
            prefix: format!("{tag}:"),
            index: format!("{tag}:index"),
            ttl: ttl.max(Duration::from_secs(1)),
            max_entries: max_entries.max(1),
            register: Script::new(REGISTER),
        })
    }
}

#[async_trait::async_trait]
impl SharedDocuments for RedisDocuments {
    async fn get(&self, hash: &str) -> Result<Option<String>, Error> {
        let mut conn = self.conn.clone();
        let key = format!("{}{hash}", self.prefix);
        with_timeout(redis::cmd("GET").arg(&key).query_async(&mut conn)).await
    }

    async fn put(&self, hash: &str, text: &str) -> Result<(), Error> {
        let mut conn = self.conn.clone();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let key = format!("{}{hash}", self.prefix);
        let mut invocation = self.register.prepare_invoke();
        invocation
            .key(&self.index)
            .key(&key)
            .arg(text)
            .arg(self.ttl.as_millis() as u64)
            .arg(now)
            .arg(self.max_entries)
            .arg(hash)
            .arg(&self.prefix);
        with_timeout(invocation.invoke_async::<i64>(&mut conn)).await?;
        Ok(())
    }
}
