//! Driving: a [`Leg`] is one drive from a point to another, by road when
//! the simulation has `--roads` (the route `crate::roads` finds, at the
//! roads' speeds) or in a straight line at `--speed-kmh` without; the
//! driver's position along it at any moment of simulated time.

use std::sync::Arc;

use rand::Rng;

use super::region::{step, Region};
use crate::domain::Coordinates;
use crate::roads::Roads;

/// How many random points are tried for one on the network before giving up.
const TRIES: usize = 50;

/// One drive, and how far along it the driver is.
#[derive(Debug, Clone)]
pub(super) struct Leg {
    points: Vec<Coordinates>,
    /// Kilometres from the start to each point.
    at_km: Vec<f64>,
    /// Simulated milliseconds the whole leg takes.
    total_ms: f64,
    /// Simulated milliseconds driven so far.
    driven_ms: f64,
    /// Whether it follows the roads (else a straight line).
    pub(super) by_road: bool,
}

impl Leg {
    /// A straight line from `from` to `to` at `speed_kmh`.
    pub(super) fn straight(from: Coordinates, to: Coordinates, speed_kmh: f64) -> Leg {
        let km = from.distance_km(&to);
        Leg::through(vec![from, to], km / speed_kmh.max(0.1) * 3_600_000.0, false)
    }

    fn through(points: Vec<Coordinates>, total_ms: f64, by_road: bool) -> Leg {
        let mut at_km = Vec::with_capacity(points.len());
        let mut km = 0.0;
        for (i, p) in points.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).and_then(|j| points.get(j)) {
                km += prev.distance_km(p);
            }
            at_km.push(km);
        }
        Leg {
            points,
            at_km,
            total_ms,
            driven_ms: 0.0,
            by_road,
        }
    }

    /// Simulated seconds the whole leg takes.
    pub(super) fn seconds(&self) -> f64 {
        self.total_ms / 1000.0
    }

    /// Where the leg ends.
    pub(super) fn end(&self) -> Option<Coordinates> {
        self.points.last().copied()
    }

    /// Drives `ms` more of simulated time; the position reached. Along a
    /// route the pace is the route's average (its total time is exact; the
    /// position within it is spread evenly over its length).
    pub(super) fn drive(&mut self, ms: f64) -> Option<Coordinates> {
        self.driven_ms = (self.driven_ms + ms).min(self.total_ms);
        let total_km = self.at_km.last().copied().unwrap_or(0.0);
        let fraction = if self.total_ms > 0.0 {
            self.driven_ms / self.total_ms
        } else {
            1.0
        };
        let km = total_km * fraction;
        let i = self.at_km.partition_point(|k| *k <= km);
        let (Some(a), Some(b)) = (
            i.checked_sub(1).and_then(|j| self.points.get(j)),
            self.points.get(i),
        ) else {
            return self.end();
        };
        let (ka, kb) = (self.at_km[i - 1], self.at_km[i]);
        let t = if kb > ka { (km - ka) / (kb - ka) } else { 1.0 };
        Coordinates::parse(
            a.lat() + (b.lat() - a.lat()) * t,
            a.lng() + (b.lng() - a.lng()) * t,
        )
        .ok()
    }

    /// Whether the leg is driven to its end.
    pub(super) fn done(&self) -> bool {
        self.driven_ms >= self.total_ms
    }
}

/// The simulation's streets: the roads of `--roads`, or none (straight lines).
#[derive(Clone)]
pub(super) struct Streets {
    pub(super) roads: Option<Arc<Roads>>,
    /// The speed of a straight-line leg.
    pub(super) speed_kmh: f64,
}

impl Streets {
    /// The leg from `from` to `to`: by road when both are on the network and
    /// a route joins them, else in a straight line.
    pub(super) fn leg(&self, from: Coordinates, to: Coordinates) -> Leg {
        self.road_leg(from, to)
            .unwrap_or_else(|| Leg::straight(from, to, self.speed_kmh))
    }

    /// The leg by road, if there is one.
    fn road_leg(&self, from: Coordinates, to: Coordinates) -> Option<Leg> {
        let route = self.roads.as_ref()?.route(&from, &to)?;
        let mut points = route.points;
        // The snapped start may lie a few metres from where the driver is.
        if points.first() != Some(&from) {
            points.insert(0, from);
        }
        Some(Leg::through(points, route.ms as f64, true))
    }

    /// A random point of `region`, on the network when there are roads:
    /// the snapped ends of a route to another random point, so a leg from
    /// the one to the other exists. `None` when none was found in a few tries.
    pub(super) fn random_pair(
        &self,
        region: &Region,
        rng: &mut impl Rng,
    ) -> Option<(Coordinates, Coordinates)> {
        let Some(roads) = &self.roads else {
            return Some((region.random_point(rng), region.random_point(rng)));
        };
        (0..TRIES).find_map(|_| {
            let (a, b) = (region.random_point(rng), region.random_point(rng));
            let route = roads.route(&a, &b)?;
            Some((*route.points.first()?, *route.points.last()?))
        })
    }

    /// A destination for a free driver at `at`: with roads, a point on the
    /// network 0.5–3 km away inside `region`; without, `None` (it wanders).
    pub(super) fn roam_leg(
        &self,
        region: &Region,
        at: Coordinates,
        rng: &mut impl Rng,
    ) -> Option<Leg> {
        self.roads.as_ref()?;
        (0..TRIES).find_map(|_| {
            let heading = rng.random_range(0.0..std::f64::consts::TAU);
            let to = step(at, heading, rng.random_range(0.5..3.0));
            if !region.contains(to) {
                return None;
            }
            self.road_leg(at, to)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lng: f64) -> Coordinates {
        Coordinates::parse(lat, lng).expect("a point")
    }

    #[test]
    fn a_leg_is_driven_at_its_pace_and_ends_where_it_ends() {
        let (a, b, c) = (at(50.0, 10.0), at(50.01, 10.0), at(50.01, 10.01));
        let mut leg = Leg::through(vec![a, b, c], 100_000.0, true);
        assert!((leg.seconds() - 100.0).abs() < 1e-9);
        let half = leg.drive(50_000.0).expect("a point");
        // Half the time, half the length: on the first stretch (the longer).
        let total = a.distance_km(&b) + b.distance_km(&c);
        assert!(
            (half.distance_km(&a) - total / 2.0).abs() < 0.001,
            "{half:?}"
        );
        assert!((half.lng() - 10.0).abs() < 1e-9, "{half:?}");
        assert!(!leg.done());
        let end = leg.drive(60_000.0).expect("a point");
        assert!(leg.done());
        assert!(end.distance_km(&c) < 1e-6);
    }

    #[test]
    fn a_straight_leg_takes_its_distance_at_the_speed() {
        let (a, b) = (at(50.0, 10.0), at(50.0, 10.0 + 1.0 / 71.5));
        let leg = Leg::straight(a, b, 36.0);
        // ~1 km at 36 km/h: ~100 s.
        assert!((leg.seconds() - 100.0).abs() < 3.0, "{}", leg.seconds());
    }
}
