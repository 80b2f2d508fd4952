//! An area's boundary, checked once and prepared for the question every
//! report asks: is this point in the area?
//!
//! Every edge of every ring goes into one R-tree, built in O(n log n). A
//! point is in the area when it lies on an edge (the border belongs to the
//! area: [`ServiceAreas::locate`](super::ServiceAreas::locate) breaks ties
//! between areas by their order in the file) or when a ray from it to the
//! east crosses an odd number of edges; both questions ask the tree only
//! for the few edges near the point or the ray, O(log n) for the shapes
//! areas have. The same tree checks the shape at start, also without
//! comparing every edge with every other (`geo`'s validation does, which
//! took 35 s for a 100,000-vertex polygon): each ring has three distinct
//! points and an area, no ring crosses or touches itself, rings never
//! meet, holes lie in their outer ring and the polygons of one area do not
//! overlap. Orientation uses `geo`'s robust predicate, so two areas sharing
//! an edge agree exactly on which side of it a point is.

use geo::{kernels::RobustKernel, Coord, Kernel, MultiPolygon, Orientation};
use rstar::{RTree, RTreeObject, AABB};

/// Below this many square degrees (about 0.01 m²) a ring has no area.
const MIN_RING_AREA: f64 = 1e-12;

/// Where an edge sits: its ring and its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edge {
    ring: usize,
    index: usize,
    /// How many edges the ring has.
    of: usize,
}

/// A ring's place in the shape, for messages and nesting rules.
#[derive(Debug, Clone, Copy)]
struct Ring {
    polygon: usize,
    /// 0 for the outer ring, then the holes from 1.
    hole: usize,
    /// One of its points.
    start: Coord<f64>,
}

/// An edge in the tree, its envelope computed once (the tree asks for it
/// at every step of building and searching).
#[derive(Debug, Clone, Copy)]
struct Indexed {
    a: Coord<f64>,
    b: Coord<f64>,
    envelope: AABB<[f64; 2]>,
    data: Edge,
}

impl Indexed {
    fn new(a: Coord<f64>, b: Coord<f64>, data: Edge) -> Self {
        Self {
            a,
            b,
            envelope: AABB::from_corners([a.x, a.y], [b.x, b.y]),
            data,
        }
    }
}

impl RTreeObject for Indexed {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// A checked boundary, indexed for point lookups.
pub struct Boundary {
    edges: RTree<Indexed>,
    rings: Vec<Ring>,
    /// Whether the shape has more than one polygon (messages name them).
    multi: bool,
    max_x: f64,
}

impl std::fmt::Debug for Boundary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Boundary({} edges)", self.edges.size())
    }
}

impl Boundary {
    /// Checks a shape and prepares it; a refusal is one line naming the
    /// ring and, for a crossing, where.
    pub fn new(shape: &MultiPolygon<f64>) -> Result<Self, String> {
        let multi = shape.0.len() > 1;
        let mut rings = Vec::new();
        let mut edges = Vec::new();
        for (p, polygon) in shape.0.iter().enumerate() {
            let all = std::iter::once(polygon.exterior()).chain(polygon.interiors());
            for (hole, ring) in all.enumerate() {
                let points = distinct(&ring.0);
                let place = Ring {
                    polygon: p,
                    hole,
                    start: points.first().copied().unwrap_or(Coord { x: 0.0, y: 0.0 }),
                };
                if points.len() < 3 {
                    return Err(format!(
                        "{} has fewer than 3 distinct points",
                        name(place, multi)
                    ));
                }
                if shoelace(&points).abs() < MIN_RING_AREA {
                    return Err(format!("{} has no area", name(place, multi)));
                }
                let ring_id = rings.len();
                rings.push(place);
                let of = points.len();
                for index in 0..of {
                    let (a, b) = (points[index], points[(index + 1) % of]);
                    let edge = Edge {
                        ring: ring_id,
                        index,
                        of,
                    };
                    edges.push(Indexed::new(a, b, edge));
                }
            }
        }
        let max_x = edges
            .iter()
            .map(|e| e.a.x.max(e.b.x))
            .fold(f64::NEG_INFINITY, f64::max);
        let boundary = Self {
            edges: RTree::bulk_load(edges),
            rings,
            multi,
            max_x,
        };
        boundary.check_edges()?;
        boundary.check_nesting()?;
        Ok(boundary)
    }

    /// A boundary holding nothing.
    pub fn nowhere() -> Self {
        Self {
            edges: RTree::new(),
            rings: Vec::new(),
            multi: false,
            max_x: f64::NEG_INFINITY,
        }
    }

    /// Whether the point (lng, lat) is in the area, its border included.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let p = Coord { x, y };
        let on_edge = self
            .edges
            .locate_in_envelope_intersecting(&AABB::from_point([x, y]))
            .any(|e| on_segment(ends(e), p));
        on_edge || self.crossings(p).count() % 2 == 1
    }

    /// The edges a ray from `p` to the east crosses (`p` on no edge).
    fn crossings(&self, p: Coord<f64>) -> impl Iterator<Item = &Indexed> {
        let ray = (p.x <= self.max_x).then(|| AABB::from_corners([p.x, p.y], [self.max_x, p.y]));
        ray.into_iter().flat_map(move |ray| {
            self.edges
                .locate_in_envelope_intersecting(&ray)
                .filter(move |e| crosses(ends(e), p))
        })
    }

    /// No edge meets another but its neighbours in its ring, at their
    /// shared point, without turning back over it.
    fn check_edges(&self) -> Result<(), String> {
        let pairs = self
            .edges
            .intersection_candidates_with_other_tree(&self.edges);
        for (edge, other) in pairs {
            let (me, them) = (edge.data, other.data);
            if (them.ring, them.index) <= (me.ring, me.index) {
                continue;
            }
            let (a, b) = ends(edge);
            let (c, d) = ends(other);
            let adjacent = them.ring == me.ring
                && ((me.index + 1) % me.of == them.index || (them.index + 1) % me.of == me.index);
            let bad = if adjacent {
                // The shared point is the end of one and the start of
                // the other; they go wrong only by doubling back.
                let (from, via, to) = if b == c { (a, b, d) } else { (c, d, b) };
                RobustKernel::orient2d(from, via, to) == Orientation::Collinear
                    && (via.x - from.x) * (to.x - via.x) + (via.y - from.y) * (to.y - via.y) < 0.0
            } else {
                segments_meet((a, b), (c, d))
            };
            if bad {
                let at = if adjacent { b } else { a };
                return Err(if them.ring == me.ring {
                    format!(
                        "{} crosses itself near ({}, {})",
                        name(self.rings[me.ring], self.multi),
                        at.x,
                        at.y
                    )
                } else {
                    format!(
                        "{} and {} meet near ({}, {}) (the rings of an area may not touch)",
                        name(self.rings[me.ring], self.multi),
                        name(self.rings[them.ring], self.multi),
                        at.x,
                        at.y
                    )
                });
            }
        }
        Ok(())
    }

    /// Each hole lies in its outer ring and in no other hole; no polygon
    /// lies in another (an island in another's hole is fine). Since rings
    /// never meet, one point of a ring tells where the whole ring is.
    fn check_nesting(&self) -> Result<(), String> {
        let polygons = self.rings.iter().map(|r| r.polygon + 1).max().unwrap_or(0);
        for (id, ring) in self.rings.iter().enumerate() {
            // Which rings, then which polygons, hold this ring's first point.
            let mut in_ring = vec![false; self.rings.len()];
            for edge in self.crossings(ring.start) {
                in_ring[edge.data.ring] = !in_ring[edge.data.ring];
            }
            let mut in_polygon = vec![false; polygons];
            let mut in_hole = vec![false; polygons];
            for (other_id, other) in self.rings.iter().enumerate() {
                if other_id == id || !in_ring[other_id] {
                    continue;
                }
                if other.hole == 0 {
                    in_polygon[other.polygon] = true;
                } else {
                    in_hole[other.polygon] = true;
                    if ring.hole > 0 && other.polygon == ring.polygon {
                        return Err(format!(
                            "{} is not inside the outer ring alone (it lies in {})",
                            name(*ring, self.multi),
                            name(*other, self.multi)
                        ));
                    }
                }
            }
            if ring.hole > 0 && !in_polygon[ring.polygon] {
                return Err(format!(
                    "{} is not inside the outer ring",
                    name(*ring, self.multi)
                ));
            }
            if ring.hole == 0 {
                let holder =
                    (0..polygons).find(|&p| p != ring.polygon && in_polygon[p] && !in_hole[p]);
                if let Some(p) = holder {
                    return Err(format!("polygons {p} and {} overlap", ring.polygon));
                }
            }
        }
        Ok(())
    }
}

fn name(ring: Ring, multi: bool) -> String {
    let what = match ring.hole {
        0 => "the outer ring".to_owned(),
        n => format!("hole {n}"),
    };
    if multi {
        format!("polygon {}: {what}", ring.polygon)
    } else {
        what
    }
}

/// A ring's points without repeats in a row nor the closing point.
fn distinct(ring: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut points: Vec<Coord<f64>> = Vec::with_capacity(ring.len());
    for &c in ring {
        if points.last() != Some(&c) {
            points.push(c);
        }
    }
    while points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    points
}

fn shoelace(points: &[Coord<f64>]) -> f64 {
    let n = points.len();
    (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

fn ends(edge: &Indexed) -> (Coord<f64>, Coord<f64>) {
    (edge.a, edge.b)
}

/// Whether `p` lies on the segment (exactly, by the robust predicate).
fn on_segment((a, b): (Coord<f64>, Coord<f64>), p: Coord<f64>) -> bool {
    RobustKernel::orient2d(a, b, p) == Orientation::Collinear && within_box((a, b), p)
}

fn within_box((a, b): (Coord<f64>, Coord<f64>), p: Coord<f64>) -> bool {
    a.x.min(b.x) <= p.x && p.x <= a.x.max(b.x) && a.y.min(b.y) <= p.y && p.y <= a.y.max(b.y)
}

/// Whether the edge crosses the ray from `p` to the east (half-open in y,
/// so a ray through a vertex counts it once).
fn crosses((a, b): (Coord<f64>, Coord<f64>), p: Coord<f64>) -> bool {
    if (a.y > p.y) == (b.y > p.y) {
        return false;
    }
    let side = RobustKernel::orient2d(a, b, p);
    if b.y > a.y {
        side == Orientation::CounterClockwise
    } else {
        side == Orientation::Clockwise
    }
}

/// Whether two segments share any point.
fn segments_meet((p1, p2): (Coord<f64>, Coord<f64>), (q1, q2): (Coord<f64>, Coord<f64>)) -> bool {
    use Orientation::*;
    let d1 = RobustKernel::orient2d(q1, q2, p1);
    let d2 = RobustKernel::orient2d(q1, q2, p2);
    let d3 = RobustKernel::orient2d(p1, p2, q1);
    let d4 = RobustKernel::orient2d(p1, p2, q2);
    let opposite = |x: Orientation, y: Orientation| {
        matches!(
            (x, y),
            (Clockwise, CounterClockwise) | (CounterClockwise, Clockwise)
        )
    };
    (opposite(d1, d2) && opposite(d3, d4))
        || (d1 == Collinear && within_box((q1, q2), p1))
        || (d2 == Collinear && within_box((q1, q2), p2))
        || (d3 == Collinear && within_box((p1, p2), q1))
        || (d4 == Collinear && within_box((p1, p2), q2))
}
