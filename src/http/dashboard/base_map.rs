//! The dashboard's base map (`--map-tiles`, `--map-attribution`): a tile
//! URL template, checked at start, and its provider's attribution.

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
