//! The whole store: every role a storage plays, as one trait object.

use super::{Batches, Fleet, Rides, Upkeep};

/// The operations the service needs from its storage, by role: its drivers
/// ([`Fleet`]), its rides ([`Rides`]), batched matching ([`Batches`]) and
/// its upkeep ([`Upkeep`]). Anything that plays the four is a `Store`, so
/// `Arc<dyn Store>` holds any of them.
pub trait Store: Fleet + Rides + Batches + Upkeep {}

impl<T: Fleet + Rides + Batches + Upkeep + ?Sized> Store for T {}
