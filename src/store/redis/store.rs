//! The [`Store`] operations on Redis: each one script (or one pipelined
//! read), decoded into domain types.

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use tracing::debug;

use super::{
    duration_ms, fields::parse_f64, fields::parse_time, ride_from_fields, with_timeout, RedisStore,
};
use crate::{
    domain::{
        AreaSnapshot, Coordinates, Driver, DriverId, DriverStatus, Limit, LocationReport,
        NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, Step, JITTER_KM,
    },
    error::{Error, Result},
    store::{
        EventHub, NewRide, Offers, Requested, SearchOutcome, Store, Swept, SNAPSHOT_LIMIT,
        SWEEP_BATCH,
    },
};

#[async_trait]
impl Store for RedisStore {
    async fn update_location(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Driver> {
        let mut inv = self.invocation(&self.scripts.update_location, &self.keys.driver(id), now);
        inv.arg(id.as_str())
            .arg(at.lng())
            .arg(at.lat())
            .arg(max_speed_kmh)
            .arg(JITTER_KM);
        let (tag, fields) = self.fields(self.run(inv).await?)?;
        if tag == "IMPLAUSIBLE" {
            let number = |k: &str| {
                fields
                    .get(k)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN)
            };
            return Err(Error::implausible_jump(
                number("km"),
                number("seconds"),
                max_speed_kmh,
            ));
        }
        self.driver_from_fields(id, &fields, now)
    }

    async fn update_locations(
        &self,
        reports: &[LocationReport],
        now: DateTime<Utc>,
        max_speed_kmh: f64,
    ) -> Result<Vec<ReportOutcome>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.invocation(&self.scripts.update_locations, "", now);
        inv.arg(max_speed_kmh).arg(JITTER_KM);
        for report in reports {
            inv.arg(report.driver.as_str())
                .arg(report.at.lng())
                .arg(report.at.lat())
                .arg(report.taken_at.timestamp_millis());
        }
        let tags = self.run(inv).await?;
        Ok(tags
            .iter()
            .map(|tag| {
                let mut parts = tag.split('|');
                match parts.next() {
                    Some("OK") => ReportOutcome::Accepted,
                    Some("STALE") => ReportOutcome::Stale,
                    _ => {
                        let mut number = || {
                            parts
                                .next()
                                .and_then(|v| v.parse::<f64>().ok())
                                .unwrap_or(f64::NAN)
                        };
                        let (km, seconds) = (number(), number());
                        ReportOutcome::Refused(Error::implausible_jump(km, seconds, max_speed_kmh))
                    }
                }
            })
            .collect())
    }

    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver> {
        let mut inv = self.invocation(&self.scripts.go_offline, &self.keys.driver(id), now);
        inv.arg(id.as_str());
        let (tag, fields) = self.fields(self.run(inv).await?)?;
        match tag.as_str() {
            "NOT_FOUND" => Err(Error::driver_not_found(id)),
            "CONFLICT" => Err(Error::driver_busy(
                id,
                fields.get("ride").map(String::as_str).unwrap_or("?"),
            )),
            _ => self.driver_from_fields(id, &fields, now),
        }
    }

    async fn driver(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Option<Driver>> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> =
            with_timeout(conn.hgetall(self.keys.driver(id))).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        self.driver_from_fields(id, &fields, now).map(Some)
    }

    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>> {
        self.drivers_by_id(ids, now).await
    }

    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        let mut inv = self.invocation(&self.scripts.nearby, "", now);
        inv.arg(center.lng())
            .arg(center.lat())
            .arg(radius.km())
            .arg(limit.get());
        let flat = self.run(inv).await?;
        flat.chunks_exact(5)
            .map(|row| {
                let id = DriverId::parse(&row[0])?;
                Ok(NearbyDriver {
                    driver: Driver {
                        id,
                        status: DriverStatus::Available,
                        location: Some(Coordinates::parse(
                            parse_f64(&row[3])?,
                            parse_f64(&row[2])?,
                        )?),
                        updated_at: Some(parse_time(&row[4])?),
                        ride_id: None,
                    },
                    distance_km: parse_f64(&row[1])?,
                })
            })
            .collect()
    }

    async fn create_ride(&self, new: &NewRide, now: DateTime<Utc>) -> Result<Requested> {
        let mut inv = self.invocation(&self.scripts.create_ride, "", now);
        inv.arg(new.rider.as_str())
            .arg(new.pickup.lng())
            .arg(new.pickup.lat())
            .arg(duration_ms(new.timeout))
            .arg(&self.instance)
            .arg(RideId::new_epoch())
            .arg(
                new.idempotency_key
                    .as_ref()
                    .map(|k| k.as_str())
                    .unwrap_or(""),
            )
            .arg(new.max_active)
            .arg(new.dropoff.map(|d| d.lng().to_string()).unwrap_or_default())
            .arg(new.dropoff.map(|d| d.lat().to_string()).unwrap_or_default());
        let reply = self.run(inv).await?;
        if reply.first().map(String::as_str) == Some("ACTIVE") {
            let ride = reply
                .get(1)
                .map(|id| RideId::parse(id))
                .transpose()?
                .ok_or_else(|| Error::internal("ACTIVE without a ride"))?;
            return Err(Error::ActiveRide {
                rider: new.rider.clone(),
                ride,
                max: new.max_active,
            });
        }
        let (tag, fields) = self.fields(reply)?;
        let ride = Arc::new(ride_from_fields(&fields)?);
        self.note_epoch(&ride.id);
        Ok(match tag.as_str() {
            "EXISTING" => Requested::Existing(ride),
            _ => Requested::Created(ride),
        })
    }

    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot> {
        // Available drivers through the same script as nearbyDrivers (it
        // prunes silent ones); active rides and their drivers read after it.
        // Not one atomic read: live maps apply the events that follow.
        let mut inv = self.invocation(&self.scripts.nearby, "", now);
        inv.arg(center.lng())
            .arg(center.lat())
            .arg(radius.km())
            .arg(SNAPSHOT_LIMIT);
        let flat = self.run(inv).await?;
        let mut conn = self.conn.clone();
        let mut search = redis::cmd("GEOSEARCH");
        search
            .arg(self.keys.active())
            .arg("FROMLONLAT")
            .arg(center.lng())
            .arg(center.lat())
            .arg("BYRADIUS")
            .arg(radius.km())
            .arg("km")
            .arg("COUNT")
            .arg(SNAPSHOT_LIMIT);
        let ride_ids: Vec<String> = with_timeout(search.query_async(&mut conn)).await?;
        let rides = self.rides(&ride_ids).await?;
        let mut ids = flat
            .chunks_exact(5)
            .map(|row| DriverId::parse(&row[0]))
            .collect::<Result<Vec<_>>>()?;
        ids.extend(rides.iter().flat_map(|r| {
            let offered = r.offer.as_ref().map(|o| o.driver.clone());
            let assigned = r.driver_id.clone().filter(|_| r.status.has_driver());
            offered.into_iter().chain(assigned)
        }));
        let drivers = self.drivers_by_id(&ids, now).await?;
        Ok(AreaSnapshot { drivers, rides })
    }

    async fn ride(&self, id: &RideId) -> Result<Option<Arc<Ride>>> {
        let key = self.keys.ride(id);
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = with_timeout(conn.hgetall(key)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        ride_from_fields(&fields).map(|r| Some(Arc::new(r)))
    }

    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome> {
        let (tag, ride) = self
            .ride_script(
                &self.scripts.try_match,
                id,
                now,
                &[
                    radius.km().to_string(),
                    self.instance.clone(),
                    duration_ms(offers.timeout).to_string(),
                    offers.ignore_limit.to_string(),
                ],
            )
            .await?;
        Ok(match tag.as_str() {
            "MATCHED" => SearchOutcome::Matched(ride),
            "OFFERED" => SearchOutcome::Offered(ride),
            "NO_DRIVER" => SearchOutcome::NoDriver(ride),
            "ELSEWHERE" => SearchOutcome::Elsewhere(ride),
            _ => SearchOutcome::Ended(ride),
        })
    }

    async fn answer_offer(
        &self,
        id: &RideId,
        driver: Option<&DriverId>,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<Arc<Ride>> {
        let answer = [
            driver.map(|d| d.to_string()).unwrap_or_default(),
            if accept { "1" } else { "0" }.to_owned(),
        ];
        let (tag, ride) = self
            .ride_script(&self.scripts.answer_offer, id, now, &answer)
            .await?;
        match tag.as_str() {
            "NO_OFFER" => Err(Error::no_offer(id, driver)),
            "TIMED_OUT" => Err(Error::offer_timed_out(id)),
            _ => Ok(ride),
        }
    }

    async fn advance_ride(&self, id: &RideId, step: Step, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        let args: Vec<String> = std::iter::once(step.to())
            .chain(step.from().iter().copied())
            .map(|s| s.as_str().to_owned())
            .collect();
        let (tag, ride) = self
            .ride_script(&self.scripts.advance, id, now, &args)
            .await?;
        if tag == "CONFLICT" {
            return Err(Error::wrong_step(id, ride.status, step));
        }
        Ok(ride)
    }

    async fn expire_ride(&self, id: &RideId, now: DateTime<Utc>) -> Result<Arc<Ride>> {
        Ok(self
            .ride_script(&self.scripts.expire_ride, id, now, &[])
            .await?
            .1)
    }

    async fn adopt_orphans(&self, now: DateTime<Utc>, running: usize) -> Result<Vec<Arc<Ride>>> {
        let mut inv = self.invocation(&self.scripts.adopt, "", now);
        inv.arg(&self.instance)
            .arg(duration_ms(self.settings.lease))
            .arg(running);
        let reply = self.run(inv).await?;
        let mut items = reply.into_iter();
        let epoch = items.next().unwrap_or_default();
        if let Some(server_now) = items.next() {
            self.learn_clock(&server_now);
        }
        self.check_epoch(&epoch);
        let adopted: usize = items.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let ids: Vec<String> = items.collect();
        if ids.len() > adopted {
            debug!(
                owned = ids.len() - adopted,
                running, "the store counts other rides as searched here than run here"
            );
        }
        if self.events.drivers_watched() {
            self.mark_drivers_watched().await?;
        }
        self.rides(&ids).await
    }

    async fn watch_drivers(&self) -> Result<()> {
        self.mark_drivers_watched().await
    }

    async fn hand_over_rides(&self) -> Result<()> {
        // A lease that ended at the epoch: the next instance to renew adopts
        // our searching rides at once.
        let mut conn = self.conn.clone();
        let mut release = redis::pipe();
        release
            .atomic()
            .zadd(self.keys.instances(), &self.instance, 0)
            .ignore()
            .publish(self.keys.adopt_channel(), &self.instance)
            .ignore();
        with_timeout(release.query_async::<()>(&mut conn)).await
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept> {
        let mut inv = self.invocation(&self.scripts.sweep, "", now);
        inv.arg(SWEEP_BATCH);
        let counts = self.run(inv).await?;
        if let Some(ended) = counts.get(2) {
            super::count_offers_ended(ended);
        }
        let count = |i: usize| counts.get(i).and_then(|n| n.parse().ok()).unwrap_or(0);
        Ok(Swept {
            went_offline: count(0),
            drivers_removed: count(1),
            // Ended rides' hashes expire on their own.
            rides_removed: 0,
        })
    }

    fn maintenance_interval(&self) -> Option<Duration> {
        Some(self.settings.lease / 4)
    }

    async fn ping(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        with_timeout(redis::cmd("PING").query_async::<String>(&mut conn)).await?;
        Ok(())
    }

    fn events(&self) -> &EventHub {
        &self.events
    }

    fn events_connected(&self) -> bool {
        self.bridge_connected()
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed))
    }
}
