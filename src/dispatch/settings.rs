//! How rides are searched for: the service's settings, and each area's
//! rules over them.

use std::{sync::Arc, time::Duration};

use crate::{
    domain::{Area, AreaId, RadiusKm, RideId, ServiceAreas, StraightLine},
    store::Offers,
};

/// How rides are searched for.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How far from the pickup a driver may be matched.
    pub match_radius: RadiusKm,
    /// How long a ride searches before it expires.
    pub request_timeout: Duration,
    /// How often a ride searches when nothing wakes it sooner.
    pub search_interval: Duration,
    /// Location updates allowed per driver per second (0: no limit).
    pub max_update_rate: f64,
    /// Fastest plausible driver speed; a report implying a faster jump is refused.
    pub max_speed_kmh: f64,
    /// Most rides a rider may have that have not ended (0: no limit).
    pub max_active_rides_per_rider: usize,
    /// Whether rides are offered to drivers first, and for how long.
    pub offers: Offers,
    /// How often a `fleet` subscriber gets the changes since the last
    /// event, in one event (zero: one event per change).
    pub fleet_interval: Duration,
    /// How many of the nearest drivers a search ranks by time, with roads.
    pub eta_candidates: usize,
    /// The straight-line estimate (no roads, or a candidate off them).
    pub straight_line: StraightLine,
    /// Drivers further than this from the pickup, in time, are not given
    /// the ride; `None`: no limit.
    pub max_pickup_eta: Option<Duration>,
    /// Rides are matched together every this long (zero: each on its own,
    /// as it comes).
    pub match_window: Duration,
    /// How batches weigh and bound their work.
    pub batch: BatchRules,
}

/// How a batch window assigns its rides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchRules {
    /// Pickup seconds a second of waiting is worth (it breaks near-ties
    /// in favour of the longer waiting).
    pub wait_weight: f64,
    /// Most rides one assignment solves; the rest of a larger group are
    /// matched greedily.
    pub max_batch_size: usize,
    /// A ride this many windows unmatched is matched first, greedily.
    pub max_batches: u32,
    /// How long a batch lease lasts unrenewed (another instance takes the
    /// area's windows within about this long after its holder dies).
    pub lease: Duration,
}

impl Default for BatchRules {
    fn default() -> Self {
        Self {
            wait_weight: 0.01,
            max_batch_size: 1000,
            max_batches: 3,
            lease: Duration::from_secs(5),
        }
    }
}

/// The settings in force: the service's, and where the service operates
/// with each area's own rules over them. Cheap to clone.
#[derive(Clone)]
pub(super) struct AreaSettings {
    base: Settings,
    areas: Arc<ServiceAreas>,
}

impl AreaSettings {
    /// The service's `base` settings under the rules of `areas`.
    pub fn new(base: Settings, areas: Arc<ServiceAreas>) -> Self {
        Self { base, areas }
    }

    /// The service's own settings.
    pub fn base(&self) -> Settings {
        self.base
    }

    /// The service's areas.
    pub fn areas(&self) -> &Arc<ServiceAreas> {
        &self.areas
    }

    /// The settings a ride's search runs with: its area's rules over the
    /// service's.
    pub fn for_ride(&self, ride: &RideId) -> Settings {
        match self.areas.of_ride(ride) {
            Some(area) => self.under(area),
            None => self.base,
        }
    }

    /// The settings an area's batches run with.
    pub fn for_area(&self, area: &AreaId) -> Settings {
        match self.areas.get(area) {
            Some(area) => self.under(area),
            None => self.base,
        }
    }

    /// The service's settings under `area`'s rules.
    fn under(&self, area: &Area) -> Settings {
        let base = self.base;
        Settings {
            match_radius: area.rules.match_radius.unwrap_or(base.match_radius),
            request_timeout: area.rules.request_timeout.unwrap_or(base.request_timeout),
            search_interval: area.rules.search_interval.unwrap_or(base.search_interval),
            offers: Offers {
                timeout: area.rules.offer_timeout.unwrap_or(base.offers.timeout),
                ..base.offers
            },
            straight_line: StraightLine {
                speed_kmh: (area.rules.straight_line_speed_kmh)
                    .unwrap_or(base.straight_line.speed_kmh),
                ..base.straight_line
            },
            max_pickup_eta: match area.rules.max_pickup_eta {
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
                None => base.max_pickup_eta,
            },
            match_window: area.rules.match_window.unwrap_or(base.match_window),
            batch: BatchRules {
                wait_weight: (area.rules.batch_wait_weight).unwrap_or(base.batch.wait_weight),
                max_batches: area.rules.max_batches.unwrap_or(base.batch.max_batches),
                ..base.batch
            },
            ..base
        }
    }

    /// The straight-line estimate where `at` is (its area's speed).
    pub fn straight_line_at(&self, at: crate::domain::Coordinates) -> StraightLine {
        let base = self.base.straight_line;
        match self.areas.locate(at) {
            Some(area) => StraightLine {
                speed_kmh: (area.rules.straight_line_speed_kmh).unwrap_or(base.speed_kmh),
                ..base
            },
            None => base,
        }
    }

    /// The widest match radius of any area: a driver becoming available
    /// wakes the rides this close (a ride woken for nothing searches once).
    pub fn widest_match_radius(&self) -> RadiusKm {
        self.areas
            .all()
            .iter()
            .filter_map(|a| a.rules.match_radius)
            .fold(self.base.match_radius, |widest, r| {
                if r.km() > widest.km() {
                    r
                } else {
                    widest
                }
            })
    }
}
