//! The roads flags (`--roads`, `--road-snap`, and how candidates are ranked
//! by time), flattened into `Config`, and loading the roads once at start
//! (the service's and each area's own, each file once), with what was
//! loaded logged at info.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dispatch::AreaRoads;
use crate::domain::{ServiceAreas, DETOUR_FACTOR, STRAIGHT_LINE_SPEED_KMH};
use crate::roads::{Roads, DEFAULT_SNAP_METRES};
use crate::startup::error::StartError;
use crate::store::MAX_CANDIDATES;

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

    /// How many of the nearest available drivers (by straight line) a
    /// search ranks by their driving time to the pickup, with roads; 1 to 256.
    #[arg(long = "eta-candidates", env = "TRACKING_ETA_CANDIDATES", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=MAX_CANDIDATES as i64))]
    pub eta_candidates: u16,

    /// Drivers further than this from the pickup, in time, are not given
    /// the ride (it keeps searching); 0s: no limit; else 1s to 1 day. An
    /// area's `maxPickupEta` overrides it.
    #[arg(long = "max-pickup-eta", env = "TRACKING_MAX_PICKUP_ETA", default_value = "0s", value_parser = humantime::parse_duration)]
    pub max_pickup_eta: Duration,

    /// The average speed of a straight-line estimate (no roads, or a point
    /// off them), km/h; 1 to 200. An area's `straightLineSpeedKmh`
    /// overrides it.
    #[arg(long = "straight-line-speed-kmh", env = "TRACKING_STRAIGHT_LINE_SPEED_KMH", default_value_t = 20.0, value_parser = parse_speed)]
    pub straight_line_speed_kmh: f64,

    /// Road length per straight-line km, in a straight-line estimate; 1 to 5.
    #[arg(long = "detour-factor", env = "TRACKING_DETOUR_FACTOR", default_value_t = 1.4, value_parser = parse_detour)]
    pub detour_factor: f64,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    bounded(text, STRAIGHT_LINE_SPEED_KMH, "km/h")
}

fn parse_detour(text: &str) -> Result<f64, String> {
    bounded(text, DETOUR_FACTOR, "(a factor)")
}

fn bounded(text: &str, (lo, hi): (f64, f64), unit: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("must be a number from {lo} to {hi} {unit}")),
    }
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

/// Loads the roads the configuration names: `--roads`, and each area's
/// own (a relative path is read from the areas file's directory), each
/// file once, on a blocking thread (a region takes seconds), logging nodes,
/// edges, time and memory. A file it cannot use stops the start.
pub async fn load_roads(
    config: &RoadsConfig,
    areas: &ServiceAreas,
    areas_file: Option<&Path>,
) -> Result<AreaRoads, StartError> {
    let base = areas_file.and_then(Path::parent).unwrap_or(Path::new(""));
    let mut loaded: HashMap<PathBuf, Arc<Roads>> = HashMap::new();
    let default = match &config.file {
        Some(path) => Some(load_once(&mut loaded, path.clone(), config.snap_metres).await?),
        None => None,
    };
    let mut by_area = HashMap::new();
    for area in areas.all() {
        let Some(own) = &area.roads else { continue };
        let path = base.join(own);
        let roads = load_once(&mut loaded, path, config.snap_metres)
            .await
            .map_err(|e| StartError::Config(format!("area {}: roads: {e}", area.id)))?;
        by_area.insert(area.id.clone(), roads);
    }
    Ok(AreaRoads::new(default, by_area))
}

async fn load_once(
    loaded: &mut HashMap<PathBuf, Arc<Roads>>,
    path: PathBuf,
    snap: f64,
) -> Result<Arc<Roads>, StartError> {
    if let Some(roads) = loaded.get(&path) {
        return Ok(roads.clone());
    }
    let started = Instant::now();
    let reading = path.clone();
    let roads = tokio::task::spawn_blocking(move || Roads::load(&reading))
        .await
        .map_err(|e| StartError::Config(format!("loading the roads stopped: {e}")))??
        .with_snap_metres(snap);
    tracing::info!(
        file = %path.display(),
        nodes = roads.nodes(),
        edges = roads.edges(),
        seconds = started.elapsed().as_secs_f64(),
        approx_mib = roads.approx_bytes() as f64 / (1024.0 * 1024.0),
        snap_metres = snap,
        "roads loaded"
    );
    let roads = Arc::new(roads);
    loaded.insert(path, roads.clone());
    Ok(roads)
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
