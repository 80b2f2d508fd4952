//! The Lua function library (`lua/*.lua`, one file per subject, joined
//! into one library here): loaded into Redis with
//! `FUNCTION LOAD REPLACE` when a store connects (on a Cluster, into every
//! primary; replicas get it by replication), and again should a node have
//! lost it; called with `FCALL`. Redis runs the library's top level once,
//! when it loads, so the helpers every function shares cost nothing per call.

use super::{connection::Conn, util::with_timeout};
use crate::domain::error::Result;

/// The library, whose name carries the key layout it works on: its files
/// joined in an order that defines each `local` helper before its use (the
/// shared part first, the registrations last).
const LIBRARY: &str = concat!(
    "#!lua name=tracking_v3\n",
    include_str!("lua/common.lua"),
    include_str!("lua/transitions.lua"),
    include_str!("lua/reports.lua"),
    include_str!("lua/fleet.lua"),
    include_str!("lua/rides.lua"),
    include_str!("lua/batch.lua"),
    include_str!("lua/upkeep.lua"),
    include_str!("lua/log.lua"),
    include_str!("lua/register.lua"),
);

/// A function's full name.
pub(super) fn name(function: &str) -> String {
    format!("tracking_v3_{function}")
}

/// Loads (or replaces) the library.
pub(super) async fn load(conn: &mut Conn) -> Result<()> {
    let mut load = redis::cmd("FUNCTION");
    load.arg("LOAD").arg("REPLACE").arg(LIBRARY);
    with_timeout(load.query_async::<redis::Value>(conn)).await?;
    Ok(())
}
