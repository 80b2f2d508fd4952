//! The whole store: every role a storage plays, as one trait object.

use super::{Batches, EventLog, Fleet, Rides, Upkeep};

/// The operations the service needs from its storage, by role: its drivers
/// ([`Fleet`]), its rides ([`Rides`]), batched matching ([`Batches`]), its
/// event log ([`EventLog`]) and its upkeep ([`Upkeep`]). Anything that plays the five is a `Store`, so
/// `Arc<dyn Store>` holds any of them.
pub trait Store: Fleet + Rides + Batches + Upkeep + EventLog {}

impl<T: Fleet + Rides + Batches + Upkeep + EventLog + ?Sized> Store for T {}
