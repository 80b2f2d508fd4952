//! The [`Store`] operations on Redis: each one function call (or one
//! pipelined read), decoded into domain types.

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
    fields::{count_offers_ended, parse_time, ride_from_fields},
    handle::RedisStore,
    reports::outcome_of,
    util::{duration_ms, pick_args, with_timeout},
};
use crate::{
    domain::error::{Error, Result},
    domain::{
        AreaCounts, AreaSnapshot, Coordinates, Driver, DriverId, IdempotencyKey, Limit,
        LocationReport, NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, RiderId, Step,
        JITTER_KM,
    },
    store::{
        Answered, EventHub, Fleet, NewRide, Offers, Pick, Released, Requested, RiderRides, Rides,
        SearchOutcome, Swept, Upkeep, MAX_CANDIDATES, SWEEP_BATCH,
    },
};

#[async_trait]
impl Fleet for RedisStore {
    async fn report(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Option<Driver>> {
        self.report_alone(id, at, now, max_speed_kmh, create).await
    }

    async fn report_batch(
        &self,
        reports: &[LocationReport],
        _now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Vec<ReportOutcome>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        if let [report] = reports {
            // One report (a device's, a driver crossing areas): gathered
            // with the area's other single reports.
            return Ok(vec![
                self.outcome_alone(report, max_speed_kmh, create).await?,
            ]);
        }
        let mut own = Vec::with_capacity(3 + reports.len() * 4);
        own.push(max_speed_kmh.to_string());
        own.push(JITTER_KM.to_string());
        own.push(if create { "1" } else { "0" }.to_owned());
        for report in reports {
            own.push(report.driver.to_string());
            own.push(report.at.lng().to_string());
            own.push(report.at.lat().to_string());
            own.push(report.taken_at.timestamp_millis().to_string());
        }
        let tags: Vec<String> = self.call("update_batch", None, &own).await?;
        Ok(tags
            .iter()
            .map(|tag| outcome_of(tag, max_speed_kmh))
            .collect())
    }

    async fn hand_off(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Released> {
        let reply: Vec<String> = self
            .call("release", Some(&self.keys.driver(id)), &[id.to_string()])
            .await?;
        let (tag, fields) = self.fields(reply)?;
        Ok(match tag.as_str() {
            "UNKNOWN" => Released::Unknown,
            "BUSY" => Released::Busy(self.driver_from_fields(id, &fields, now)?),
            _ => {
                // Let go for good before the next area lists it: a replica
                // has it (where there is one), so a failover cannot bring
                // the driver back here while it is listed there.
                self.replicated().await?;
                Released::Gone(self.driver_from_fields(id, &fields, now)?)
            }
        })
    }

    async fn counts(&self) -> Result<AreaCounts> {
        let counts: Vec<usize> = self.call("counts", None, &[]).await?;
        Ok(AreaCounts {
            available: counts.first().copied().unwrap_or(0),
            searching: counts.get(1).copied().unwrap_or(0),
        })
    }

    async fn go_offline(&self, id: &DriverId, now: DateTime<Utc>) -> Result<Driver> {
        let reply: Vec<String> = self
            .call("offline", Some(&self.keys.driver(id)), &[id.to_string()])
            .await?;
        let (tag, fields) = self.fields(reply)?;
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
        Ok(self
            .drivers_by_id(std::slice::from_ref(id), now)
            .await?
            .pop())
    }

    async fn drivers(&self, ids: &[DriverId], now: DateTime<Utc>) -> Result<Vec<Driver>> {
        self.drivers_by_id(ids, now).await
    }

    async fn nearby_drivers(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
        _now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        self.nearby_rows(center, radius, limit.get(), None).await
    }

    async fn area_snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot> {
        self.snapshot(center, radius, now).await
    }

    async fn watch_drivers(&self) -> Result<()> {
        self.mark_drivers_watched().await
    }
}

#[async_trait]
impl Rides for RedisStore {
    async fn rider_rides(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
        _now: DateTime<Utc>,
    ) -> Result<RiderRides> {
        self.rides_of_rider(rider, key).await
    }

    async fn create_ride(&self, new: &NewRide, _now: DateTime<Utc>) -> Result<Requested> {
        let own = [
            new.rider.to_string(),
            new.pickup.lng().to_string(),
            new.pickup.lat().to_string(),
            duration_ms(new.timeout).to_string(),
            self.instance.clone(),
            RideId::new_epoch(),
            new.idempotency_key
                .as_ref()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            new.max_active.to_string(),
            new.dropoff.map(|d| d.lng().to_string()).unwrap_or_default(),
            new.dropoff.map(|d| d.lat().to_string()).unwrap_or_default(),
            self.settings
                .area
                .as_ref()
                .map(|a| format!("{a}:"))
                .unwrap_or_default(),
        ];
        let reply: Vec<String> = self.call("create_ride", None, &own).await?;
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
        self.replicated().await?;
        Ok(match tag.as_str() {
            "EXISTING" => Requested::Existing(ride),
            _ => Requested::Created(ride),
        })
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

    async fn candidates(
        &self,
        id: &RideId,
        pickup: Coordinates,
        radius: RadiusKm,
        count: usize,
        _now: DateTime<Utc>,
    ) -> Result<Vec<NearbyDriver>> {
        (self.nearby_rows(pickup, radius, count.min(MAX_CANDIDATES), Some(id))).await
    }

    async fn try_match(
        &self,
        id: &RideId,
        radius: RadiusKm,
        offers: Offers,
        pick: &Pick,
        _now: DateTime<Utc>,
    ) -> Result<SearchOutcome> {
        let mut own = vec![
            radius.km().to_string(),
            self.instance.clone(),
            duration_ms(offers.timeout).to_string(),
            offers.ignore_limit.to_string(),
        ];
        pick_args(pick, &mut own);
        let (tag, ride) = self.ride_call("try_match", id, &own).await?;
        if matches!(tag.as_str(), "MATCHED" | "OFFERED" | "ENDED") {
            self.replicated().await?;
        }
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
        _now: DateTime<Utc>,
    ) -> Result<Answered> {
        let answer = [
            driver.map(|d| d.to_string()).unwrap_or_default(),
            if accept { "1" } else { "0" }.to_owned(),
        ];
        let (tag, fields) = self.ride_call_fields("answer_offer", id, &answer).await?;
        match tag.as_str() {
            "NO_OFFER" => Err(Error::no_offer(id, driver)),
            "TIMED_OUT" => Err(Error::offer_timed_out(id)),
            _ => {
                let ride = Arc::new(ride_from_fields(&fields)?);
                // An older instance's library (during a rolling deploy) does
                // not return the offer's time: the answer is made all the same.
                let offered_at = fields
                    .get("_offered")
                    .map(|at| parse_time(at))
                    .transpose()?;
                self.replicated().await?;
                Ok(Answered { ride, offered_at })
            }
        }
    }

    async fn advance_ride(
        &self,
        id: &RideId,
        step: Step,
        _now: DateTime<Utc>,
    ) -> Result<Arc<Ride>> {
        let args: Vec<String> = std::iter::once(step.to())
            .chain(step.from().iter().copied())
            .map(|s| s.as_str().to_owned())
            .collect();
        let (tag, ride) = self.ride_call("advance", id, &args).await?;
        if tag == "CONFLICT" {
            return Err(Error::wrong_step(id, ride.status, step));
        }
        self.replicated().await?;
        Ok(ride)
    }

    async fn expire_ride(&self, id: &RideId, _now: DateTime<Utc>) -> Result<Arc<Ride>> {
        Ok(self.ride_call("expire_ride", id, &[]).await?.1)
    }
}

#[async_trait]
impl Upkeep for RedisStore {
    async fn adopt_orphans(
        &self,
        _now: DateTime<Utc>,
        running: &[RideId],
    ) -> Result<Vec<Arc<Ride>>> {
        let mine = running.iter().filter(|id| self.owns(id)).count();
        let own = [
            self.instance.clone(),
            duration_ms(self.settings.lease).to_string(),
            mine.to_string(),
        ];
        let reply: Vec<String> = self.call("adopt", None, &own).await?;
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
                running = mine,
                "the store counts other rides as searched here than run here"
            );
        }
        if self.events.drivers_watched() {
            self.mark_drivers_watched().await?;
        }
        if self.wait_replicas {
            // Each tick: a replica lost or back is known before a write
            // waits for it. A failed read leaves the count to be read again
            // at the next write; the rides adopted above are kept.
            if let Err(error) = self.count_replicas().await {
                tracing::debug!(%error, "could not read the replica count");
            }
        }
        self.rides(&ids).await
    }

    async fn hand_over_rides(&self) -> Result<()> {
        // A lease that ended at the epoch: the next instance to renew adopts
        // our searching rides at once.
        let mut conn = self.conn.clone();
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(self.keys.instances()).arg(0).arg(&self.instance);
        with_timeout(zadd.query_async::<()>(&mut conn)).await?;
        let publish = if self.settings.connector.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        let mut announce = redis::cmd(publish);
        announce.arg(self.keys.adopt_channel()).arg(&self.instance);
        with_timeout(announce.query_async::<()>(&mut conn)).await
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept> {
        let reply: Vec<String> = self.call("sweep", None, &[SWEEP_BATCH.to_string()]).await?;
        let mut items = reply.into_iter();
        let went_offline = items.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        if let Some(ended) = items.next() {
            count_offers_ended(&ended);
        }
        let removed: Vec<DriverId> = items.filter_map(|id| DriverId::parse(&id).ok()).collect();
        let _ = now;
        Ok(Swept {
            went_offline,
            drivers_removed: removed.len(),
            // Ended rides' hashes expire on their own.
            rides_removed: 0,
            removed,
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
