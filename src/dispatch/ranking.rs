//! Ranking a ride's candidates by their time to the pickup.
//!
//! With roads, a search reads the `eta_candidates` nearest available
//! drivers (the straight-line prefilter), computes each one's driving time
//! to the pickup (one query each on the contraction hierarchy, on the
//! blocking pool, a bounded number at a time), drops those slower than the
//! area's `maxPickupEta`, and hands the store the rest fastest first: the
//! store claims the first still free, atomically. A candidate off the
//! network, or with no route, is ranked by the straight-line estimate. Without
//! roads the store picks the nearest itself (one call), its time the
//! straight-line estimate, and `maxPickupEta` narrows the radius to the
//! distance that estimate allows.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::settings::Settings;
use crate::{
    domain::error::{Error, Result},
    domain::{
        AreaId, Candidate, Coordinates, Eta, NearbyDriver, RadiusKm, Ride, ServiceAreas,
        StraightLine,
    },
    roads::Roads,
    store::{Pick, Store, MAX_CANDIDATES},
};

/// The most points a route is drawn with.
pub const MAX_ROUTE_POINTS: usize = 200;

/// How `nearbyDrivers` lists drivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NearbyOrder {
    /// Nearest first, by straight line.
    #[default]
    Distance,
    /// Fastest to the point first, by road time.
    Eta,
}

/// The roads each area ranks by: its own (`roads` in the areas file), or
/// the service's (`--roads`), or none.
#[derive(Clone, Default)]
pub struct AreaRoads {
    default: Option<Arc<Roads>>,
    by_area: HashMap<AreaId, Arc<Roads>>,
}

impl AreaRoads {
    /// The service's roads, and the areas' own.
    pub fn new(default: Option<Arc<Roads>>, by_area: HashMap<AreaId, Arc<Roads>>) -> Self {
        Self { default, by_area }
    }

    /// The roads of `area` (the service's when it has none of its own).
    pub fn of(&self, area: Option<&AreaId>) -> Option<&Arc<Roads>> {
        area.and_then(|a| self.by_area.get(a))
            .or(self.default.as_ref())
    }

    /// The service's roads (`--roads`).
    pub fn default_roads(&self) -> Option<&Arc<Roads>> {
        self.default.as_ref()
    }
}

/// Candidates ranked fastest first (ties: nearest first), without those
/// slower than `max_seconds`: what a search hands the store. A driver the
/// roads say cannot drive to the pickup (both on the network, no route
/// between them: an island) is timed in a straight line but ranked after
/// every driver that can, and never passes a `max_seconds` (its time is a
/// guess). One off the network (farther than the snap from any road) is
/// ranked by its straight-line estimate like the rest.
pub fn rank(
    roads: Option<&Roads>,
    found: &[NearbyDriver],
    pickup: Coordinates,
    line: &StraightLine,
    max_seconds: Option<u64>,
) -> Vec<Candidate> {
    rank_with_reach(roads, found, pickup, line, max_seconds)
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}

/// [`rank`], each candidate with whether no road joins it to the pickup.
pub fn rank_with_reach(
    roads: Option<&Roads>,
    found: &[NearbyDriver],
    pickup: Coordinates,
    line: &StraightLine,
    max_seconds: Option<u64>,
) -> Vec<(Candidate, bool)> {
    let located: Vec<(&NearbyDriver, Coordinates)> = found
        .iter()
        .filter_map(|n| Some((n, n.driver.location?)))
        .collect();
    let froms: Vec<Coordinates> = located.iter().map(|(_, at)| *at).collect();
    let etas: Vec<(Eta, bool)> = match roads {
        Some(roads) => roads.etas_to(&froms, &pickup, line),
        None => froms
            .iter()
            .map(|f| (line.eta(f, &pickup), false))
            .collect(),
    };
    let mut ranked: Vec<(Candidate, bool, f64)> = located
        .iter()
        .zip(etas)
        .map(|((n, _), (eta, unreachable))| {
            let candidate = Candidate {
                driver: n.driver.id.clone(),
                eta,
            };
            (candidate, unreachable, n.distance_km)
        })
        .filter(|(c, unreachable, _)| match max_seconds {
            Some(max) => !unreachable && u64::from(c.eta.seconds) <= max,
            None => true,
        })
        .collect();
    ranked.sort_by(|(a, a_cut, akm), (b, b_cut, bkm)| {
        a_cut
            .cmp(b_cut)
            .then(a.eta.seconds.cmp(&b.eta.seconds))
            .then(akm.total_cmp(bkm))
    });
    ranked.into_iter().map(|(c, cut, _)| (c, cut)).collect()
}

/// The ranking a dispatcher runs: the areas' roads, and a bound on the
/// searches computing times at once (each holds a path calculator the
/// size of the graph).
pub(super) struct Ranking {
    roads: AreaRoads,
    areas: Arc<ServiceAreas>,
    permits: Semaphore,
}

impl Ranking {
    pub fn new(roads: AreaRoads, areas: Arc<ServiceAreas>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            roads,
            areas,
            permits: Semaphore::new(cores.clamp(2, 32)),
        }
    }

    /// The roads a ride's area ranks by.
    pub fn roads_of_ride(&self, ride: &Ride) -> Option<&Arc<Roads>> {
        self.roads.of(self.areas.of_ride(&ride.id).map(|a| &a.id))
    }

    /// The roads of an area.
    pub fn roads_of_area(&self, area: &AreaId) -> Option<&Arc<Roads>> {
        self.roads.of(Some(area))
    }

    /// The roads of the area a point is in.
    pub fn roads_at(&self, at: Coordinates) -> Option<&Arc<Roads>> {
        self.roads.of(self.areas.locate(at).map(|a| &a.id))
    }

    /// The radius and the pick of a ride's next search.
    pub async fn pick(
        &self,
        store: &dyn Store,
        ride: &Ride,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<(RadiusKm, Pick)> {
        let line = settings.straight_line;
        let max = settings.max_pickup_eta.map(|d| d.as_secs());
        let Some(roads) = self.roads_of_ride(ride) else {
            let radius = match max {
                Some(max) => narrowed(settings.match_radius, line.km_within(max as f64)),
                None => settings.match_radius,
            };
            return Ok((radius, Pick::Nearest(line)));
        };
        let radius = settings.match_radius;
        // When `maxPickupEta` leaves out every one of a full prefilter, the
        // next nearest may still be in time: widen it (×4 each time, up to
        // the store's bound) rather than leave the ride waiting behind a
        // group of slow drivers.
        let mut count = settings.eta_candidates.max(1);
        loop {
            let found = store
                .candidates(&ride.id, ride.pickup, radius, count, now)
                .await?;
            let full = found.len() >= count;
            if found.is_empty() {
                return Ok((radius, Pick::Ranked(Vec::new())));
            }
            let roads = roads.clone();
            let pickup = ride.pickup;
            let span = tracing::info_span!("dispatch.rank", candidates = found.len());
            let started = std::time::Instant::now();
            let ranked = self
                .blocking(move || rank(Some(&roads), &found, pickup, &line, max))
                .instrument(span)
                .await?;
            metrics::histogram!(crate::telemetry::RANKING).record(started.elapsed().as_secs_f64());
            if !ranked.is_empty() || !full || max.is_none() || count >= MAX_CANDIDATES {
                return Ok((radius, Pick::Ranked(ranked)));
            }
            count = (count * 4).min(MAX_CANDIDATES);
        }
    }

    /// Drivers near `to`, each with its time to it, fastest first (ties:
    /// nearest first).
    pub async fn by_eta(
        &self,
        found: Vec<NearbyDriver>,
        to: Coordinates,
        line: StraightLine,
    ) -> Result<Vec<NearbyDriver>> {
        let from = found
            .iter()
            .map(|n| n.driver.location.unwrap_or(to))
            .collect();
        let etas = self.etas(from, to, line).await?;
        let mut timed: Vec<NearbyDriver> = found
            .into_iter()
            .zip(etas)
            .map(|(n, eta)| NearbyDriver {
                eta: Some(eta),
                ..n
            })
            .collect();
        timed.sort_by(|a, b| {
            let secs = |n: &NearbyDriver| n.eta.map_or(u32::MAX, |e| e.seconds);
            secs(a)
                .cmp(&secs(b))
                .then(a.distance_km.total_cmp(&b.distance_km))
        });
        Ok(timed)
    }

    /// Times from each of `from` to `to`, by the roads at `to` (straight
    /// lines without them).
    pub async fn etas(
        &self,
        from: Vec<Coordinates>,
        to: Coordinates,
        line: StraightLine,
    ) -> Result<Vec<Eta>> {
        let Some(roads) = self.roads_at(to).cloned() else {
            return Ok(from.iter().map(|f| line.eta(f, &to)).collect());
        };
        self.blocking(move || {
            let etas = roads.etas_to(&from, &to, &line);
            etas.into_iter().map(|(eta, _)| eta).collect()
        })
        .await
    }

    /// The road route from `from` to `to` (by the roads at `to`), at most
    /// [`MAX_ROUTE_POINTS`] points; `None` without roads or a route.
    pub async fn route(
        &self,
        from: Coordinates,
        to: Coordinates,
    ) -> Result<Option<Vec<Coordinates>>> {
        let Some(roads) = self.roads_at(to).cloned() else {
            return Ok(None);
        };
        self.blocking(move || {
            roads
                .route(&from, &to)
                .map(|r| simplify(&r.points, MAX_ROUTE_POINTS))
        })
        .await
    }

    /// Runs `work` on the blocking pool, a bounded number at a time (road
    /// queries and batch solves share these permits).
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::unavailable("shutting down"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::internal(format!("ranking stopped: {e}")))
    }
}

/// `radius`, or less when a longest pickup allows only `km`.
fn narrowed(radius: RadiusKm, km: f64) -> RadiusKm {
    if km >= radius.km() {
        return radius;
    }
    RadiusKm::parse(km.max(0.001)).unwrap_or(radius)
}

/// At most `max` of `points`, its ends kept: the line simplified
/// (Ramer–Douglas–Peucker) with a tolerance doubled until it fits, else
/// every n-th point.
pub fn simplify(points: &[Coordinates], max: usize) -> Vec<Coordinates> {
    use geo::Simplify;
    if points.len() <= max {
        return points.to_vec();
    }
    let line: geo::LineString<f64> = points.iter().map(|p| (p.lng(), p.lat())).collect();
    let mut epsilon = 1e-6;
    for _ in 0..24 {
        let simple = line.simplify(epsilon);
        if simple.0.len() <= max {
            return simple
                .0
                .iter()
                .filter_map(|c| Coordinates::parse(c.y, c.x).ok())
                .collect();
        }
        epsilon *= 2.0;
    }
    let last = points.len() - 1;
    let step = last.div_ceil(max.max(2) - 1).max(1);
    (0..last)
        .step_by(step)
        .chain(std::iter::once(last))
        .filter_map(|i| points.get(i).copied())
        .collect()
}
