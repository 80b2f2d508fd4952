//! The whole store: every role a storage plays, as one trait object.

use super::{Fleet, Rides, Upkeep};

/// The operations the service needs from its storage, by role: its drivers
/// ([`Fleet`]), its rides ([`Rides`]) and its upkeep ([`Upkeep`]). Anything
/// that plays the three is a `Store`, so `Arc<dyn Store>` holds any of them.
pub trait Store: Fleet + Rides + Upkeep {}

impl<T: Fleet + Rides + Upkeep + ?Sized> Store for T {}
