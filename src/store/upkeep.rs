//! The upkeep side of a store: leases and adoption of searching rides,
//! the sweep, health, the shared clock and the events.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{EventHub, Swept};
use crate::{
    domain::error::Result,
    domain::{Ride, RideId},
};

/// What keeps a store sound over time, and what it tells the service of
/// itself: its clock, its health, its events.
#[async_trait]
pub trait Upkeep: Send + Sync + 'static {
    /// Renews this instance's claim on its searching rides and takes over
    /// those of instances that stopped renewing theirs. Returns the rides
    /// this instance must run search tasks for: those taken over, and, when
    /// the store counts a different number of searching rides owned here
    /// than the tasks `running` here (of this store's rides), every one it
    /// owns (the dispatcher starts the ones it lacks: a ride created
    /// although its request timed out).
    async fn adopt_orphans(&self, now: DateTime<Utc>, running: &[RideId])
        -> Result<Vec<Arc<Ride>>>;

    /// Gives up this instance's searching rides (on shutdown), so another
    /// instance adopts them at once.
    async fn hand_over_rides(&self) -> Result<()>;

    /// One bounded step of housekeeping, by index, never by scanning: drivers
    /// silent past the TTL go OFFLINE (declining an offer they hold; their
    /// change is published),
    /// drivers silent past the driver retention and rides ended longer ago
    /// than the ride retention are removed. At most [`super::SWEEP_BATCH`] of each.
    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept>;

    /// How often [`Self::adopt_orphans`] must run; `None` when the store is
    /// private to this process and there is nothing to renew or adopt.
    fn maintenance_interval(&self) -> Option<Duration>;

    /// Succeeds while the store answers.
    async fn ping(&self) -> Result<()>;

    /// The clock shared decisions are taken on: deadlines, expiry, leases
    /// and the driver TTL. On Redis, the server's `TIME` (here, as last
    /// learnt from it); in memory, this process's clock.
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Whether events from other instances reach this one (always, for a
    /// store private to this process).
    fn events_connected(&self) -> bool {
        true
    }

    /// The hub that carries this store's ride events.
    fn events(&self) -> &EventHub;
}
