//! Reads that are not one function call: a driver or ride's hash, many at
//! once (pipelined on the area's node), nearby drivers, and an area's
//! snapshot for live maps.
//!
//! A snapshot is thousands of rows: many at once would queue ahead of the
//! reports on Redis (one thread) and on the shared connection, past their
//! timeout. So at most [`SNAPSHOT_READS`](super::handle::SNAPSHOT_READS) run at a time per store, and
//! their many-key reads go in chunks of [`CHUNK`], between which other
//! commands get their turn.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};

use super::{
    fields::{parse_f64, parse_time, ride_from_fields, split_reply},
    handle::RedisStore,
    util::with_timeout,
};
use crate::{
    domain::error::{Error, Result},
    domain::{
        AreaSnapshot, Coordinates, Driver, DriverId, DriverStatus, IdempotencyKey, NearbyDriver,
        RadiusKm, Ride, RideId, RiderId,
    },
    store::{RiderRides, SNAPSHOT_LIMIT},
};

/// Keys read per round trip in a many-key read.
const CHUNK: usize = 500;

impl RedisStore {
    /// `rider_rides`: the rider's set of active rides, and the ride its
    /// idempotency key names here (read only while the ride exists).
    pub(super) async fn rides_of_rider(
        &self,
        rider: &RiderId,
        key: Option<&IdempotencyKey>,
    ) -> Result<RiderRides> {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(self.keys.rider_active(rider));
        if let Some(key) = key {
            pipe.cmd("GET").arg(self.keys.idempotency(rider, key));
        }
        let (active, made): (Vec<String>, Option<String>) = if key.is_some() {
            with_timeout(pipe.query_async(&mut conn)).await?
        } else {
            let (active,): (Vec<String>,) = with_timeout(pipe.query_async(&mut conn)).await?;
            (active, None)
        };
        let remembered = match made.map(|id| RideId::parse(&id)).transpose()? {
            Some(id) => crate::store::Rides::ride(self, &id).await?,
            None => None,
        };
        Ok(RiderRides {
            active: active
                .iter()
                .map(|id| RideId::parse(id))
                .collect::<Result<_>>()?,
            remembered,
        })
    }

    /// `area_snapshot`, one at a time or nearly.
    pub(super) async fn snapshot(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        now: DateTime<Utc>,
    ) -> Result<AreaSnapshot> {
        let _permit = self
            .snapshot_reads
            .acquire()
            .await
            .map_err(|_| Error::unavailable("the store is closing"))?;
        // Available drivers through the same function as nearbyDrivers (it
        // prunes silent ones); active rides and their drivers read after it.
        // Not one atomic read: live maps apply the events that follow.
        let available = self
            .nearby_rows(center, radius, SNAPSHOT_LIMIT, None)
            .await?;
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
        let mut drivers: Vec<Driver> = available.into_iter().map(|n| n.driver).collect();
        let of_rides: Vec<DriverId> = rides
            .iter()
            .flat_map(|r| {
                let offered = r.offer.as_ref().map(|o| o.driver.clone());
                let assigned = r.driver_id.clone().filter(|_| r.status.has_driver());
                offered.into_iter().chain(assigned)
            })
            .collect();
        drivers.extend(self.drivers_by_id(&of_rides, now).await?);
        Ok(AreaSnapshot { drivers, rides })
    }

    /// `nearby`'s rows: `{id, km, lng, lat, updated}` each.
    pub(super) async fn nearby_rows(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        count: usize,
        declined_of: Option<&RideId>,
    ) -> Result<Vec<NearbyDriver>> {
        let mut own = vec![
            center.lng().to_string(),
            center.lat().to_string(),
            radius.km().to_string(),
            count.to_string(),
        ];
        own.extend(declined_of.map(|ride| ride.to_string()));
        let flat: Vec<String> = self.call("nearby", None, &own).await?;
        flat.chunks_exact(5)
            .map(|row| {
                Ok(NearbyDriver {
                    driver: Driver {
                        id: DriverId::parse(&row[0])?,
                        status: DriverStatus::Available,
                        location: Some(Coordinates::parse(
                            parse_f64(&row[3])?,
                            parse_f64(&row[2])?,
                        )?),
                        updated_at: Some(parse_time(&row[4])?),
                        ride_id: None,
                    },
                    distance_km: parse_f64(&row[1])?,
                    eta: None,
                })
            })
            .collect()
    }

    /// `HGETALL` of many keys of this area in one round trip (one slot: a
    /// Cluster runs the pipeline on one node).
    pub(super) async fn hashes(&self, keys: &[String]) -> Result<Vec<HashMap<String, String>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut all = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.hgetall(key);
            }
            let mut conn = self.conn.clone();
            let read: Vec<HashMap<String, String>> =
                with_timeout(pipe.query_async(&mut conn)).await?;
            all.extend(read);
        }
        Ok(all)
    }

    /// Rides by id, in one round trip; ids that name no ride are skipped.
    pub(super) async fn rides(&self, ids: &[String]) -> Result<Vec<Arc<Ride>>> {
        let keys: Vec<String> = ids
            .iter()
            .filter_map(|id| RideId::parse(id).ok().map(|id| self.keys.ride(&id)))
            .collect();
        self.hashes(&keys)
            .await?
            .iter()
            .filter(|fields| !fields.is_empty())
            .map(|fields| ride_from_fields(fields).map(Arc::new))
            .collect()
    }

    /// Drivers by id, in one call; unknown ids are skipped.
    pub(super) async fn drivers_by_id(
        &self,
        ids: &[DriverId],
        now: DateTime<Utc>,
    ) -> Result<Vec<Driver>> {
        let mut drivers = Vec::with_capacity(ids.len());
        for ids in ids.chunks(CHUNK) {
            let own: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            let rows: Vec<Vec<String>> = self.call("drivers", None, &own).await?;
            for (row, id) in rows.into_iter().zip(ids) {
                if row.is_empty() {
                    continue;
                }
                let (_, fields) = split_reply(std::iter::once(String::new()).chain(row).collect())?;
                drivers.push(self.driver_from_fields(id, &fields, now)?);
            }
        }
        Ok(drivers)
    }
}
