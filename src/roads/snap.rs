//! Snapping a point to the road: an R-tree (`rstar`) over every segment, in
//! metres on a local flat projection, finds the nearest segment and where
//! on it the point falls.

use rstar::primitives::{GeomWithData, Line};
use rstar::RTree;

use crate::domain::EARTH_RADIUS_KM;
use crate::roads::graph::{Graph, OnSegment};

type Indexed = GeomWithData<Line<[f64; 2]>, usize>;

/// The segments' R-tree, rebuilt from the graph at load (not stored).
pub struct Snapper {
    tree: RTree<Indexed>,
    /// Cosine of the graph's middle latitude: metres per degree of longitude shrink by it.
    cos_lat: f64,
}

const METRES_PER_RADIAN: f64 = EARTH_RADIUS_KM * 1000.0;
/// The most segments one snap measures.
const MAX_LOOKED_AT: usize = 64;

impl Snapper {
    /// Indexes every segment of `graph`.
    pub fn new(graph: &Graph) -> Snapper {
        let (min, max) = graph
            .nodes
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), (lat, _)| {
                (lo.min(*lat), hi.max(*lat))
            });
        let cos_lat = ((min + max) / 2.0).to_radians().cos().max(0.01);
        let mut snapper = Snapper {
            tree: RTree::new(),
            cos_lat,
        };
        let lines = graph
            .segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let a = snapper.project(*graph.nodes.get(s.a as usize)?);
                let b = snapper.project(*graph.nodes.get(s.b as usize)?);
                Some(GeomWithData::new(Line::new(a, b), i))
            })
            .collect();
        snapper.tree = RTree::bulk_load(lines);
        snapper
    }

    /// The point (lat, lng) in metres on the flat projection.
    fn project(&self, (lat, lng): (f64, f64)) -> [f64; 2] {
        [
            lng.to_radians() * METRES_PER_RADIAN * self.cos_lat,
            lat.to_radians() * METRES_PER_RADIAN,
        ]
    }

    /// The nearest point on the network to `(lat, lng)`, if within
    /// `max_metres` (on the sphere, at any latitude); `None` when the point
    /// is off the network. The tree's projection is true at the graph's
    /// middle latitude only, so its nearest segments are looked at in turn
    /// (at most [`MAX_LOOKED_AT`]), each measured for real, until no other
    /// can be nearer.
    pub fn snap(&self, graph: &Graph, point: (f64, f64), max_metres: f64) -> Option<OnSegment> {
        let p = self.project(point);
        // East–west metres here per metre of the projection.
        let k = (point.0.to_radians().cos() / self.cos_lat).clamp(1e-6, 1e6);
        let mut best: Option<(f64, OnSegment)> = None;
        for (nearest, d2) in self
            .tree
            .nearest_neighbor_iter_with_distance_2(&p)
            .take(MAX_LOOKED_AT)
        {
            // No segment from here on is nearer than this, for real.
            let lower = d2.sqrt() * k.min(1.0);
            if lower.is_nan()
                || lower > max_metres
                || best.as_ref().is_some_and(|(b, _)| lower > *b)
            {
                break;
            }
            let line = nearest.geom();
            let (a, b) = (line.from, line.to);
            let (dx, dy) = ((b[0] - a[0]) * k, b[1] - a[1]);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (((p[0] - a[0]) * k * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let Some(s) = graph.segments.get(nearest.data) else {
                continue;
            };
            let (Some(na), Some(nb)) =
                (graph.nodes.get(s.a as usize), graph.nodes.get(s.b as usize))
            else {
                continue;
            };
            let on = (na.0 + t * (nb.0 - na.0), na.1 + t * (nb.1 - na.1));
            let off = crate::roads::graph::km_between(point, on) * 1000.0;
            if off <= max_metres && best.as_ref().is_none_or(|(b, _)| off < *b) {
                let at = OnSegment {
                    segment: nearest.data,
                    t,
                    point: on,
                };
                best = Some((off, at));
            }
        }
        best.map(|(_, at)| at)
    }

    /// Approximate bytes the tree holds.
    pub fn approx_bytes(&self) -> usize {
        // Each leaf plus its share of inner nodes' envelopes.
        self.tree.size() * (std::mem::size_of::<Indexed>() + 24)
    }
}
