//! Where the fleet lives: one [`Store`] trait, by role ([`Fleet`],
//! [`Rides`], [`Upkeep`]), and its implementations.
//!
//! The dispatcher above talks to the store only in domain terms: upsert a
//! driver's position, list nearby drivers, create and read rides, and the
//! **atomic** transitions of a ride's life (match or offer, answer an offer,
//! the trip's steps, cancel, expire).
//! Atomic in the store, so the Redis version can do each in one Lua script
//! and several instances never assign a driver twice.
//!
//! - [`memory`]: the embedded default; one mutex over maps and an R-tree.
//! - [`redis`]: the shared store that lets many instances serve one fleet.
//!
//! Every status change a store makes is published through its
//! [`EventHub`], the broadcast channel that `rideStatus` subscriptions read.

pub mod areas;
mod batches;
mod combined;
pub mod documents;
pub mod event_log;
pub mod events;
mod fleet;
pub mod memory;
pub mod redis;
mod rides;
pub mod traced;
mod traced_log;
mod types;
mod upkeep;

pub use batches::{
    BatchPair, Batches, LastBatch, Window, WindowLimits, WindowRide, MAX_WINDOW_DRIVERS,
    MAX_WINDOW_RIDES,
};
pub use combined::Store;
pub use documents::SharedDocuments;
pub use event_log::{
    DeliveryLease, EventLog, EventPage, EventRetention, LogSettings, SinkId, Trimmed,
    MAX_EVENT_PAGE, MAX_SINK_ID_LEN,
};
pub use events::EventHub;
pub use fleet::Fleet;
pub use rides::Rides;
pub use types::{
    Answered, NewRide, Offers, Pick, Released, Requested, Retention, RiderRides, SearchOutcome,
    Swept, MAX_CANDIDATES, SNAPSHOT_LIMIT, SWEEP_BATCH,
};
pub use upkeep::Upkeep;
