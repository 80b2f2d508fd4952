//! Where simulated drivers roam and riders appear (a circle, a service
//! area, or the box of the roads), and the geometry of moving through it.

use std::sync::Arc;

use rand::Rng;

use super::args::SimulateArgs;
use crate::domain::{Area, Coordinates, ServiceAreas};

/// Moves a point `km` along `heading` (radians from north).
pub(super) fn step(from: Coordinates, heading: f64, km: f64) -> Coordinates {
    let dlat = km * heading.cos() / 111.2;
    let dlng = km * heading.sin() / (111.2 * from.lat().to_radians().cos().max(0.01));
    Coordinates::parse(from.lat() + dlat, from.lng() + dlng).unwrap_or(from)
}

/// The heading from `a` to `b`, radians from north.
pub(super) fn heading_to(a: Coordinates, b: Coordinates) -> f64 {
    let dy = b.lat() - a.lat();
    let dx = (b.lng() - a.lng()) * a.lat().to_radians().cos();
    dx.atan2(dy)
}

/// Where simulated drivers roam and riders appear: the circle of
/// `--center` and `--radius-km`, one service area, or the box of the
/// roads (south-west and north-east corners).
#[derive(Clone)]
pub(super) enum Region {
    Circle(Coordinates, f64),
    Area(Arc<Area>),
    Box(Coordinates, Coordinates),
}

impl Region {
    /// The regions of a simulation: its areas, else the box of its roads
    /// (`roads_box`), else its circle.
    pub(super) fn all(
        args: &SimulateArgs,
        roads_box: Option<(Coordinates, Coordinates)>,
    ) -> Result<Vec<Region>, String> {
        let Some(path) = &args.areas else {
            return Ok(vec![match roads_box {
                Some((sw, ne)) => Region::Box(sw, ne),
                None => Region::Circle(args.center, args.radius_km),
            }]);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--areas {}: {e}", path.display()))?;
        let areas = ServiceAreas::from_geojson(&text)
            .map_err(|e| format!("--areas {}: {e}", path.display()))?;
        Ok(areas.all().iter().cloned().map(Region::Area).collect())
    }

    pub(super) fn contains(&self, at: Coordinates) -> bool {
        match self {
            Self::Circle(center, km) => at.distance_km(center) <= *km,
            Self::Area(area) => area.contains(at),
            Self::Box(sw, ne) => {
                (sw.lat()..=ne.lat()).contains(&at.lat())
                    && (sw.lng()..=ne.lng()).contains(&at.lng())
            }
        }
    }

    /// Somewhere inside (to head back to).
    pub(super) fn center(&self) -> Coordinates {
        match self {
            Self::Circle(center, _) => *center,
            Self::Box(sw, ne) => {
                Coordinates::parse((sw.lat() + ne.lat()) / 2.0, (sw.lng() + ne.lng()) / 2.0)
                    .unwrap_or(*sw)
            }
            Self::Area(area) => {
                use geo::Centroid;
                area.shape
                    .centroid()
                    .and_then(|c| Coordinates::parse(c.y(), c.x()).ok())
                    .filter(|c| area.contains(*c))
                    .unwrap_or_else(|| self.random_point(&mut rand::rng()))
            }
        }
    }

    /// A random point inside.
    pub(super) fn random_point(&self, rng: &mut impl Rng) -> Coordinates {
        match self {
            Self::Circle(center, km) => random_point(rng, *center, *km),
            Self::Box(sw, ne) => {
                let lat = rng.random_range(sw.lat()..=ne.lat());
                let lng = rng.random_range(sw.lng()..=ne.lng());
                Coordinates::parse(lat, lng).unwrap_or(*sw)
            }
            Self::Area(area) => {
                use geo::BoundingRect;
                let corner = area
                    .shape
                    .0
                    .first()
                    .and_then(|p| p.exterior().0.first())
                    .copied();
                let fallback = corner
                    .and_then(|c| Coordinates::parse(c.y, c.x).ok())
                    .unwrap_or(self.anywhere());
                let Some(rect) = area.shape.bounding_rect() else {
                    return fallback;
                };
                // Points of the box until one is inside (bounded: a thin
                // area falls back to a vertex of its own).
                for _ in 0..200 {
                    let lat = rng.random_range(rect.min().y..=rect.max().y);
                    let lng = rng.random_range(rect.min().x..=rect.max().x);
                    if let Ok(at) = Coordinates::parse(lat, lng) {
                        if area.contains(at) {
                            return at;
                        }
                    }
                }
                fallback
            }
        }
    }

    /// A point that always parses (an area's own vertex fails only for
    /// geometry the areas file's checks refused).
    fn anywhere(&self) -> Coordinates {
        match Coordinates::parse(0.0, 0.0) {
            Ok(origin) => origin,
            Err(_) => self.center(),
        }
    }
}

/// A random point within `radius_km` of `center`, uniform over the disc.
fn random_point(rng: &mut impl Rng, center: Coordinates, radius_km: f64) -> Coordinates {
    let r = radius_km * rng.random::<f64>().sqrt();
    step(center, rng.random_range(0.0..std::f64::consts::TAU), r)
}
