//! Traccar Client's reports (the OsmAnd protocol): query or form fields
//! (`id`, `lat`, `lon`, `timestamp`, `speed` in knots, `bearing`,
//! `accuracy`), or the JSON Traccar Client 9 posts (`device_id`, and
//! `location.timestamp`, `location.coords.{latitude, longitude, speed (m/s),
//! heading, accuracy}`). Either becomes the device's id and a
//! [`DevicePosition`]; the id is looked up in the device credentials by the
//! caller. `timestamp` is seconds or milliseconds since 1970, or ISO 8601.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::{accuracy, check_bearing, check_speed_kmh, from_unix_seconds, DevicePosition};
use crate::domain::{
    error::{Error, Result},
    Coordinates,
};

/// Longest device id, in bytes.
const MAX_ID_BYTES: usize = 128;
/// A number above this is milliseconds since 1970, not seconds (the year
/// 5138 in seconds).
const MILLIS_ABOVE: f64 = 1e11;
const KMH_PER_KNOT: f64 = 1.852;
const KMH_PER_MS: f64 = 3.6;

/// A report from query or form fields (`id` or `deviceid`; `lat`, `lon`;
/// `timestamp`; `speed`, `bearing` or `heading`, `accuracy` optional).
pub fn from_fields(fields: &[(String, String)]) -> Result<(String, DevicePosition)> {
    let get = |names: &[&str]| {
        fields
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    };
    let number = |names: &[&str]| -> Result<Option<f64>> {
        get(names)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| Error::bad_input(format!("{} must be a number", names[0])))
            })
            .transpose()
    };
    let id = device_id(get(&["id", "deviceid"]))?;
    let lat = number(&["lat"])?.ok_or_else(|| Error::bad_input("lat is required"))?;
    let lon = number(&["lon"])?.ok_or_else(|| Error::bad_input("lon is required"))?;
    let taken_at = timestamp(get(&["timestamp"]))?;
    check_speed_kmh(
        number(&["speed"])?.map(|knots| knots * KMH_PER_KNOT),
        "speed",
    )?;
    check_bearing(number(&["bearing", "heading"])?, "bearing")?;
    let position = DevicePosition {
        at: Coordinates::parse(lat, lon)?,
        taken_at,
        accuracy_m: accuracy(number(&["accuracy"])?, "accuracy")?,
    };
    Ok((id, position))
}

#[derive(Deserialize)]
struct Traccar {
    device_id: Option<String>,
    location: Option<Location>,
}

#[derive(Deserialize)]
struct Location {
    timestamp: Option<serde_json::Value>,
    coords: Option<Coords>,
}

#[derive(Deserialize)]
struct Coords {
    latitude: Option<f64>,
    longitude: Option<f64>,
    speed: Option<f64>,
    heading: Option<f64>,
    accuracy: Option<f64>,
}

/// A report from Traccar Client 9's JSON body.
pub fn from_json(body: &[u8]) -> Result<(String, DevicePosition)> {
    let report: Traccar = serde_json::from_slice(body)
        .map_err(|e| Error::bad_input(format!("not a Traccar Client report: {e}")))?;
    let id = device_id(report.device_id.as_deref())?;
    let location = report
        .location
        .ok_or_else(|| Error::bad_input("location is required"))?;
    let coords = location
        .coords
        .ok_or_else(|| Error::bad_input("location.coords is required"))?;
    let taken_at = match &location.timestamp {
        Some(serde_json::Value::String(text)) => timestamp(Some(text))?,
        Some(serde_json::Value::Number(n)) => timestamp(Some(&n.to_string()))?,
        _ => return Err(Error::bad_input("location.timestamp is required")),
    };
    let (lat, lon) = match (coords.latitude, coords.longitude) {
        (Some(lat), Some(lon)) => (lat, lon),
        _ => {
            return Err(Error::bad_input(
                "location.coords needs latitude and longitude",
            ))
        }
    };
    check_speed_kmh(coords.speed.map(|ms| ms * KMH_PER_MS), "speed")?;
    check_bearing(coords.heading, "heading")?;
    let position = DevicePosition {
        at: Coordinates::parse(lat, lon)?,
        taken_at,
        accuracy_m: accuracy(coords.accuracy, "accuracy")?,
    };
    Ok((id, position))
}

fn device_id(id: Option<&str>) -> Result<String> {
    match id {
        None | Some("") => Err(Error::bad_input("the device id (id) is required")),
        Some(id) if id.len() > MAX_ID_BYTES => Err(Error::bad_input(format!(
            "the device id is longer than {MAX_ID_BYTES} bytes"
        ))),
        Some(id) => Ok(id.to_owned()),
    }
}

/// Seconds or milliseconds since 1970, or an ISO 8601 time (with an
/// offset; without one it is UTC).
pub fn timestamp(text: Option<&str>) -> Result<DateTime<Utc>> {
    let text = text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::bad_input("timestamp is required"))?;
    if let Ok(n) = text.parse::<f64>() {
        let secs = if n.abs() > MILLIS_ABOVE {
            n / 1000.0
        } else {
            n
        };
        return from_unix_seconds(secs, "timestamp");
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    Err(Error::bad_input(
        "timestamp must be seconds or milliseconds since 1970, or an ISO 8601 time",
    ))
}

#[cfg(test)]
mod tests;
