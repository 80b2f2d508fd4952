//! `Roads`, the loaded network: load by file kind, prepare a `.roads` file,
//! and estimate the driving time between two points, falling back to a
//! straight-line estimate when either end is off the network or no route
//! joins them.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use fast_paths::PathCalculator;

use crate::domain::{Coordinates, Eta, EtaSource, StraightLine};
use crate::roads::drawing::{Chains, Drawing, MapBox};
use crate::roads::error::RoadsError;
use crate::roads::graph::{Found, Graph};
use crate::roads::snap::Snapper;
use crate::roads::{pbf, prepared, xml};

/// Default distance (metres) beyond which a point is off the network.
/// The largest `.osm` XML read: XML is for small, hand-written cities (a
/// text run without markup is held whole while it is read, so the size is
/// what bounds the memory a damaged file can take).
pub const MAX_XML_BYTES: u64 = 256 * 1024 * 1024;

/// A file's size, once it is known to be a regular file (not a directory,
/// a FIFO that would block the start, or a device such as `/dev/zero`).
fn regular_file(path: &Path) -> Result<u64, RoadsError> {
    let meta = std::fs::metadata(path).map_err(|e| RoadsError::open(path, &e))?;
    if !meta.is_file() {
        return Err(RoadsError::Open {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    Ok(meta.len())
}

/// The file's name in lower case, to tell its kind by extension.
fn lowercase_name(path: &Path) -> String {
    path.to_string_lossy().to_ascii_lowercase()
}

pub const DEFAULT_SNAP_METRES: f64 = 250.0;
/// Path calculators kept for reuse (each holds two arrays the size of the graph).
const POOLED_CALCULATORS: usize = 32;

/// A route's time as an ETA, in whole seconds (rounded).
fn road_eta(f: &Found) -> Eta {
    Eta {
        seconds: ((f.ms + 500) / 1000).min(u64::from(u32::MAX)) as u32,
        road_km: f.km,
        source: EtaSource::Roads,
    }
}

/// A road route between two points.
#[derive(Debug, Clone)]
pub struct Route {
    /// Driving time in milliseconds.
    pub ms: u64,
    /// Length in km.
    pub km: f64,
    /// The points passed: the snapped start, the road's nodes, the snapped end.
    pub points: Vec<Coordinates>,
}

/// The road network, loaded once per instance and shared (`Arc<Roads>`).
pub struct Roads {
    graph: Graph,
    snapper: Snapper,
    snap_metres: f64,
    calculators: Mutex<Vec<PathCalculator>>,
    /// The polylines the base map draws, chained on first use.
    chains: OnceLock<Chains>,
}

impl std::fmt::Debug for Roads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roads")
            .field("nodes", &self.nodes())
            .field("edges", &self.edges())
            .field("snap_metres", &self.snap_metres)
            .finish()
    }
}

impl Roads {
    /// Loads roads by the file's name: `.osm.pbf` and `.osm` are read and
    /// built into a contraction hierarchy; `.roads` is a prepared graph.
    pub fn load(path: &Path) -> Result<Roads, RoadsError> {
        let graph = if lowercase_name(path).ends_with(".roads") {
            regular_file(path)?;
            prepared::read(path)?
        } else {
            Self::build(path)?
        };
        Ok(Self::from_graph(graph))
    }

    /// Reads an OSM file and writes its prepared graph to `out`; returns the loaded roads.
    pub fn prepare(osm: &Path, out: &Path) -> Result<Roads, RoadsError> {
        let graph = Self::build(osm)?;
        prepared::write(&graph, out)?;
        Ok(Self::from_graph(graph))
    }

    fn build(path: &Path) -> Result<Graph, RoadsError> {
        let size = regular_file(path)?;
        let name = lowercase_name(path);
        let extract = if name.ends_with(".osm.pbf") || name.ends_with(".pbf") {
            pbf::read_pbf(path)?
        } else if name.ends_with(".osm") {
            if size > MAX_XML_BYTES {
                return Err(RoadsError::invalid(
                    path,
                    "OSM XML",
                    format!(
                        "{size} bytes, over the {MAX_XML_BYTES} read as XML (for small test cities); use the region's .osm.pbf"
                    ),
                ));
            }
            xml::read_xml(path)?
        } else {
            return Err(RoadsError::UnknownKind(path.to_path_buf()));
        };
        Graph::build(&extract).ok_or_else(|| RoadsError::NoCarRoads(path.to_path_buf()))
    }

    fn from_graph(graph: Graph) -> Roads {
        let snapper = Snapper::new(&graph);
        Roads {
            graph,
            snapper,
            snap_metres: DEFAULT_SNAP_METRES,
            calculators: Mutex::new(Vec::new()),
            chains: OnceLock::new(),
        }
    }

    /// The same roads with another off-network distance, in metres.
    pub fn with_snap_metres(mut self, metres: f64) -> Roads {
        self.snap_metres = metres;
        self
    }

    /// Nodes in the graph.
    pub fn nodes(&self) -> usize {
        self.graph.nodes.len()
    }

    /// Directed edges in the graph (a two-way segment counts twice).
    pub fn edges(&self) -> usize {
        self.graph.edges
    }

    /// Approximate bytes held: nodes, segments, the hierarchy, the R-tree.
    pub fn approx_bytes(&self) -> usize {
        let fast_edges = self.graph.fast.get_num_out_edges() + self.graph.fast.get_num_in_edges();
        self.graph.nodes.len() * (16 + 4 * 8)
            + self.graph.segments.len() * std::mem::size_of::<crate::roads::graph::Segment>()
            + fast_edges * 5 * 8
            + self.snapper.approx_bytes()
    }

    /// The south-west and north-east corners of the nodes' box.
    pub fn bounds(&self) -> Option<(Coordinates, Coordinates)> {
        let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
        for (lat, lng) in &self.graph.nodes {
            lo = (lo.0.min(*lat), lo.1.min(*lng));
            hi = (hi.0.max(*lat), hi.1.max(*lng));
        }
        Some((
            Coordinates::parse(lo.0, lo.1).ok()?,
            Coordinates::parse(hi.0, hi.1).ok()?,
        ))
    }

    /// Whether `point` is within the snap distance of a road.
    pub fn on_network(&self, point: &Coordinates) -> bool {
        self.snapper
            .snap(&self.graph, (point.lat(), point.lng()), self.snap_metres)
            .is_some()
    }

    /// The ETA from `from` to `to` by road, or by `fallback` when either end
    /// is off the network or no route joins them.
    pub fn eta(&self, from: &Coordinates, to: &Coordinates, fallback: &StraightLine) -> Eta {
        match self.found(from, to) {
            Some(f) => road_eta(&f),
            None => fallback.eta(from, to),
        }
    }

    /// The ETAs from each of `froms` to one point, as [`Roads::eta`] gives
    /// them, with `to` snapped once and one path calculator for them all
    /// (what a search ranking its candidates asks), and whether each is
    /// cut off: both ends on the network, no route between them.
    pub fn etas_to(
        &self,
        froms: &[Coordinates],
        to: &Coordinates,
        fallback: &StraightLine,
    ) -> Vec<(Eta, bool)> {
        let Some(end) = self.snap(to) else {
            return froms.iter().map(|f| (fallback.eta(f, to), false)).collect();
        };
        let pooled = self.calculators.lock().ok().and_then(|mut p| p.pop());
        let mut calc = pooled.unwrap_or_else(|| self.graph.calculator());
        let etas = froms
            .iter()
            .map(|from| match self.snap(from) {
                None => (fallback.eta(from, to), false),
                Some(start) => match self.graph.route(&mut calc, &start, &end) {
                    Some(f) => (road_eta(&f), false),
                    None => (fallback.eta(from, to), true),
                },
            })
            .collect();
        if let Ok(mut pool) = self.calculators.lock() {
            if pool.len() < POOLED_CALCULATORS {
                pool.push(calc);
            }
        }
        etas
    }

    fn snap(&self, at: &Coordinates) -> Option<crate::roads::graph::OnSegment> {
        self.snapper
            .snap(&self.graph, (at.lat(), at.lng()), self.snap_metres)
    }

    /// The road route from `from` to `to`, with the points it passes.
    pub fn route(&self, from: &Coordinates, to: &Coordinates) -> Option<Route> {
        let found = self.found(from, to)?;
        let snapped = |c: &Coordinates| {
            self.snapper
                .snap(&self.graph, (c.lat(), c.lng()), self.snap_metres)
                .and_then(|s| Coordinates::parse(s.point.0, s.point.1).ok())
        };
        let mut points: Vec<Coordinates> = snapped(from).into_iter().collect();
        points.extend(found.nodes.iter().filter_map(|n| {
            let (lat, lng) = self.graph.nodes.get(*n)?;
            Coordinates::parse(*lat, *lng).ok()
        }));
        points.extend(snapped(to));
        Some(Route {
            ms: found.ms,
            km: found.km,
            points,
        })
    }

    /// The roads within `bounds` as drawn at `zoom` (a Web Mercator level):
    /// minor classes dropped and lines simplified as the zoom coarsens, the
    /// most important first, their JSON within `max_bytes` (`truncated`
    /// says some were left out). The first call chains the graph's segments
    /// (linear in its size); run it where blocking is fine.
    pub fn draw(&self, bounds: &MapBox, zoom: f64, max_bytes: usize) -> Drawing {
        self.chains.get_or_init(|| Chains::new(&self.graph)).draw(
            &self.graph,
            bounds,
            zoom,
            max_bytes,
        )
    }

    /// Time (ms) and km by road, or `None` (off the network, or no route).
    pub fn time_and_km(&self, from: &Coordinates, to: &Coordinates) -> Option<(u64, f64)> {
        self.found(from, to).map(|f| (f.ms, f.km))
    }

    fn found(&self, from: &Coordinates, to: &Coordinates) -> Option<Found> {
        let pooled = self.calculators.lock().ok().and_then(|mut p| p.pop());
        let mut calc = pooled.unwrap_or_else(|| self.graph.calculator());
        let found = self.found_with(&mut calc, from, to);
        if let Ok(mut pool) = self.calculators.lock() {
            if pool.len() < POOLED_CALCULATORS {
                pool.push(calc);
            }
        }
        found
    }

    fn found_with(
        &self,
        calc: &mut PathCalculator,
        from: &Coordinates,
        to: &Coordinates,
    ) -> Option<Found> {
        let a = self
            .snapper
            .snap(&self.graph, (from.lat(), from.lng()), self.snap_metres)?;
        let b = self
            .snapper
            .snap(&self.graph, (to.lat(), to.lng()), self.snap_metres)?;
        self.graph.route(calc, &a, &b)
    }

    /// `time_and_km` with a calculator made for this one query (measures the pool's gain).
    #[cfg(test)]
    pub(crate) fn time_and_km_fresh(
        &self,
        from: &Coordinates,
        to: &Coordinates,
    ) -> Option<(u64, f64)> {
        let mut calc = self.graph.calculator();
        self.found_with(&mut calc, from, to).map(|f| (f.ms, f.km))
    }
}
