//! The road network as lines to draw (the dashboard's base map): the
//! graph's segments chained into polylines by road class once, on first
//! use, and indexed by box; a query gives those within a box, simplified
//! for a zoom (minor classes dropped, Douglas–Peucker), encoded compactly
//! and bounded in bytes, saying when it was cut.
//!
//! The graph keeps no highway class per segment, only its time: the class
//! drawn is read from the speed (length over time), see [`RoadClass::of_kmh`].

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::roads::graph::{km_between, Graph};

/// The most bytes a drawing's lines may take as JSON, by default.
pub const MAX_DRAWING_BYTES: usize = 512 * 1024;
/// Coordinates are sent as whole units of 1/SCALE degree (about a metre).
pub const SCALE: f64 = 100_000.0;
/// The deepest zoom a drawing is asked for (Web Mercator levels).
pub const MAX_ZOOM: f64 = 22.0;
/// A chain is cut after this many points, so a box finds only what is near it.
const MAX_CHAIN_POINTS: usize = 64;
/// The most chains one query looks at (each one found in the box, drawn or not).
const MAX_VISITED: usize = 200_000;
/// Metres per pixel at zoom 0 on the equator (256-pixel tiles).
const METRES_PER_PIXEL_Z0: f64 = 156_543.034;
/// Simplification tolerance, in pixels.
const TOLERANCE_PX: f64 = 0.75;

/// How important a road looks on the map, from the most to the least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoadClass {
    /// 55 km/h and faster: motorways, trunks, primaries.
    Major = 0,
    /// 35 to 55 km/h: secondaries, tertiaries, links, fast residential streets.
    Medium = 1,
    /// Slower: residential streets, service roads, living streets.
    Minor = 2,
}

impl RoadClass {
    const ALL: [RoadClass; 3] = [RoadClass::Major, RoadClass::Medium, RoadClass::Minor];

    /// The class of a road driven at `kmh` (its `maxspeed`, or its highway's default).
    pub fn of_kmh(kmh: f64) -> RoadClass {
        if kmh >= 55.0 {
            RoadClass::Major
        } else if kmh >= 35.0 {
            RoadClass::Medium
        } else {
            RoadClass::Minor
        }
    }

    /// The least important class drawn at `zoom`: a city's streets from
    /// zoom 12 (the dashboard's first view), its main roads from 10, only
    /// the fastest below.
    pub fn least_at(zoom: f64) -> RoadClass {
        if zoom >= 12.0 {
            RoadClass::Minor
        } else if zoom >= 10.0 {
            RoadClass::Medium
        } else {
            RoadClass::Major
        }
    }
}

/// A box of latitudes and longitudes, checked: finite, in range, south
/// below north and west of east (a box across the antimeridian is refused).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapBox {
    south: f64,
    west: f64,
    north: f64,
    east: f64,
}

impl MapBox {
    /// The box, or why it is not one.
    pub fn new(south: f64, west: f64, north: f64, east: f64) -> Result<MapBox, String> {
        let all = [south, west, north, east];
        if !all.iter().all(|v| v.is_finite()) {
            return Err("every edge of the box must be a finite number".into());
        }
        if !(-90.0..=90.0).contains(&south) || !(-90.0..=90.0).contains(&north) {
            return Err("latitudes must be between -90 and 90".into());
        }
        if !(-180.0..=180.0).contains(&west) || !(-180.0..=180.0).contains(&east) {
            return Err("longitudes must be between -180 and 180".into());
        }
        if south >= north || west >= east {
            return Err("south must be below north and west of east".into());
        }
        Ok(MapBox {
            south,
            west,
            north,
            east,
        })
    }

    fn envelope(&self) -> AABB<[f64; 2]> {
        AABB::from_corners([self.west, self.south], [self.east, self.north])
    }

    fn touches(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        a.0.max(b.0) >= self.south
            && a.0.min(b.0) <= self.north
            && a.1.max(b.1) >= self.west
            && a.1.min(b.1) <= self.east
    }
}

/// One polyline drawn: its class and its points, delta-encoded in units
/// of 1/[`SCALE`] degree: `[lat0, lng0, dlat1, dlng1, …]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnLine {
    pub class: RoadClass,
    pub points: Vec<i64>,
}

/// The roads within a box, as drawn at a zoom.
#[derive(Debug, Clone, Default)]
pub struct Drawing {
    /// The most important roads first.
    pub lines: Vec<DrawnLine>,
    /// Points in all lines.
    pub points: usize,
    /// Bytes the lines take as JSON arrays `[class, lat0, lng0, …]` joined by commas.
    pub bytes: usize,
    /// Some roads in the box were left out to stay within the bounds.
    pub truncated: bool,
}

type Indexed = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// The graph's segments chained into polylines, by class, each chain's box
/// in an R-tree of its class; built once from the graph.
pub struct Chains {
    /// Each chain's nodes (indices into the graph's nodes), in order.
    chains: Vec<Vec<u32>>,
    /// The chains' boxes ((lng, lat) corners), one tree per class.
    trees: [RTree<Indexed>; 3],
}

impl Chains {
    /// Chains every segment: from each segment not yet taken, along nodes
    /// met by exactly two segments of the same class, both ways, up to
    /// [`MAX_CHAIN_POINTS`] points.
    pub fn new(graph: &Graph) -> Chains {
        let n = graph.nodes.len();
        let classes: Vec<RoadClass> = graph
            .segments
            .iter()
            .map(|s| {
                let (a, b) = (node(graph, s.a), node(graph, s.b));
                let kmh = km_between(a, b) / (f64::from(s.ms.max(1)) / 3_600_000.0);
                RoadClass::of_kmh(kmh)
            })
            .collect();
        // Segments by node, in one array (offsets per node).
        let mut start = vec![0usize; n + 1];
        for s in &graph.segments {
            for end in [s.a, s.b] {
                if let Some(c) = start.get_mut(end as usize + 1) {
                    *c += 1;
                }
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut filled = start.clone();
        let mut at_node = vec![0u32; start[n]];
        for (i, s) in graph.segments.iter().enumerate() {
            for end in [s.a as usize, s.b as usize] {
                if let Some(slot) = filled.get_mut(end) {
                    if let Some(cell) = at_node.get_mut(*slot) {
                        *cell = i as u32;
                    }
                    *slot += 1;
                }
            }
        }
        let around = |node: u32| -> &[u32] {
            let node = node as usize;
            match (start.get(node), start.get(node + 1)) {
                (Some(&lo), Some(&hi)) => at_node.get(lo..hi).unwrap_or(&[]),
                _ => &[],
            }
        };
        let mut taken = vec![false; graph.segments.len()];
        let mut chains = Vec::new();
        let mut boxes: [Vec<Indexed>; 3] = Default::default();
        for (first, s) in graph.segments.iter().enumerate() {
            if taken[first] {
                continue;
            }
            taken[first] = true;
            let class = classes[first];
            let mut ahead = vec![s.a, s.b];
            let mut behind = Vec::new();
            // Forward from b, then backward from a.
            for forward in [true, false] {
                let mut here = if forward { s.b } else { s.a };
                while ahead.len() + behind.len() < MAX_CHAIN_POINTS {
                    let next = match around(here) {
                        [x, y] => {
                            let other = if taken[*x as usize] { *y } else { *x };
                            Some(other as usize)
                        }
                        _ => None,
                    };
                    let Some(t) = next.filter(|t| !taken[*t] && classes[*t] == class) else {
                        break;
                    };
                    taken[t] = true;
                    let seg = &graph.segments[t];
                    here = if seg.a == here { seg.b } else { seg.a };
                    if forward {
                        ahead.push(here);
                    } else {
                        behind.push(here);
                    }
                }
            }
            behind.reverse();
            behind.extend(ahead);
            let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
            for &i in &behind {
                let (lat, lng) = node(graph, i);
                lo = [lo[0].min(lng), lo[1].min(lat)];
                hi = [hi[0].max(lng), hi[1].max(lat)];
            }
            let id = chains.len() as u32;
            boxes[class as usize].push(GeomWithData::new(Rectangle::from_corners(lo, hi), id));
            chains.push(behind);
        }
        let [major, medium, minor] = boxes;
        Chains {
            chains,
            trees: [
                RTree::bulk_load(major),
                RTree::bulk_load(medium),
                RTree::bulk_load(minor),
            ],
        }
    }

    /// The roads within `bounds` as drawn at `zoom`, their JSON within `max_bytes`.
    pub fn draw(&self, graph: &Graph, bounds: &MapBox, zoom: f64, max_bytes: usize) -> Drawing {
        let zoom = zoom.clamp(0.0, MAX_ZOOM);
        let middle = ((bounds.south + bounds.north) / 2.0)
            .to_radians()
            .cos()
            .max(0.01);
        let tolerance_m = METRES_PER_PIXEL_Z0 * middle / 2f64.powf(zoom) * TOLERANCE_PX;
        let least = RoadClass::least_at(zoom);
        let mut drawing = Drawing::default();
        let mut visited = 0;
        'classes: for class in RoadClass::ALL.into_iter().filter(|c| *c <= least) {
            for found in
                self.trees[class as usize].locate_in_envelope_intersecting(&bounds.envelope())
            {
                visited += 1;
                if visited > MAX_VISITED {
                    drawing.truncated = true;
                    break 'classes;
                }
                let Some(chain) = self.chains.get(found.data as usize) else {
                    continue;
                };
                let points: Vec<(f64, f64)> = chain.iter().map(|&i| node(graph, i)).collect();
                for run in clip(&points, bounds) {
                    let Some(line) = encode(class, &simplify(&run, tolerance_m)) else {
                        continue;
                    };
                    let bytes = json_len(&line) + usize::from(!drawing.lines.is_empty());
                    if drawing.bytes + bytes > max_bytes {
                        drawing.truncated = true;
                        break 'classes;
                    }
                    drawing.bytes += bytes;
                    drawing.points += line.points.len() / 2;
                    drawing.lines.push(line);
                }
            }
        }
        drawing
    }
}

/// A node's (lat, lng), or (0, 0) for an index out of range (checked at load).
fn node(graph: &Graph, i: u32) -> (f64, f64) {
    graph.nodes.get(i as usize).copied().unwrap_or((0.0, 0.0))
}

/// The runs of `points` whose segments touch the box (each segment that
/// does is kept whole, so lines leave the box rather than stop at its edge).
fn clip(points: &[(f64, f64)], bounds: &MapBox) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for pair in points.windows(2) {
        if bounds.touches(pair[0], pair[1]) {
            if run.is_empty() {
                run.push(pair[0]);
            }
            run.push(pair[1]);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// Douglas–Peucker: the fewest points of `points` whose line stays within
/// `tolerance_m` metres of it (the ends always kept).
pub fn simplify(points: &[(f64, f64)], tolerance_m: f64) -> Vec<(f64, f64)> {
    if points.len() <= 2 {
        return points.to_vec();
    }
    let cos_lat = points[0].0.to_radians().cos().max(0.01);
    let metres = |p: &(f64, f64)| (p.1 * cos_lat * 111_195.0, p.0 * 111_195.0);
    let flat: Vec<(f64, f64)> = points.iter().map(metres).collect();
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0, points.len() - 1)];
    while let Some((first, last)) = stack.pop() {
        let (a, b) = (flat[first], flat[last]);
        let mut far = (0.0, first);
        for (i, p) in flat.iter().enumerate().take(last).skip(first + 1) {
            let d = off_line(*p, a, b);
            if d > far.0 {
                far = (d, i);
            }
        }
        if far.0 > tolerance_m {
            keep[far.1] = true;
            stack.push((first, far.1));
            stack.push((far.1, last));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(*p))
        .collect()
}

/// The distance from `p` to the segment `a`–`b` (flat metres).
fn off_line(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// A line in whole units of 1/SCALE degree, delta-encoded, repeated points
/// dropped; `None` when fewer than two distinct points are left.
fn encode(class: RoadClass, points: &[(f64, f64)]) -> Option<DrawnLine> {
    let mut out = Vec::with_capacity(points.len() * 2);
    let mut last: Option<(i64, i64)> = None;
    for p in points {
        let q = ((p.0 * SCALE).round() as i64, (p.1 * SCALE).round() as i64);
        match last {
            None => out.extend([q.0, q.1]),
            Some(l) if l == q => continue,
            Some(l) => out.extend([q.0 - l.0, q.1 - l.1]),
        }
        last = Some(q);
    }
    (out.len() >= 4).then_some(DrawnLine { class, points: out })
}

/// The bytes of `[class,p0,p1,…]` as JSON.
fn json_len(line: &DrawnLine) -> usize {
    let digits = |v: i64| {
        let mut n = usize::from(v < 0) + 1;
        let mut rest = v.unsigned_abs() / 10;
        while rest > 0 {
            n += 1;
            rest /= 10;
        }
        n
    };
    2 + 1 + line.points.iter().map(|v| digits(*v) + 1).sum::<usize>()
}
