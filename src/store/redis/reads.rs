//! Reads that are not one function call: a driver or ride's hash, many at
//! once (pipelined on the area's node), and nearby drivers.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};

use super::{
    fields::{parse_f64, parse_time},
    ride_from_fields, split_reply, with_timeout, RedisStore,
};
use crate::{
    domain::{Coordinates, Driver, DriverId, DriverStatus, NearbyDriver, RadiusKm, Ride, RideId},
    error::Result,
};

impl RedisStore {
    /// `nearby`'s rows: `{id, km, lng, lat, updated}` each.
    pub(super) async fn nearby_rows(
        &self,
        center: Coordinates,
        radius: RadiusKm,
        count: usize,
    ) -> Result<Vec<NearbyDriver>> {
        let own = [
            center.lng().to_string(),
            center.lat().to_string(),
            radius.km().to_string(),
            count.to_string(),
        ];
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
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.hgetall(key);
        }
        let mut conn = self.conn.clone();
        with_timeout(pipe.query_async(&mut conn)).await
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
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let own: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let rows: Vec<Vec<String>> = self.call("drivers", None, &own).await?;
        rows.into_iter()
            .zip(ids)
            .filter(|(row, _)| !row.is_empty())
            .map(|(row, id)| {
                let (_, fields) = split_reply(std::iter::once(String::new()).chain(row).collect())?;
                self.driver_from_fields(id, &fields, now)
            })
            .collect()
    }
}
