//! A rider's requests over several areas: the cap on rides that have not
//! ended and idempotency keys are the rider's, not an area's.
//!
//! Each area's store keeps the rider's active rides and idempotency keys
//! exactly (its atomic create, and every end of a ride — cancelled,
//! expired, completed, on any instance — update them in the same step), so
//! nothing here needs releasing when a ride ends. A request takes the
//! rider's lease (this instance's striped lock, then, on Redis, a
//! `SET NX PX` key in the rider's own slot, [`RiderLease`](super::RiderLease)), asks every
//! area for the rider's rides and the ride its key made, and creates the
//! ride in its pickup's area only if no area remembers the key and the
//! rider is below the cap; then gives the lease back. Two requests of one
//! rider, on any instances, in any areas, never decide at once; a holder
//! that dies leaves a lease that lapses by itself.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::AreaStores;
use crate::{
    domain::error::{Error, Result},
    store::{NewRide, Requested, Rides, Store},
};

impl AreaStores {
    /// `create_ride` over every area: the rider's cap and keys counted in
    /// all of them, under the rider's lease.
    pub(super) async fn create_for_rider(
        &self,
        store: &Arc<dyn Store>,
        new: &NewRide,
        now: DateTime<Utc>,
    ) -> Result<Requested> {
        if new.max_active == 0 && new.idempotency_key.is_none() {
            // Nothing of the rider's elsewhere to reckon with.
            return store.create_ride(new, now).await;
        }
        let _local = self.requesting.lock(&new.rider).await;
        let taken = self.riders.lease(&new.rider).await?;
        super::lease::holding(
            taken,
            self.create_leased(store, new, now),
            async |l| self.riders.release(&new.rider, l).await,
            &new.rider,
        )
        .await
    }

    async fn create_leased(
        &self,
        store: &Arc<dyn Store>,
        new: &NewRide,
        now: DateTime<Utc>,
    ) -> Result<Requested> {
        let rides = self
            .rider_rides(&new.rider, new.idempotency_key.as_ref(), now)
            .await?;
        if let Some(ride) = rides.remembered {
            return Ok(Requested::Existing(ride));
        }
        let active = rides.active;
        if new.max_active > 0 && active.len() >= new.max_active {
            let ride = active
                .into_iter()
                .min()
                .ok_or_else(|| Error::internal("a full cap without rides"))?;
            return Err(Error::ActiveRide {
                rider: new.rider.clone(),
                ride,
                max: new.max_active,
            });
        }
        store.create_ride(new, now).await
    }
}
