//! The Lua function library (`lua/tracking.lua`): loaded into Redis with
//! `FUNCTION LOAD REPLACE` when a store connects (on a Cluster, into every
//! primary; replicas get it by replication), and again should a node have
//! lost it; called with `FCALL`. Redis runs the library's top level once,
//! when it loads, so the helpers every function shares cost nothing per call.

use super::{connection::Conn, util::with_timeout};
use crate::error::Result;

/// The library, whose name carries the key layout it works on.
const LIBRARY: &str = include_str!("lua/tracking.lua");

/// A function's full name.
pub(super) fn name(function: &str) -> String {
    format!("tracking_v2_{function}")
}

/// Loads (or replaces) the library.
pub(super) async fn load(conn: &mut Conn) -> Result<()> {
    let mut load = redis::cmd("FUNCTION");
    load.arg("LOAD").arg("REPLACE").arg(LIBRARY);
    with_timeout(load.query_async::<redis::Value>(conn)).await?;
    Ok(())
}
