//! Reports from phone apps that speak their own protocol (OwnTracks over
//! HTTP or MQTT, Traccar Client's OsmAnd protocol): their payloads parsed
//! into a [`DevicePosition`] ([`owntracks`], [`osmand`]), and the position
//! recorded as one entry of `updateLocations` is, through the same checks
//! (`drivers.rs`): future-dated refused, the per-driver rate limit, and the
//! device's own timestamp as the report's time, so a late or reordered
//! message is STALE and never moves the driver back. Who the driver is was
//! decided by the caller (a token, or the device credentials in `auth`).

pub mod osmand;
pub mod owntracks;

use chrono::{DateTime, Utc};

use crate::domain::{
    error::{Error, Result},
    Coordinates,
};

/// Largest payload a device may send, in bytes (OwnTracks' location
/// messages are ~300 bytes; Traccar's JSON well under 2 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// The fastest speed a device may claim, in km/h (checked, not stored).
const MAX_SPEED_KMH: f64 = 2_000.0;
/// The largest accuracy radius a device may claim, in metres.
const MAX_ACCURACY_M: f64 = 1_000_000.0;

/// Where a device was, and when, by its own clock.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicePosition {
    pub at: Coordinates,
    /// When the device took the position: the report's time.
    pub taken_at: DateTime<Utc>,
    /// The radius of the position's uncertainty, in metres, when sent.
    pub accuracy_m: Option<f64>,
}

/// A point in time from seconds since the epoch (after 1970, before 10000).
pub fn from_unix_seconds(secs: f64, field: &str) -> Result<DateTime<Utc>> {
    if !secs.is_finite() || secs <= 0.0 || secs >= 253_402_300_800.0 {
        return Err(Error::bad_input(format!(
            "{field} must be a time in seconds since 1970"
        )));
    }
    let whole = secs.trunc();
    let nanos = ((secs - whole) * 1e9) as u32;
    DateTime::from_timestamp(whole as i64, nanos)
        .ok_or_else(|| Error::bad_input(format!("{field} is out of range")))
}

/// An accuracy radius: finite, 0 to 1,000 km.
pub fn accuracy(metres: Option<f64>, field: &str) -> Result<Option<f64>> {
    match metres {
        Some(m) if !(m.is_finite() && (0.0..=MAX_ACCURACY_M).contains(&m)) => Err(
            Error::bad_input(format!("{field} must be 0 to {MAX_ACCURACY_M} metres")),
        ),
        other => Ok(other),
    }
}

/// A speed in km/h: checked to be plausible (a negative one is "unknown",
/// as Android reports it), then dropped.
pub fn check_speed_kmh(kmh: Option<f64>, field: &str) -> Result<()> {
    match kmh {
        Some(v) if !v.is_finite() || v > MAX_SPEED_KMH => Err(Error::bad_input(format!(
            "{field} must be a speed below {MAX_SPEED_KMH} km/h"
        ))),
        _ => Ok(()),
    }
}

/// A bearing in degrees: checked (0 to 360; negative is "unknown"), dropped.
pub fn check_bearing(degrees: Option<f64>, field: &str) -> Result<()> {
    match degrees {
        Some(d) if !d.is_finite() || d > 360.0 => Err(Error::bad_input(format!(
            "{field} must be a bearing from 0 to 360 degrees"
        ))),
        _ => Ok(()),
    }
}
