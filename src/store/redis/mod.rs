//! The Redis store: one fleet (or one area of it) shared by every instance
//! pointed at it.
//!
//! Data model: see [`keys`]. Every change of state is one Redis function
//! (the library in `lua/`, one file per subject joined by [`functions`],
//! loaded into each node once with `FUNCTION LOAD`, called with `FCALL`),
//! so matching, offers, the trip's steps, cancelling and expiring are
//! atomic across instances: no driver is ever assigned twice. The functions read the server's clock (`TIME`), never the
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
//! The store's handle (its settings, connection, clock and calls) is in
//! [`handle`], the wait for a replica in [`replicas`], and the trait
//! implementations in [`store`], [`reads`] and [`riders`].
//!
//! Outages: commands fail fast with `UNAVAILABLE` while Redis is away; the
//! bridge re-subscribes and live streams re-read what they show after a
//! reconnect, and the search tasks retry until Redis answers. On a Cluster
//! with replicas, ride writes are acknowledged only once a replica has
//! them (`WAIT 1`), so a failover loses no acknowledged ride.

mod batch;
mod bridge;
pub mod connection;
pub mod documents;
mod fields;
mod functions;
mod group;
mod handle;
pub mod keys;
pub mod layout;
mod log;
pub mod pointers;
mod reads;
mod replicas;
mod reports;
pub mod riders;
mod store;
mod util;

pub use connection::{Connector, Target};
pub(crate) use fields::{driver_from_fields, ride_from_fields};
pub use handle::{RedisSettings, RedisStore};
pub use keys::Keys;
