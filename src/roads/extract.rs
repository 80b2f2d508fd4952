//! What an OSM file gives the graph, whichever its format: the car ways as
//! node lists with their verdict, and the coordinates of the nodes they use.

use std::collections::HashMap;

use crate::roads::network::CarWay;

/// The car network as read from OSM, before it becomes a graph.
#[derive(Debug, Default)]
pub struct Extract {
    /// Coordinates (lat, lng) of nodes used by car ways, by OSM node id.
    pub nodes: HashMap<i64, (f64, f64)>,
    /// Car ways: their OSM node ids in order, and how they may be driven.
    pub ways: Vec<(Vec<i64>, CarWay)>,
}
