//! The dashboard's base map: tiles (`--map-tiles`, `--map-attribution`), a
//! URL template checked at start and its provider's attribution; or the
//! roads loaded with `--roads`, which `GET /roads` draws.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::roads::Roads;

/// Drawings of the roads made at once (each a few milliseconds of CPU on a
/// blocking thread); more requests wait their turn.
const DRAWINGS_AT_ONCE: usize = 4;

/// The dashboard's base map: raster tiles from a URL template, and the
/// attribution their provider requires.
#[derive(Debug, Clone, Default)]
pub struct BaseMap {
    pub(super) tiles: Option<String>,
    pub(super) attribution: Option<String>,
}

impl BaseMap {
    /// Checks the template: an http(s) URL (or a path on this service)
    /// naming `{z}`, `{x}` and `{y}`.
    pub fn new(tiles: Option<&str>, attribution: Option<&str>) -> Result<Self, String> {
        if let Some(tiles) = tiles {
            let scheme = tiles.starts_with("https://")
                || tiles.starts_with("http://")
                || tiles.starts_with('/');
            let placeholders = ["{z}", "{x}", "{y}"].iter().all(|p| tiles.contains(p));
            if !scheme || !placeholders || tiles.len() > 2048 {
                return Err(format!(
                    "--map-tiles {tiles:?}: expected a URL template such as \
                     https://tile.example.org/{{z}}/{{x}}/{{y}}.png (http or https, \
                     with {{z}}, {{x}} and {{y}})"
                ));
            }
        }
        Ok(Self {
            tiles: tiles.map(str::to_owned),
            attribution: attribution.map(str::to_owned),
        })
    }
}

/// The loaded roads, as the base map serves them: the service's and the
/// areas' own, each network once.
#[derive(Clone)]
pub struct RoadMap {
    pub(super) networks: Arc<[Arc<Roads>]>,
    /// One permit per drawing under way.
    pub(super) drawings: Arc<Semaphore>,
}

impl RoadMap {
    /// Serves `networks` as the base map; `None` when there are none.
    pub fn new(networks: Vec<Arc<Roads>>) -> Option<Self> {
        (!networks.is_empty()).then(|| Self {
            networks: networks.into(),
            drawings: Arc::new(Semaphore::new(DRAWINGS_AT_ONCE)),
        })
    }
}

impl std::fmt::Debug for RoadMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoadMap")
            .field("networks", &self.networks)
            .finish()
    }
}
