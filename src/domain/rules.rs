//! The rules a ride lives by (how long it searches, how often, how long an
//! offer waits), and the bounds every source of them must respect: an
//! area's properties in the areas file and the command-line flags alike.
//! A search every nanosecond spins a core for one ride; a timeout of
//! centuries overflows the clocks that add it.

use std::time::Duration;

use super::RadiusKm;

/// The rules an area sets for itself; `None` keeps the service's flag.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AreaRules {
    pub match_radius: Option<RadiusKm>,
    pub request_timeout: Option<Duration>,
    pub search_interval: Option<Duration>,
    pub offer_timeout: Option<Duration>,
    /// Drivers further than this from the pickup, in time, are not given
    /// the ride (zero: no limit).
    pub max_pickup_eta: Option<Duration>,
    /// The straight-line estimate's speed, km/h.
    pub straight_line_speed_kmh: Option<f64>,
    /// Rides are matched together every this long (zero: one by one).
    pub match_window: Option<Duration>,
    /// Pickup seconds a second of waiting is worth in a batch.
    pub batch_wait_weight: Option<f64>,
    /// Windows a ride goes unmatched before it is matched first.
    pub max_batches: Option<u32>,
    /// An assigned driver this close to the pickup, in metres, is
    /// approaching (a DRIVER_APPROACHING event).
    pub approach_meters: Option<f64>,
}

/// The range of `approachMeters` / `--approach-meters`.
pub const APPROACH_METERS: (f64, f64) = (1.0, 100_000.0);

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The range a duration rule may take, both ends included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationBounds {
    pub min: Duration,
    pub max: Duration,
    /// Whether 0 is also accepted (it turns the feature off).
    pub zero_is_off: bool,
}

/// How often a ride searches: from 50 ms to a day.
pub const SEARCH_INTERVAL: DurationBounds = DurationBounds {
    min: Duration::from_millis(50),
    max: DAY,
    zero_is_off: false,
};
/// How long a ride searches: from 1 ms to a day.
pub const REQUEST_TIMEOUT: DurationBounds = DurationBounds {
    min: Duration::from_millis(1),
    max: DAY,
    zero_is_off: false,
};
/// How long an offer waits: 0 (no offers), or from 100 ms (shorter, no
/// driver could answer one) to a day.
pub const OFFER_TIMEOUT: DurationBounds = DurationBounds {
    min: Duration::from_millis(100),
    max: DAY,
    zero_is_off: true,
};

/// A batch window: 0 (rides matched one by one), or from 100 ms to 1 min.
pub const MATCH_WINDOW: DurationBounds = DurationBounds {
    min: Duration::from_millis(100),
    max: Duration::from_secs(60),
    zero_is_off: true,
};
/// A batch's wait weight: from 0 to 100 pickup seconds per second waited.
pub const BATCH_WAIT_WEIGHT: (f64, f64) = (0.0, 100.0);
/// Windows unmatched before a ride goes first: from 1 to 1,000.
pub const MAX_BATCHES: (u32, u32) = (1, 1000);

/// The longest pickup a ride accepts: 0 (no limit), or from 1 s to a day.
pub const MAX_PICKUP_ETA: DurationBounds = DurationBounds {
    min: Duration::from_secs(1),
    max: DAY,
    zero_is_off: true,
};

/// A whole-number range as numbers, to check a property against.
pub fn range_f64((lo, hi): (u32, u32)) -> (f64, f64) {
    (f64::from(lo), f64::from(hi))
}

impl DurationBounds {
    /// The duration, if within bounds; else what is wrong, in a few words.
    pub fn check(self, value: Duration) -> Result<Duration, String> {
        if (self.min..=self.max).contains(&value) || (self.zero_is_off && value.is_zero()) {
            Ok(value)
        } else {
            Err(format!(
                "must be {}from {} to {}, not {}",
                if self.zero_is_off { "0 (off) or " } else { "" },
                humantime::format_duration(self.min),
                humantime::format_duration(self.max),
                humantime::format_duration(value)
            ))
        }
    }
}

/// A number property within `lo..=hi`, if given.
pub(super) fn number(
    properties: &serde_json::Map<String, serde_json::Value>,
    id: &impl std::fmt::Display,
    key: &str,
    (lo, hi): (f64, f64),
) -> Result<Option<f64>, String> {
    match properties.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| (lo..=hi).contains(n))
            .map(Some)
            .ok_or_else(|| format!("area {id}: {key} must be a number from {lo} to {hi}")),
    }
}

/// Most webhooks one area names.
pub const MAX_AREA_WEBHOOKS: usize = 16;

/// A list of URLs (text, checked at start), if given.
pub(super) fn urls(
    properties: &serde_json::Map<String, serde_json::Value>,
    id: &impl std::fmt::Display,
    key: &str,
) -> Result<Vec<String>, String> {
    let bad = || format!("area {id}: {key} must be an array of at most {MAX_AREA_WEBHOOKS} URLs");
    match properties.get(key) {
        None => Ok(Vec::new()),
        Some(serde_json::Value::Array(list)) if list.len() <= MAX_AREA_WEBHOOKS => list
            .iter()
            .map(|u| u.as_str().filter(|u| !u.is_empty()).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}
