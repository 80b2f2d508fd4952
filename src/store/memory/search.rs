//! A search's choice of driver in the embedded store: the candidates a
//! search ranks, and the driver a [`Pick`] names among those still free.

use chrono::{DateTime, Utc};

use super::{fleet::DriverState, Inner, MemoryStore};
use crate::{
    domain::{Coordinates, DriverId, Eta, NearbyDriver, RadiusKm, RideId},
    store::{Pick, MAX_CANDIDATES},
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
}
