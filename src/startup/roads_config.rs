//! The roads flags (`--roads`, `--road-snap`), flattened into `Config`, and
//! loading the roads once at start, with what was loaded logged at info.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::roads::{Roads, DEFAULT_SNAP_METRES};
use crate::startup::error::StartError;

/// Largest `--road-snap`, in metres.
const MAX_SNAP_METRES: f64 = 10_000.0;

/// Where the roads come from and how far a point may be from them.
#[derive(Debug, Clone, clap::Args)]
pub struct RoadsConfig {
    /// An OpenStreetMap extract of the car network: `.osm.pbf`, `.osm`
    /// (XML), or a `.roads` file made by `tracking roads prepare`. Loaded
    /// once at start; a file it cannot use stops the service.
    #[arg(long = "roads", env = "TRACKING_ROADS")]
    pub file: Option<PathBuf>,

    /// A point farther than this many metres from every road is off the
    /// network (its ETA is a straight-line estimate); 1 to 10000.
    #[arg(long = "road-snap", env = "TRACKING_ROAD_SNAP", default_value_t = DEFAULT_SNAP_METRES, value_parser = parse_snap)]
    pub snap_metres: f64,
}

fn parse_snap(text: &str) -> Result<f64, String> {
    let metres: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of metres"))?;
    if metres.is_finite() && (1.0..=MAX_SNAP_METRES).contains(&metres) {
        Ok(metres)
    } else {
        Err(format!("must be between 1 and {MAX_SNAP_METRES} metres"))
    }
}

/// Loads the roads the configuration names (on a blocking thread: a region
/// takes seconds), logging nodes, edges, time and memory; `None` without `--roads`.
pub async fn load_roads(config: &RoadsConfig) -> Result<Option<Arc<Roads>>, StartError> {
    let Some(path) = config.file.clone() else {
        return Ok(None);
    };
    let snap = config.snap_metres;
    let started = Instant::now();
    let loaded = tokio::task::spawn_blocking(move || Roads::load(&path))
        .await
        .map_err(|e| StartError::Config(format!("loading the roads stopped: {e}")))??;
    let roads = loaded.with_snap_metres(snap);
    tracing::info!(
        nodes = roads.nodes(),
        edges = roads.edges(),
        seconds = started.elapsed().as_secs_f64(),
        approx_mib = roads.approx_bytes() as f64 / (1024.0 * 1024.0),
        snap_metres = snap,
        "roads loaded"
    );
    Ok(Some(Arc::new(roads)))
}

#[cfg(test)]
mod tests {
    use super::parse_snap;

    #[test]
    fn road_snap_is_a_bounded_number_of_metres() {
        assert_eq!(parse_snap("250"), Ok(250.0));
        assert_eq!(parse_snap("1"), Ok(1.0));
        for bad in ["0", "-5", "NaN", "inf", "20000", "far"] {
            assert!(parse_snap(bad).is_err(), "{bad}");
        }
    }
}
