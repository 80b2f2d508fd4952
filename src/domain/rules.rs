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
}

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

/// The longest pickup a ride accepts: 0 (no limit), or from 1 s to a day.
pub const MAX_PICKUP_ETA: DurationBounds = DurationBounds {
    min: Duration::from_secs(1),
    max: DAY,
    zero_is_off: true,
};

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
