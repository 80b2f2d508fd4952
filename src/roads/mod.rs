//! Roads: an OpenStreetMap extract loaded once per instance as a car
//! network with a contraction hierarchy, answering "how long to drive from
//! here to there" (dispatch ranks candidates by it).
//!
//! - `network.rs`: which ways a car drives, which way, how fast (one table);
//! - `pbf.rs` / `xml.rs`: reading `.osm.pbf` and `.osm` into one `extract.rs`;
//! - `graph.rs`: the graph and its hierarchy, one-to-one routes;
//! - `snap.rs`: the R-tree that puts a point on the nearest segment;
//! - `drawing.rs`: the network as polylines for a map box, simplified by zoom;
//! - `prepared.rs`: the `.roads` file, its hierarchy checked by
//!   `hierarchy.rs` before any query; `loaded.rs`: [`Roads`], the facade;
//! - `error.rs`: [`RoadsError`].

mod drawing;
mod error;
mod extract;
mod graph;
mod hierarchy;
mod loaded;
pub mod network;
mod pbf;
mod prepared;
mod snap;
mod xml;

#[cfg(test)]
mod drawing_tests;
#[cfg(test)]
mod helsinki_tests;
#[cfg(test)]
mod tests;

pub use crate::domain::{Eta, EtaSource, StraightLine};
pub use drawing::{
    Drawing, DrawnLine, MapBox, RoadClass, MAX_DRAWING_BYTES, MAX_ZOOM as MAX_DRAWING_ZOOM,
    SCALE as DRAWING_SCALE,
};
pub use error::RoadsError;
pub use loaded::{Roads, Route, DEFAULT_SNAP_METRES};
pub use prepared::FORMAT_VERSION;
