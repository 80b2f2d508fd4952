//! Batched matching in the embedded store: a window's view of the fleet,
//! claiming its pairs under the one lock, and the batch lease (one process
//! holds it always).

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{fleet::DriverState, MemoryStore};
use crate::{
    domain::error::Result,
    domain::{AreaId, DriverId, RadiusKm, Ride, RideId, RideStatus},
    store::{BatchPair, Batches, LastBatch, Offers, Window, WindowLimits, WindowRide},
};

#[async_trait]
impl Batches for MemoryStore {
    async fn batch_window(
        &self,
        _area: &AreaId,
        limits: WindowLimits,
        now: DateTime<Utc>,
    ) -> Result<Window> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut rides: Vec<Arc<Ride>> = inner
            .rides
            .searching_rides(usize::MAX)
            .into_iter()
            .filter(|r| r.offer.is_none() && now < r.expires_at)
            .collect();
        // Half those due first, half the newest, as on Redis.
        rides.sort_by(|a, b| a.expires_at.cmp(&b.expires_at).then(a.id.cmp(&b.id)));
        if rides.len() > limits.max_rides {
            let first = limits.max_rides.div_ceil(2);
            let newest = rides.split_off(rides.len() - (limits.max_rides - first));
            rides.truncate(first);
            rides.extend(newest);
        }
        let rides: Vec<WindowRide> = rides
            .into_iter()
            .map(|r| WindowRide {
                id: r.id.clone(),
                pickup: r.pickup,
                created_at: r.created_at,
                batches: inner.rides.batches(&r.id),
                declined: inner
                    .rides
                    .declined(&r.id)
                    .map(|d| d.iter().cloned().collect())
                    .unwrap_or_default(),
            })
            .collect();
        let fresh_since = self.fresh_since(now);
        let ids: Vec<DriverId> = if inner.fleet.available_count() <= limits.max_drivers {
            inner.fleet.available_ids().cloned().collect()
        } else {
            // More drivers than a window reads: those near its rides.
            let mut seen = HashSet::new();
            for ride in &rides {
                let want = limits.per_ride + ride.declined.len();
                let (near, _) =
                    (inner.fleet).nearest(ride.pickup, limits.radius, want, fresh_since);
                for (id, _) in near {
                    if seen.len() < limits.max_drivers {
                        seen.insert(id);
                    }
                }
            }
            seen.into_iter().collect()
        };
        let drivers = ids
            .into_iter()
            .filter_map(|id| {
                let rec = inner.fleet.get(&id)?;
                let ok = rec.state == DriverState::Available && rec.updated_at >= fresh_since;
                ok.then(|| (id.clone(), rec.location))
            })
            .collect();
        Ok(Window { rides, drivers })
    }

    #[allow(clippy::too_many_arguments)]
    async fn claim_batch(
        &self,
        _area: &AreaId,
        pairs: &[BatchPair],
        unmatched: &[RideId],
        window_rides: usize,
        radius: RadiusKm,
        offers: Offers,
        now: DateTime<Utc>,
    ) -> Result<Vec<Arc<Ride>>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let fresh_since = self.fresh_since(now);
        let mut given = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let ride = inner.rides.get(&pair.ride).cloned();
            let ride = ride.filter(|r| {
                r.status == RideStatus::Searching && r.offer.is_none() && now < r.expires_at
            });
            let declined = |inner: &super::Inner| {
                inner
                    .rides
                    .declined(&pair.ride)
                    .is_some_and(|d| d.contains(&pair.driver))
            };
            let free = inner.fleet.get(&pair.driver).and_then(|rec| {
                let ride = ride.as_ref()?;
                let km = ride.pickup.distance_km(&rec.location);
                let ok = rec.state == DriverState::Available
                    && rec.updated_at >= fresh_since
                    && km <= radius.km();
                ok.then_some(km)
            });
            match (ride, free) {
                (Some(ride), Some(km)) if !declined(inner) => {
                    let next = (*ride).clone();
                    let eta = pair.eta;
                    let driver = pair.driver.clone();
                    given.push(self.give(inner, next, driver, km, eta, offers, now));
                }
                _ => inner.rides.count_batch(&pair.ride),
            }
        }
        for id in unmatched {
            inner.rides.count_batch(id);
        }
        inner.last_batch = Some(LastBatch {
            rides: window_rides,
            matched: given.len(),
            at: now,
        });
        Ok(given)
    }

    async fn last_batch(&self, _area: &AreaId) -> Result<Option<LastBatch>> {
        Ok(self.lock().last_batch)
    }

    async fn batch_lease(&self, _area: &AreaId, _ttl: Duration) -> Result<bool> {
        Ok(true)
    }
}
