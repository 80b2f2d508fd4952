//! Batched matching on Redis: a window's view of an area, its pairs
//! claimed and the area's batch lease, each one function call in the
//! area's slot (`lua/batch.lua`).

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    fields::{parse_f64, parse_time, ride_from_fields},
    handle::RedisStore,
    util::duration_ms,
};
use crate::{
    domain::error::{Error, Result},
    domain::{AreaId, Coordinates, DriverId, RadiusKm, Ride, RideId},
    store::{BatchPair, Batches, LastBatch, Offers, Window, WindowLimits, WindowRide},
};

fn ride_row(row: &[String]) -> Result<WindowRide> {
    let [id, lng, lat, created, batches, declined @ ..] = row else {
        return Err(Error::internal("a short window row from Redis"));
    };
    Ok(WindowRide {
        id: RideId::parse(id)?,
        pickup: Coordinates::parse(parse_f64(lat)?, parse_f64(lng)?)?,
        created_at: parse_time(created)?,
        batches: batches.parse().unwrap_or(0),
        declined: declined
            .iter()
            .filter_map(|d| DriverId::parse(d).ok())
            .collect(),
    })
}

#[async_trait]
impl Batches for RedisStore {
    async fn batch_window(
        &self,
        _area: &AreaId,
        limits: WindowLimits,
        _now: DateTime<Utc>,
    ) -> Result<Window> {
        let own = [
            limits.max_rides.to_string(),
            limits.max_drivers.to_string(),
            limits.radius.km().to_string(),
            limits.per_ride.to_string(),
        ];
        let (rides, drivers): (Vec<Vec<String>>, Vec<String>) =
            self.call("batch_window", None, &own).await?;
        let rides = rides
            .iter()
            .map(|row| ride_row(row))
            .collect::<Result<Vec<_>>>()?;
        let drivers = drivers
            .chunks_exact(3)
            .map(|d| {
                let at = Coordinates::parse(parse_f64(&d[2])?, parse_f64(&d[1])?)?;
                Ok((DriverId::parse(&d[0])?, at))
            })
            .collect::<Result<Vec<_>>>()?;
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
        _now: DateTime<Utc>,
    ) -> Result<Vec<Arc<Ride>>> {
        if pairs.is_empty() && unmatched.is_empty() && window_rides == 0 {
            return Ok(Vec::new());
        }
        let mut own = Vec::with_capacity(3 + pairs.len() * 5 + unmatched.len());
        own.push(radius.km().to_string());
        own.push(duration_ms(offers.timeout).to_string());
        own.push(pairs.len().to_string());
        own.push(window_rides.to_string());
        for pair in pairs {
            own.push(pair.ride.to_string());
            own.push(pair.driver.to_string());
            own.push(pair.eta.seconds.to_string());
            own.push(pair.eta.road_km.to_string());
            own.push(pair.eta.source.as_str().to_owned());
        }
        own.extend(unmatched.iter().map(|r| r.to_string()));
        let given: Vec<Vec<String>> = self.call("claim_batch", None, &own).await?;
        if !given.is_empty() {
            self.replicated().await?;
        }
        given
            .into_iter()
            .map(|flat| {
                let mut fields = HashMap::new();
                let mut items = flat.into_iter();
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    fields.insert(k, v);
                }
                ride_from_fields(&fields).map(Arc::new)
            })
            .collect()
    }

    async fn last_batch(&self, _area: &AreaId) -> Result<Option<LastBatch>> {
        let r: Vec<String> = self.call("last_batch", None, &[]).await?;
        let [rides, matched, at] = r.as_slice() else {
            return Ok(None);
        };
        Ok(Some(LastBatch {
            rides: rides.parse().unwrap_or(0),
            matched: matched.parse().unwrap_or(0),
            at: parse_time(at)?,
        }))
    }

    async fn batch_lease(&self, _area: &AreaId, ttl: Duration) -> Result<bool> {
        let own = [self.instance.clone(), duration_ms(ttl).max(1).to_string()];
        let held: i64 = self.call("batch_lease", None, &own).await?;
        Ok(held == 1)
    }
}
