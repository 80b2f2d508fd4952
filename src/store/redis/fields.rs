//! Reading Redis back into domain types: script replies, driver and ride
//! hashes, and the JSON events the scripts publish (which hold the same
//! fields as the hashes).

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, TimeZone, Utc};

use super::util::duration_ms;
use crate::{
    domain::error::{Error, Result},
    domain::{
        Coordinates, Driver, DriverId, DriverStatus, Eta, EtaSource, Offer, OfferEnd,
        OfferEndReason, Ride, RideId, RideStatus, RiderId,
    },
};

/// `{tag, field, value, …}` → tag and fields.
pub(super) fn split_reply(reply: Vec<String>) -> Result<(String, HashMap<String, String>)> {
    let mut items = reply.into_iter();
    let tag = items
        .next()
        .ok_or_else(|| Error::internal("empty reply from a script"))?;
    let mut fields = HashMap::new();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        fields.insert(k, v);
    }
    Ok((tag, fields))
}

pub(super) fn parse_f64(s: &str) -> Result<f64> {
    s.parse()
        .map_err(|_| Error::internal(format!("corrupt number in Redis: {s:?}")))
}

pub(super) fn parse_time(ms: &str) -> Result<DateTime<Utc>> {
    let ms: i64 = ms
        .parse()
        .map_err(|_| Error::internal(format!("corrupt time in Redis: {ms:?}")))?;
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| Error::internal(format!("time out of range in Redis: {ms}")))
}

/// A driver from its hash (or from the JSON the scripts publish, which
/// holds the same fields), as it stands at `now`.
pub(crate) fn driver_from_fields(
    id: &DriverId,
    fields: &HashMap<String, String>,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Driver> {
    let updated = fields.get("updated").map(|ms| parse_time(ms)).transpose()?;
    let location = match (fields.get("lat"), fields.get("lng")) {
        (Some(lat), Some(lng)) => Some(Coordinates::parse(parse_f64(lat)?, parse_f64(lng)?)?),
        _ => None,
    };
    let fresh = updated
        .is_some_and(|t| now.signed_duration_since(t).num_milliseconds() <= duration_ms(ttl));
    let ride = || fields.get("ride").map(|r| RideId::parse(r)).transpose();
    let (status, ride_id) = match fields.get("state").map(String::as_str) {
        Some("ASSIGNED") => (DriverStatus::Assigned, ride()?),
        Some("OFFERED") => (DriverStatus::Offered, ride()?),
        Some("AVAILABLE") if fresh => (DriverStatus::Available, None),
        _ => (DriverStatus::Offline, None),
    };
    Ok(Driver {
        id: id.clone(),
        status,
        location,
        updated_at: updated,
        ride_id,
    })
}

/// A ride from its hash (or from the JSON the scripts publish, which holds
/// the same fields).
pub(crate) fn ride_from_fields(f: &HashMap<String, String>) -> Result<Ride> {
    let get = |name: &str| {
        f.get(name)
            .map(String::as_str)
            .ok_or_else(|| Error::internal(format!("ride without {name} in Redis")))
    };
    let int = |name: &str| -> Result<u64> {
        get(name)?
            .parse()
            .map_err(|_| Error::internal(format!("corrupt {name} in Redis")))
    };
    let time = |name: &str| f.get(name).map(|t| parse_time(t)).transpose();
    let dropoff = match (f.get("dropoff_lat"), f.get("dropoff_lng")) {
        (Some(lat), Some(lng)) => Some(Coordinates::parse(parse_f64(lat)?, parse_f64(lng)?)?),
        _ => None,
    };
    let offer = match f.get("offer_driver") {
        Some(driver) => Some(Offer {
            driver: DriverId::parse(driver)?,
            distance_km: parse_f64(get("offer_km")?)?,
            made_at: parse_time(get("offer_at")?)?,
            expires_at: parse_time(get("offer_expires")?)?,
            revision: int("offer_rev")?,
            eta: eta_from_fields(f, "offer_eta")?,
        }),
        None => None,
    };
    let offer_end = match f.get("end_driver") {
        Some(driver) => Some(OfferEnd {
            driver: DriverId::parse(driver)?,
            reason: OfferEndReason::from_stored(get("end_reason")?)
                .ok_or_else(|| Error::internal("corrupt offer end in Redis"))?,
            revision: int("end_rev")?,
        }),
        None => None,
    };
    Ok(Ride {
        id: RideId::parse(get("id")?)?,
        rider_id: RiderId::parse(get("rider")?)?,
        pickup: Coordinates::parse(parse_f64(get("lat")?)?, parse_f64(get("lng")?)?)?,
        dropoff,
        status: RideStatus::from_stored(get("status")?)
            .ok_or_else(|| Error::internal("corrupt ride status in Redis"))?,
        driver_id: f.get("driver").map(|d| DriverId::parse(d)).transpose()?,
        distance_km: f.get("distance").map(|d| parse_f64(d)).transpose()?,
        offer,
        offer_end,
        searches: u32::try_from(int("searches")?).unwrap_or(u32::MAX),
        created_at: parse_time(get("created")?)?,
        expires_at: parse_time(get("expires")?)?,
        matched_at: time("matched")?,
        pickup_eta: eta_from_fields(f, "eta")?,
        arrived_at: time("arrived")?,
        started_at: time("started")?,
        ended_at: time("ended")?,
        revision: int("revision")?,
    })
}

/// An ETA from `<prefix>_s`, `<prefix>_km` and `<prefix>_src`, when the
/// ride holds one.
fn eta_from_fields(f: &HashMap<String, String>, prefix: &str) -> Result<Option<Eta>> {
    let field = |name: &str| f.get(&format!("{prefix}_{name}"));
    let (Some(seconds), Some(km), Some(source)) = (field("s"), field("km"), field("src")) else {
        return Ok(None);
    };
    let corrupt = || Error::internal(format!("corrupt {prefix} in Redis"));
    Ok(Some(Eta {
        seconds: parse_f64(seconds)?.clamp(0.0, f64::from(u32::MAX)) as u32,
        road_km: parse_f64(km)?,
        source: EtaSource::from_stored(source).ok_or_else(corrupt)?,
    }))
}

/// Counts the offers a call ended (`ACCEPTED,TIMED_OUT`, …).
pub(super) fn count_offers_ended(reasons: &str) {
    reasons
        .split(',')
        .filter_map(OfferEndReason::from_stored)
        .for_each(crate::telemetry::offer_ended);
}
