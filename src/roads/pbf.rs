//! Reading `.osm.pbf` (what Geofabrik and BBBike publish) with `osmpbf`, in
//! two passes: the car ways first, then only the nodes they use.

use std::collections::HashMap;
use std::path::Path;

use osmpbf::{Element, ElementReader};

use crate::roads::error::RoadsError;
use crate::roads::extract::Extract;
use crate::roads::network::judge;

const KIND: &str = "OSM PBF";

/// Reads an OSM PBF file into an [`Extract`].
pub fn read_pbf(path: &Path) -> Result<Extract, RoadsError> {
    let reader = ElementReader::from_path(path).map_err(|e| RoadsError::invalid(path, KIND, e))?;
    let mut ways = Vec::new();
    reader
        .for_each(|element| {
            if let Element::Way(way) = element {
                if let Some(verdict) = judge(way.tags()) {
                    let refs: Vec<i64> = way.refs().collect();
                    if refs.len() >= 2 {
                        ways.push((refs, verdict));
                    }
                }
            }
        })
        .map_err(|e| RoadsError::invalid(path, KIND, e))?;
    let mut nodes: HashMap<i64, (f64, f64)> = ways
        .iter()
        .flat_map(|(refs, _): &(Vec<i64>, _)| refs.iter().map(|r| (*r, (f64::NAN, f64::NAN))))
        .collect();
    let reader = ElementReader::from_path(path).map_err(|e| RoadsError::invalid(path, KIND, e))?;
    reader
        .for_each(|element| {
            let (id, lat, lng) = match element {
                Element::Node(n) => (n.id(), n.lat(), n.lon()),
                Element::DenseNode(n) => (n.id(), n.lat(), n.lon()),
                _ => return,
            };
            if let Some(c) = nodes.get_mut(&id) {
                *c = (lat, lng);
            }
        })
        .map_err(|e| RoadsError::invalid(path, KIND, e))?;
    nodes.retain(|_, (lat, _)| lat.is_finite());
    Ok(Extract { nodes, ways })
}
