//! Driving-time estimates: how an ETA was made (along the roads, or from
//! the straight line), the straight-line estimate's parameters, and the
//! candidates a search hands the store in the order it should try them.

use super::{Coordinates, DriverId};

/// How an ETA was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtaSource {
    /// Along the road network.
    Roads,
    /// From the straight-line distance (no roads, an end off the network,
    /// or no route between the ends).
    StraightLine,
}

impl EtaSource {
    /// As stored, as GraphQL spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Roads => "ROADS",
            Self::StraightLine => "STRAIGHT_LINE",
        }
    }

    /// As a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Roads => "roads",
            Self::StraightLine => "straight_line",
        }
    }

    /// From [`Self::as_str`].
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "ROADS" => Some(Self::Roads),
            "STRAIGHT_LINE" => Some(Self::StraightLine),
            _ => None,
        }
    }
}

/// An estimated driving time between two points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eta {
    /// Driving time in whole seconds.
    pub seconds: u32,
    /// Length driven in km (for a straight-line estimate: distance × detour).
    pub road_km: f64,
    /// How it was made.
    pub source: EtaSource,
}

/// The straight-line estimate's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StraightLine {
    /// Average speed, km/h (default 20).
    pub speed_kmh: f64,
    /// Road length per straight-line km (default 1.4).
    pub detour: f64,
}

/// The straight-line speed's bounds, km/h (a walking pace to a fast motorway).
pub const STRAIGHT_LINE_SPEED_KMH: (f64, f64) = (1.0, 200.0);
/// The detour factor's bounds (the road is never shorter than the line).
pub const DETOUR_FACTOR: (f64, f64) = (1.0, 5.0);

impl Default for StraightLine {
    fn default() -> Self {
        StraightLine {
            speed_kmh: 20.0,
            detour: 1.4,
        }
    }
}

impl StraightLine {
    /// The straight-line ETA from `from` to `to`.
    pub fn eta(&self, from: &Coordinates, to: &Coordinates) -> Eta {
        self.eta_for_km(from.distance_km(to))
    }

    /// The straight-line ETA over `km` of straight line.
    pub fn eta_for_km(&self, km: f64) -> Eta {
        let road_km = km * self.detour;
        let seconds = (road_km / self.speed_kmh.max(0.1) * 3600.0).round();
        Eta {
            seconds: seconds.clamp(0.0, f64::from(u32::MAX)) as u32,
            road_km,
            source: EtaSource::StraightLine,
        }
    }

    /// How far in a straight line a driver gets in `seconds` (the radius
    /// a longest pickup time allows).
    pub fn km_within(&self, seconds: f64) -> f64 {
        seconds / 3600.0 * self.speed_kmh / self.detour.max(1.0)
    }
}

/// A driver a search may give the ride to, with its time to the pickup.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub driver: DriverId,
    pub eta: Eta,
}
