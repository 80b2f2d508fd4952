//! The [`Store`] operations in memory: each takes the lock once, does all
//! its work through the helpers of the parent module, and lets go.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{chrono_duration, fleet::DriverState, Applied, MemoryStore};
use crate::{
    domain::error::{Error, Result},
    domain::{
        AreaCounts, AreaSnapshot, Coordinates, Driver, DriverId, IdempotencyKey, Limit,
        LocationReport, NearbyDriver, OfferEndReason, RadiusKm, ReportOutcome, Ride, RideId,
        RideStatus, RiderId, Step,
    },
    store::{
        Answered, EventHub, Fleet, NewRide, Offers, Pick, Released, Requested, RiderRides, Rides,
        SearchOutcome, Swept, Upkeep, SNAPSHOT_LIMIT, SWEEP_BATCH,
    },
};

#[async_trait]
impl Fleet for MemoryStore {
    async fn report(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Option<Driver>> {
        let mut guard = self.lock();
        let report = LocationReport {
            driver: id.clone(),
            at,
            taken_at: now,
        };
        let record = match self.apply_report(&mut guard, &report, now, max_speed_kmh, create)? {
            Applied::Stored(record) => record,
            Applied::Elsewhere => return Ok(None),
            // Older than what is stored (a clock ahead elsewhere): keep that.
            Applied::Stale => guard
                .fleet
                .get(id)
                .cloned()
                .ok_or_else(|| Error::internal("stale report for an unknown driver"))?,
        };
        Ok(Some(self.view(id, &record, now)))
    }

    async fn report_batch(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Vec<ReportOutcome>> {
        let mut guard = self.lock();
        Ok(reports
            .iter()
            .map(
                |report| match self.apply_report(&mut guard, report, now, max_speed_kmh, create) {
                    Ok(Applied::Stored(_)) => ReportOutcome::Accepted,
                    Ok(Applied::Stale) => ReportOutcome::Stale,
                    Ok(Applied::Elsewhere) => ReportOutcome::Elsewhere,
                    Err(error) => ReportOutcome::Refused(error),
                },
            )
            .collect())
    }

    async fn hand_off(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Released> {
        let mut guard = self.lock();
        let Some(record) = guard.fleet.get(id).cloned() else {
            return Ok(Released::Unknown);
        };
        let driver = self.view(id, &record, now);
        if matches!(
            record.state,
            DriverState::Offered(_) | DriverState::Assigned(_)
        ) {
            return Ok(Released::Busy(driver));
        }
        guard.fleet.remove(id);
        if self.log.enabled && record.state == DriverState::Available {
            // It leaves this area's market: this area's log says so.
            let gone = crate::domain::Driver {
                status: crate::domain::DriverStatus::Offline,
                ..driver.clone()
            };
            let event = crate::domain::NewEvent::driver(
                crate::domain::EventType::DriverOffline,
                Arc::new(gone),
            );
            guard.log.append(event, now);
            self.events.logged();
        }
        Ok(Released::Gone(driver))
    }

    async fn counts(&self) -> Result<AreaCounts> {
        let inner = self.lock();
        Ok(AreaCounts {
            available: inner.fleet.available_count(),
            searching: inner.rides.searching_count(),
        })
    }

    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let rec = inner
            .fleet
            .get(id)
            .ok_or_else(|| Error::driver_not_found(id))?;
        if let DriverState::Assigned(ride) = &rec.state {
            return Err(Error::driver_busy(id, ride.as_str()));
        }
        let rec = self
            .take_off_market(inner, id, now)
            .ok_or_else(|| Error::internal("driver vanished"))?;
        Ok(self.view(id, &rec, now))
    }

    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>> {
        let inner = self.lock();
        Ok(inner.fleet.get(id).map(|rec| self.view(id, rec, now)))
    }

    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>> {
        let inner = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| inner.fleet.get(id).map(|rec| self.view(id, rec, now)))
            .collect())
    }

    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let found = self.nearest_fresh(inner, center, radius, limit.get(), now);
        Ok(found
            .into_iter()
            .filter_map(|(id, distance_km)| {
                let rec = inner.fleet.get(&id)?;
                Some(NearbyDriver {
                    driver: self.view(&id, rec, now),
                    distance_km,
                    eta: None,
                })
            })
            .collect())
    }

    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let available = self.nearest_fresh(inner, center, radius, SNAPSHOT_LIMIT, now);
        let rides = inner.rides.active_within(center, radius, SNAPSHOT_LIMIT);
        let assigned = rides.iter().flat_map(|r| {
            let offered = r.offer.as_ref().map(|o| o.driver.clone());
            let assigned = r.driver_id.clone().filter(|_| r.status.has_driver());
            offered.into_iter().chain(assigned)
        });
        let drivers = available
            .into_iter()
            .map(|(id, _)| id)
            .chain(assigned)
            .filter_map(|id| inner.fleet.get(&id).map(|rec| self.view(&id, rec, now)))
            .collect();
        Ok(AreaSnapshot { drivers, rides })
    }
}

#[async_trait]
impl Rides for MemoryStore {
    async fn rider_rides(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<RiderRides> {
        Ok(self.lock().rides.of_rider(rider, key, now))
    }

    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(key) = &new.idempotency_key {
            if let Some(ride) = inner.rides.remembered(&new.rider, key, now) {
                return Ok(Requested::Existing(ride.clone()));
            }
        }
        if new.max_active > 0 {
            if let Some(active) = inner.rides.active_of(&new.rider) {
                if active.len() >= new.max_active {
                    let ride = active
                        .iter()
                        .min()
                        .cloned()
                        .unwrap_or_else(|| RideId::new("", 0));
                    return Err(Error::ActiveRide {
                        rider: new.rider.clone(),
                        ride,
                        max: new.max_active,
                    });
                }
            }
        }
        let timeout = chrono_duration(new.timeout);
        let ride = Ride {
            id: inner.rides.next_id(),
            rider_id: new.rider.clone(),
            pickup: new.pickup,
            dropoff: new.dropoff,
            status: RideStatus::Searching,
            driver_id: None,
            distance_km: None,
            offer: None,
            offer_end: None,
            searches: 0,
            created_at: now,
            expires_at: now + timeout,
            matched_at: None,
            pickup_eta: None,
            arrived_at: None,
            started_at: None,
            ended_at: None,
            revision: 1,
        };
        if let Some(key) = &new.idempotency_key {
            inner
                .rides
                .remember(&new.rider, key, &ride.id, now + timeout);
        }
        Ok(Requested::Created(self.transition(inner, ride)))
    }

    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>> {
        Ok(self.lock().rides.get(id).cloned())
    }

    async fn candidates(
        &self,
        id: &RideId,
        pickup: Coordinates,
        radius: RadiusKm,
        count: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        let mut guard = self.lock();
        Self::ride_or_not_found(&guard, id)?;
        Ok(self.candidates_in(&mut guard, id, pickup, radius, count, now))
    }

    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        pick: &Pick,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        let mut ride = self.expire_if_due(inner, ride, now);
        if ride.status != RideStatus::Searching {
            return Ok(SearchOutcome::Ended(ride));
        }
        if let Some(offer) = &ride.offer {
            if now < offer.expires_at {
                return Ok(SearchOutcome::Offered(ride));
            }
            ride = self.end_offer(
                inner,
                &ride,
                OfferEndReason::TimedOut,
                offers.ignore_limit,
                false,
                now,
            );
        }
        let mut next = (*ride).clone();
        next.searches += 1;
        let picked = self.pick_driver(inner, id, ride.pickup, radius, pick, now);
        let Some((driver_id, km, eta)) = picked else {
            let ride = Arc::new(next);
            inner.rides.put(ride.clone());
            return Ok(SearchOutcome::NoDriver(ride));
        };
        let ride = self.give(inner, next, driver_id, km, eta, offers, now);
        Ok(if offers.on() {
            SearchOutcome::Offered(ride)
        } else {
            SearchOutcome::Matched(ride)
        })
    }

    async fn answer_offer(
        &self,
        id: &RideId,
        driver: Option<&DriverId>,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<Answered> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        let ride = self.expire_if_due(inner, ride, now);
        let offer = ride
            .offer
            .as_ref()
            .filter(|o| driver.is_none_or(|d| *d == o.driver))
            .ok_or_else(|| Error::no_offer(id, driver))?;
        if now >= offer.expires_at {
            return Err(Error::offer_timed_out(id));
        }
        let offered_at = Some(offer.made_at);
        let reason = if accept {
            OfferEndReason::Accepted
        } else {
            OfferEndReason::Declined
        };
        let ride = self.end_offer(inner, &ride, reason, 0, false, now);
        Ok(Answered { ride, offered_at })
    }

    async fn advance_ride(&self, id: &RideId, step: Step, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        let ride = self.expire_if_due(inner, ride, now);
        if step == Step::Cancel && ride.status == RideStatus::Cancelled {
            return Ok(ride);
        }
        if !step.applies_to(ride.status) {
            return Err(Error::wrong_step(id, ride.status, step));
        }
        Ok(self.take_step(inner, &ride, step, now))
    }

    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ride = Self::ride_or_not_found(inner, id)?;
        Ok(self.expire_if_due(inner, ride, now))
    }
}

#[async_trait]
impl Upkeep for MemoryStore {
    async fn adopt_orphans(
        &self,
        _now: DateTime<Utc>,
        _running: &[RideId],
    ) -> Result<Vec<Arc<Ride>>> {
        // Every ride in memory was created by this process, which runs its task.
        Ok(Vec::new())
    }

    async fn hand_over_rides(&self) -> Result<()> {
        Ok(())
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let silent = inner
            .fleet
            .silent_before(self.fresh_since(now), SWEEP_BATCH);
        let went_offline = self.retire_silent(inner, silent, now);
        let removed = inner
            .fleet
            .retire_before(now - self.driver_retention, SWEEP_BATCH);
        let rides_removed = inner
            .rides
            .retire_before(now - self.ride_retention, SWEEP_BATCH);
        inner.rides.forget_before(now, SWEEP_BATCH);
        Ok(Swept {
            went_offline,
            drivers_removed: removed.len(),
            rides_removed,
            removed,
        })
    }

    fn maintenance_interval(&self) -> Option<Duration> {
        None
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn events(&self) -> &EventHub {
        &self.events
    }
}
