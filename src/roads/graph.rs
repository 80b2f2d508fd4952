//! The road graph: nodes, the segments between them with their direction
//! and time, and a contraction hierarchy (`fast_paths`) over it for
//! one-to-one queries in milliseconds of driving.

use std::collections::HashMap;

use fast_paths::{FastGraph, InputGraph, PathCalculator};
use serde::{Deserialize, Serialize};

use crate::domain::Coordinates;
use crate::roads::extract::Extract;
use crate::roads::network::Direction;

/// A stretch of road between two consecutive nodes of a way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Segment {
    /// The earlier node (index into the graph's nodes).
    pub a: u32,
    /// The later node.
    pub b: u32,
    /// Which way a car may drive it.
    pub direction: Direction,
    /// Time to drive all of it, in milliseconds (at least 1).
    pub ms: u32,
}

/// The car network as a graph. Edge weights are whole milliseconds; lengths
/// are not stored but measured from the nodes' coordinates (a segment is a
/// straight line between two nodes), so a path's km is the sum of its hops.
#[derive(Debug, Serialize, Deserialize)]
pub struct Graph {
    /// Node coordinates, (lat, lng) in degrees.
    pub nodes: Vec<(f64, f64)>,
    /// Every segment, each in its way's node order.
    pub segments: Vec<Segment>,
    /// Directed edges given to the hierarchy.
    pub edges: usize,
    /// The contraction hierarchy.
    pub fast: FastGraph,
}

/// Where a point meets the network: on `segment`, at `t` (0 = at `a`, 1 = at `b`).
#[derive(Debug, Clone, Copy)]
pub struct OnSegment {
    /// The segment's index.
    pub segment: usize,
    /// The fraction along it, from `a` to `b`.
    pub t: f64,
    /// The snapped point, (lat, lng).
    pub point: (f64, f64),
}

/// A route found in the graph.
#[derive(Debug, Clone)]
pub struct Found {
    /// Driving time in milliseconds.
    pub ms: u64,
    /// Length in km along the road.
    pub km: f64,
    /// The graph nodes passed, in order (empty when both ends are on one segment).
    pub nodes: Vec<usize>,
}

impl Graph {
    /// Builds the graph and its hierarchy from an extract; `None` when it
    /// holds no drivable segment.
    pub fn build(extract: &Extract) -> Option<Graph> {
        let mut index: HashMap<i64, u32> = HashMap::new();
        let mut nodes = Vec::new();
        let mut segments = Vec::new();
        for (refs, way) in &extract.ways {
            let speed_m_per_ms = way.kmh / 3600.0;
            for pair in refs.windows(2) {
                let (Some(pa), Some(pb)) =
                    (extract.nodes.get(&pair[0]), extract.nodes.get(&pair[1]))
                else {
                    continue;
                };
                let (Ok(ca), Ok(cb)) = (
                    Coordinates::parse(pa.0, pa.1),
                    Coordinates::parse(pb.0, pb.1),
                ) else {
                    continue;
                };
                if pair[0] == pair[1] {
                    continue;
                }
                let metres = ca.distance_km(&cb) * 1000.0;
                let ms = (metres / speed_m_per_ms)
                    .round()
                    .clamp(1.0, u32::MAX as f64) as u32;
                let mut id = |osm: i64, c: (f64, f64)| {
                    *index.entry(osm).or_insert_with(|| {
                        nodes.push(c);
                        (nodes.len() - 1) as u32
                    })
                };
                let (a, b) = (id(pair[0], *pa), id(pair[1], *pb));
                segments.push(Segment {
                    a,
                    b,
                    direction: way.direction,
                    ms,
                });
            }
        }
        if segments.is_empty() {
            return None;
        }
        let mut input = InputGraph::new();
        let mut edges = 0;
        for s in &segments {
            if s.direction.forward() {
                edges += input.add_edge(s.a as usize, s.b as usize, s.ms as usize);
            }
            if s.direction.backward() {
                edges += input.add_edge(s.b as usize, s.a as usize, s.ms as usize);
            }
        }
        input.freeze();
        let fast = fast_paths::prepare(&input);
        Some(Graph {
            nodes,
            segments,
            edges,
            fast,
        })
    }

    /// Checks a deserialised graph's indices, so no query can go out of range.
    pub fn check(&self) -> Result<(), String> {
        let n = self.nodes.len();
        if self.fast.get_num_nodes() > n {
            return Err("the hierarchy has more nodes than the graph".into());
        }
        if let Some(s) = self
            .segments
            .iter()
            .find(|s| s.a as usize >= n || s.b as usize >= n)
        {
            return Err(format!("segment {}→{} names a missing node", s.a, s.b));
        }
        if self.segments.is_empty() {
            return Err("no segments".into());
        }
        if let Some((lat, lng)) = self
            .nodes
            .iter()
            .find(|(lat, lng)| Coordinates::parse(*lat, *lng).is_err())
        {
            return Err(format!("a node is not a place ({lat}, {lng})"));
        }
        Ok(())
    }

    /// A fresh path calculator sized for this graph.
    pub fn calculator(&self) -> PathCalculator {
        fast_paths::create_calculator(&self.fast)
    }

    /// The fastest route from one snapped point to another, partial
    /// segments included at both ends; `None` when there is none.
    pub fn route(
        &self,
        calc: &mut PathCalculator,
        from: &OnSegment,
        to: &OnSegment,
    ) -> Option<Found> {
        let direct = self.same_segment(from, to);
        let in_graph = self.fast.get_num_nodes();
        let starts = self.exits(from, in_graph);
        let ends = self.entries(to, in_graph);
        let via_graph = if starts.is_empty() || ends.is_empty() {
            None
        } else {
            calc.calc_path_multiple_sources_and_targets(&self.fast, starts, ends)
        };
        let via_graph = via_graph.filter(|p| p.is_found()).map(|p| {
            let nodes: Vec<usize> = p.get_nodes().clone();
            let mut km = 0.0;
            let mut last = from.point;
            for n in &nodes {
                let here = self.nodes.get(*n).copied().unwrap_or(last);
                km += km_between(last, here);
                last = here;
            }
            km += km_between(last, to.point);
            Found {
                ms: p.get_weight() as u64,
                km,
                nodes,
            }
        });
        match (direct, via_graph) {
            (Some(d), Some(g)) if g.ms < d.ms => Some(g),
            (Some(d), _) => Some(d),
            (None, g) => g,
        }
    }

    /// The nodes a snapped point can drive to, and the time to each.
    fn exits(&self, on: &OnSegment, in_graph: usize) -> Vec<(usize, usize)> {
        let Some(s) = self.segments.get(on.segment) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(2);
        if s.direction.forward() {
            out.push((s.b as usize, part(s.ms, 1.0 - on.t)));
        }
        if s.direction.backward() {
            out.push((s.a as usize, part(s.ms, on.t)));
        }
        out.retain(|(n, _)| *n < in_graph);
        out
    }

    /// The nodes a snapped point can be driven to from, and the time from each.
    fn entries(&self, on: &OnSegment, in_graph: usize) -> Vec<(usize, usize)> {
        let Some(s) = self.segments.get(on.segment) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(2);
        if s.direction.forward() {
            out.push((s.a as usize, part(s.ms, on.t)));
        }
        if s.direction.backward() {
            out.push((s.b as usize, part(s.ms, 1.0 - on.t)));
        }
        out.retain(|(n, _)| *n < in_graph);
        out
    }

    /// Driving along one segment from one point on it to another, if its direction allows.
    fn same_segment(&self, from: &OnSegment, to: &OnSegment) -> Option<Found> {
        if from.segment != to.segment {
            return None;
        }
        let s = self.segments.get(from.segment)?;
        let allowed = if to.t >= from.t {
            s.direction.forward()
        } else {
            s.direction.backward()
        };
        allowed.then(|| Found {
            ms: part(s.ms, (to.t - from.t).abs()) as u64,
            km: km_between(from.point, to.point),
            nodes: Vec::new(),
        })
    }
}

/// A fraction of a segment's time, in whole milliseconds.
fn part(ms: u32, fraction: f64) -> usize {
    (f64::from(ms) * fraction.clamp(0.0, 1.0)).round() as usize
}

/// Great-circle km between two (lat, lng) points (0 when either is invalid).
pub fn km_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    match (Coordinates::parse(a.0, a.1), Coordinates::parse(b.0, b.1)) {
        (Ok(a), Ok(b)) => a.distance_km(&b),
        _ => 0.0,
    }
}
