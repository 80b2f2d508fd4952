//! A search's choice of driver in the embedded store: the candidates a
//! search ranks, the driver a [`Pick`] names among those still free, and
//! giving it the ride (assigned, or offered).

use chrono::{DateTime, Utc};

use std::sync::Arc;

use super::{chrono_duration, fleet::DriverState, Inner, MemoryStore};
use crate::{
    domain::{Coordinates, DriverId, Eta, NearbyDriver, Offer, RadiusKm, Ride, RideId, RideStatus},
    store::{Offers, Pick, MAX_CANDIDATES},
};

impl MemoryStore {
    /// Up to `count` fresh AVAILABLE drivers near `pickup`, nearest first,
    /// but those who declined the ride or let its offer time out.
    pub(super) fn candidates_in(
        &self,
        inner: &mut Inner,
        id: &RideId,
        pickup: Coordinates,
        radius: RadiusKm,
        count: usize,
        now: DateTime<Utc>,
    ) -> Vec<NearbyDriver> {
        let declined = inner.rides.declined(id).cloned().unwrap_or_default();
        let want = count.min(MAX_CANDIDATES) + declined.len();
        self.nearest_fresh(inner, pickup, radius, want, now)
            .into_iter()
            .filter(|(driver, _)| !declined.contains(driver))
            .take(count)
            .filter_map(|(driver, distance_km)| {
                let rec = inner.fleet.get(&driver)?;
                Some(NearbyDriver {
                    driver: self.view(&driver, rec, now),
                    distance_km,
                    eta: None,
                })
            })
            .collect()
    }

    /// The driver `pick` names for the ride at `pickup`, with its distance
    /// (km) and time to the pickup: the nearest fresh AVAILABLE one within
    /// `radius` not offered the ride before, or the first such of a ranked
    /// list.
    pub(super) fn pick_driver(
        &self,
        inner: &mut Inner,
        id: &RideId,
        pickup: Coordinates,
        radius: RadiusKm,
        pick: &Pick,
        now: DateTime<Utc>,
    ) -> Option<(DriverId, f64, Eta)> {
        let declined = inner.rides.declined(id).cloned().unwrap_or_default();
        match pick {
            Pick::Nearest(line) => self
                .nearest_fresh(inner, pickup, radius, declined.len() + 1, now)
                .into_iter()
                .find(|(driver, _)| !declined.contains(driver))
                .map(|(driver, km)| (driver, km, line.eta_for_km(km))),
            Pick::Ranked(candidates) => {
                let fresh_since = self.fresh_since(now);
                candidates.iter().take(MAX_CANDIDATES).find_map(|c| {
                    let rec = inner.fleet.get(&c.driver)?;
                    let km = pickup.distance_km(&rec.location);
                    let free = rec.state == DriverState::Available
                        && rec.updated_at >= fresh_since
                        && km <= radius.km()
                        && !declined.contains(&c.driver);
                    free.then(|| (c.driver.clone(), km, c.eta))
                })
            }
        }
    }

    /// Gives `next` (the ride, one search on) to the driver: offered, with
    /// offers on, else assigned (DRIVER_FOUND), with its time to the pickup.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn give(
        &self,
        inner: &mut Inner,
        mut next: Ride,
        driver_id: DriverId,
        km: f64,
        eta: Eta,
        offers: Offers,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Arc<Ride> {
        next.revision += 1;
        let state = if offers.on() {
            next.offer = Some(Offer {
                driver: driver_id.clone(),
                distance_km: km,
                made_at: now,
                expires_at: now + chrono_duration(offers.timeout),
                revision: next.revision,
                eta: Some(eta),
            });
            DriverState::Offered(next.id.clone())
        } else {
            next.status = RideStatus::DriverFound;
            next.matched_at = Some(now);
            next.driver_id = Some(driver_id.clone());
            next.distance_km = Some(km);
            next.pickup_eta = Some(eta);
            DriverState::Assigned(next.id.clone())
        };
        if let Some(rec) = inner.fleet.set_state(&driver_id, state) {
            let was = Some(crate::domain::DriverStatus::Available);
            self.announce(inner, &driver_id, &rec, was, now);
        }
        self.transition(inner, next)
    }
}
