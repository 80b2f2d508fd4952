//! The batches side of a store: what a batch window of an area sees (its
//! searching rides and available drivers), claiming the window's pairs,
//! and the area's batch lease (which instance runs its windows).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Offers;
use crate::{
    domain::error::Result,
    domain::{AreaId, Coordinates, DriverId, Eta, RadiusKm, Ride, RideId},
};

/// Most rides one window reads (the longest waiting first).
pub const MAX_WINDOW_RIDES: usize = 10_000;
/// Most drivers one window reads.
pub const MAX_WINDOW_DRIVERS: usize = 20_000;

/// How much one window reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowLimits {
    pub max_rides: usize,
    pub max_drivers: usize,
    /// The area's match radius.
    pub radius: RadiusKm,
    /// Candidates a ride is given.
    pub per_ride: usize,
}

/// A searching ride as a batch window sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRide {
    pub id: RideId,
    pub pickup: Coordinates,
    pub created_at: DateTime<Utc>,
    /// Windows it has been through unmatched.
    pub batches: u32,
    /// Drivers it is never offered again (they declined or let it time out).
    pub declined: Vec<DriverId>,
}

/// One window's view of an area.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    /// The SEARCHING rides holding no offer, before their deadline.
    pub rides: Vec<WindowRide>,
    /// The fresh AVAILABLE drivers, with their positions.
    pub drivers: Vec<(DriverId, Coordinates)>,
}

/// A ride and the driver a window gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPair {
    pub ride: RideId,
    pub driver: DriverId,
    pub eta: Eta,
}

/// What an area's last batch window did (any instance's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastBatch {
    /// Rides in the window.
    pub rides: usize,
    /// Of them, matched (or offered).
    pub matched: usize,
    pub at: DateTime<Utc>,
}

/// What a store does for batched matching.
#[async_trait]
pub trait Batches: Send + Sync + 'static {
    /// The area's SEARCHING rides that hold no offer and are before their
    /// deadline (at most `max_rides`: half those due first, half the
    /// newest) and its fresh
    /// AVAILABLE drivers (at most `max_drivers`: past that, each ride's
    /// `per_ride` nearest within `radius` (and those it declined), so no ride
    /// misses the drivers beside it).
    async fn batch_window(
        &self,
        area: &AreaId,
        limits: WindowLimits,
        now: DateTime<Utc>,
    ) -> Result<Window>;

    /// Claims a window's pairs, each atomically and in order: the ride still
    /// SEARCHING, holding no offer, before its deadline; the driver still
    /// fresh, AVAILABLE, within `radius` and not offered the ride before.
    /// Then it is assigned (or, with offers on, offered) with its time to
    /// the pickup, as a search would; otherwise the pair is skipped. Every
    /// ride of `unmatched` (those that lost their candidates to others),
    /// and of a skipped pair, counts one more window; `window_rides` is the
    /// window's size, for [`Batches::last_batch`].
    /// Returns the rides matched or offered, as they now are, and notes
    /// the window as the area's last (see [`Batches::last_batch`]).
    #[allow(clippy::too_many_arguments)]
    async fn claim_batch(
        &self,
        area: &AreaId,
        pairs: &[BatchPair],
        unmatched: &[RideId],
        window_rides: usize,
        radius: RadiusKm,
        offers: Offers,
        now: DateTime<Utc>,
    ) -> Result<Vec<Arc<Ride>>>;

    /// What the area's last window did, if one ran.
    async fn last_batch(&self, area: &AreaId) -> Result<Option<LastBatch>>;

    /// Takes the area's batch lease for this instance, or renews it, for
    /// `ttl`; false while another instance holds it. A store one process
    /// holds alone is always its holder.
    async fn batch_lease(&self, area: &AreaId, ttl: Duration) -> Result<bool>;
}
