//! Service areas: where the service operates, each with its own rules.
//!
//! An area is a polygon (or several, with holes) read from a GeoJSON
//! FeatureCollection. Areas never overlap and each holds its border, so a
//! point on a border two areas share belongs to the one listed first in
//! the file, for pickups and drivers alike; a ride belongs to the area of its pickup and is matched only with
//! drivers of that area; a driver belongs to the area of its position.
//! Without an areas file one area, `default`, covers the Earth.
//!
//! Point lookup goes through an R-tree of the areas' bounding boxes, then
//! an exact point-in-polygon test on the few candidates through each
//! area's [`Boundary`] (an R-tree of its edges): O(log n) in the vertices,
//! cheap enough to run on every report.

use std::{collections::HashSet, sync::Arc, time::Duration};

use geo::{BooleanOps, BoundingRect, MultiPolygon};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};
use serde_json::Value;

use super::{
    boundary::Boundary,
    rules::{self, AreaRules, DurationBounds},
    Coordinates, RadiusKm, RideId, MAX_LATITUDE, STRAIGHT_LINE_SPEED_KMH,
};

/// The most bytes an area id may have.
pub const MAX_AREA_ID_LEN: usize = 32;
/// The area that covers the Earth when no areas file is given.
pub const DEFAULT_AREA: &str = "default";

/// An area's id: `[a-z0-9-]`, 1 to 32 bytes (it becomes part of Redis keys
/// and of ride ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaId(String);

/// Whether `s` is 1 to `max` bytes of `[a-z0-9-]`: the names the operator's
/// configuration gives (area ids, sink ids), safe in a key and a label.
pub fn is_config_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl AreaId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_config_name(s, MAX_AREA_ID_LEN) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "area id {s:?} must be 1 to {MAX_AREA_ID_LEN} bytes of [a-z0-9-]"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The area a ride id names: `<area>:<epoch>.<n>`; an id without an
    /// area (the default area's, and rides from before areas) names none.
    pub fn of_ride(ride: &RideId) -> Option<Self> {
        let (area, _) = ride.as_str().split_once(':')?;
        Self::parse(area).ok()
    }
}

impl std::fmt::Display for AreaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One service area.
#[derive(Debug)]
pub struct Area {
    pub id: AreaId,
    pub name: String,
    /// The boundary's shape.
    pub shape: MultiPolygon<f64>,
    /// The boundary, checked and indexed for lookups.
    boundary: Boundary,
    /// The geometry as the file gave it.
    pub geometry: Value,
    pub rules: AreaRules,
    /// The area's own roads file, as the areas file names it (a relative
    /// path is the areas file's directory's business: startup resolves it).
    pub roads: Option<std::path::PathBuf>,
    /// Webhooks that get this area's events only (checked at start).
    pub webhooks: Vec<String>,
}

impl Area {
    /// Whether the point is in the area, its border included.
    pub fn contains(&self, at: Coordinates) -> bool {
        self.boundary.contains(at.lng(), at.lat())
    }
}

/// All the service's areas and their index.
#[derive(Debug)]
pub struct ServiceAreas {
    areas: Vec<Arc<Area>>,
    index: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    /// Whether this is the one area covering the Earth (no file given).
    everywhere: bool,
}

impl ServiceAreas {
    /// One area, `default`, covering the Earth.
    pub fn everywhere() -> Self {
        let (lat, lng) = (MAX_LATITUDE, 180.0);
        let ring = vec![
            vec![-lng, -lat],
            vec![lng, -lat],
            vec![lng, lat],
            vec![-lng, lat],
            vec![-lng, -lat],
        ];
        let geometry = serde_json::json!({"type": "Polygon", "coordinates": [ring]});
        let (shape, boundary) = match shape_of(&geometry) {
            Ok(parts) => parts,
            Err(_) => (MultiPolygon(Vec::new()), Boundary::nowhere()),
        };
        let area = Area {
            id: AreaId(DEFAULT_AREA.to_owned()),
            name: "Everywhere".to_owned(),
            shape,
            boundary,
            geometry,
            rules: AreaRules::default(),
            roads: None,
            webhooks: Vec::new(),
        };
        let mut areas = Self::new(vec![area]);
        areas.everywhere = true;
        areas
    }

    fn new(areas: Vec<Area>) -> Self {
        let areas: Vec<Arc<Area>> = areas.into_iter().map(Arc::new).collect();
        let boxes = areas
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let rect = a.shape.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    i,
                ))
            })
            .collect();
        Self {
            areas,
            index: RTree::bulk_load(boxes),
            everywhere: false,
        }
    }

    /// Reads a GeoJSON FeatureCollection; every refusal names the feature.
    pub fn from_geojson(text: &str) -> Result<Self, String> {
        let document: Value =
            serde_json::from_str(text).map_err(|e| format!("the areas file is not JSON: {e}"))?;
        if document["type"] != "FeatureCollection" {
            return Err("the areas file must be a GeoJSON FeatureCollection".into());
        }
        let features = document["features"]
            .as_array()
            .ok_or("the areas file has no \"features\" list")?;
        if features.is_empty() {
            return Err("the areas file has no features".into());
        }
        let mut areas: Vec<Area> = Vec::with_capacity(features.len());
        let mut ids = HashSet::new();
        for (i, feature) in features.iter().enumerate() {
            let area = read_feature(feature).map_err(|e| format!("feature {i}: {e}"))?;
            if !ids.insert(area.id.clone()) {
                return Err(format!("feature {i}: area id {} is used twice", area.id));
            }
            areas.push(area);
        }
        for (i, a) in areas.iter().enumerate() {
            for b in &areas[i + 1..] {
                if overlap(a, b) {
                    return Err(format!("areas {} and {} overlap", a.id, b.id));
                }
            }
        }
        Ok(Self::new(areas))
    }

    /// The area a point lies in: the first in the file among those whose
    /// boundary, border included, holds it.
    pub fn locate(&self, at: Coordinates) -> Option<&Arc<Area>> {
        if self.everywhere {
            return self.areas.first();
        }
        // A point on a border shared by two areas belongs to the one listed
        // first in the file.
        let point = [at.lng(), at.lat()];
        self.index
            .locate_all_at_point(&point)
            .map(|entry| entry.data)
            .filter(|&i| self.areas.get(i).is_some_and(|area| area.contains(at)))
            .min()
            .and_then(|i| self.areas.get(i))
    }

    /// The areas whose bounding box meets the box around a circle (a live
    /// map or a nearby search asks each of them).
    pub fn touching(&self, center: Coordinates, radius: RadiusKm) -> Vec<&Arc<Area>> {
        if self.everywhere {
            return self.areas.iter().collect();
        }
        let dlat = radius.km() / 111.2;
        let dlng = radius.km() / (111.2 * center.lat().to_radians().cos().max(0.01));
        let query = AABB::from_corners(
            [center.lng() - dlng, center.lat() - dlat],
            [center.lng() + dlng, center.lat() + dlat],
        );
        let mut hits: Vec<usize> = self
            .index
            .locate_in_envelope_intersecting(&query)
            .map(|entry| entry.data)
            .collect();
        hits.sort_unstable();
        hits.into_iter().filter_map(|i| self.areas.get(i)).collect()
    }

    pub fn get(&self, id: &AreaId) -> Option<&Arc<Area>> {
        self.areas.iter().find(|a| a.id == *id)
    }

    /// The area a ride belongs to, from its id alone; an id without an area
    /// belongs to `default` when there is one.
    pub fn of_ride(&self, ride: &RideId) -> Option<&Arc<Area>> {
        match AreaId::of_ride(ride) {
            Some(id) => self.get(&id),
            None => self.get(&AreaId(DEFAULT_AREA.to_owned())),
        }
    }

    pub fn all(&self) -> &[Arc<Area>] {
        &self.areas
    }

    /// Whether this is the one area covering the Earth.
    pub fn is_everywhere(&self) -> bool {
        self.everywhere
    }
}

const KNOWN: [&str; 14] = [
    "id",
    "name",
    "matchRadiusKm",
    "requestTimeout",
    "searchInterval",
    "offerTimeout",
    "maxPickupEta",
    "straightLineSpeedKmh",
    "roads",
    "matchWindow",
    "batchWaitWeight",
    "maxBatches",
    "approachMeters",
    "webhooks",
];

fn read_feature(feature: &Value) -> Result<Area, String> {
    if feature["type"] != "Feature" {
        return Err("not a GeoJSON Feature".into());
    }
    let properties = feature["properties"]
        .as_object()
        .ok_or("no properties (an id is required)")?;
    if let Some(unknown) = properties.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "unknown property {unknown:?} (known: {})",
            KNOWN.join(", ")
        ));
    }
    let id = properties
        .get("id")
        .and_then(Value::as_str)
        .ok_or("property \"id\" (a string) is required")?;
    let id = AreaId::parse(id)?;
    let name = match properties.get("name") {
        None => id.to_string(),
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(format!("area {id}: \"name\" must be a string")),
    };
    let duration = |key: &str, bounds: DurationBounds| -> Result<Option<Duration>, String> {
        match properties.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => humantime::parse_duration(s)
                .map_err(|e| e.to_string())
                .and_then(|d| bounds.check(d))
                .map(Some)
                .map_err(|e| format!("area {id}: {key} {s:?}: {e}")),
            Some(_) => Err(format!(
                "area {id}: {key} must be a duration such as \"30s\""
            )),
        }
    };
    let match_radius = match properties.get("matchRadiusKm") {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| format!("area {id}: matchRadiusKm must be a number"))
                .and_then(|km| {
                    RadiusKm::parse(km).map_err(|e| format!("area {id}: matchRadiusKm: {e}"))
                })?,
        ),
    };
    let number = |key: &str, range: (f64, f64)| rules::number(properties, &id, key, range);
    let max_batches = number("maxBatches", rules::range_f64(rules::MAX_BATCHES))?;
    if max_batches.is_some_and(|n| n.fract() != 0.0) {
        return Err(format!("area {id}: maxBatches must be a whole number"));
    }
    let rules = AreaRules {
        match_radius,
        request_timeout: duration("requestTimeout", rules::REQUEST_TIMEOUT)?,
        search_interval: duration("searchInterval", rules::SEARCH_INTERVAL)?,
        offer_timeout: duration("offerTimeout", rules::OFFER_TIMEOUT)?,
        max_pickup_eta: duration("maxPickupEta", rules::MAX_PICKUP_ETA)?,
        straight_line_speed_kmh: number("straightLineSpeedKmh", STRAIGHT_LINE_SPEED_KMH)?,
        match_window: duration("matchWindow", rules::MATCH_WINDOW)?,
        batch_wait_weight: number("batchWaitWeight", rules::BATCH_WAIT_WEIGHT)?,
        max_batches: max_batches.map(|n| n as u32),
        approach_meters: number("approachMeters", rules::APPROACH_METERS)?,
    };
    let roads = match properties.get("roads") {
        None => None,
        Some(Value::String(path)) if !path.is_empty() => Some(std::path::PathBuf::from(path)),
        Some(_) => return Err(format!("area {id}: \"roads\" must be a file's path")),
    };
    let geometry = feature["geometry"].clone();
    let (shape, boundary) = shape_of(&geometry).map_err(|e| format!("area {id}: {e}"))?;
    if let Some((from, to)) = antimeridian_edge(&shape) {
        return Err(format!(
            "area {id}: an edge runs from longitude {from} to {to}, more than 180 degrees: \
             shapes crossing the antimeridian are not supported (split the area at ±180)"
        ));
    }
    let webhooks = rules::urls(properties, &id, "webhooks")?;
    Ok(Area {
        id,
        name,
        shape,
        boundary,
        geometry,
        rules,
        roads,
        webhooks,
    })
}

/// A Polygon or MultiPolygon, checked: valid rings (see [`Boundary`]),
/// within the latitudes and longitudes positions may have.
fn shape_of(geometry: &Value) -> Result<(MultiPolygon<f64>, Boundary), String> {
    let parsed: geojson::Geometry =
        serde_json::from_value(geometry.clone()).map_err(|e| format!("bad geometry: {e}"))?;
    let shape: MultiPolygon<f64> =
        match geo::Geometry::<f64>::try_from(parsed).map_err(|e| format!("bad geometry: {e}"))? {
            geo::Geometry::Polygon(p) => p.into(),
            geo::Geometry::MultiPolygon(m) => m,
            other => {
                return Err(format!(
                    "the geometry must be a Polygon or MultiPolygon, not {}",
                    kind(&other)
                ))
            }
        };
    if shape.0.is_empty() {
        return Err("the geometry is empty".into());
    }
    let rect = shape.bounding_rect().ok_or("the geometry is empty")?;
    let ok = |x: f64, y: f64| x.abs() <= 180.0 && y.abs() <= MAX_LATITUDE + 1e-9;
    if !ok(rect.min().x, rect.min().y) || !ok(rect.max().x, rect.max().y) {
        return Err(format!(
            "the geometry leaves longitudes ±180 or latitudes ±{MAX_LATITUDE}"
        ));
    }
    let boundary = Boundary::new(&shape)?;
    Ok((shape, boundary))
}

/// An edge spanning more than half the Earth's longitudes: the shape means
/// to cross the antimeridian, which a planar lookup would turn inside out.
fn antimeridian_edge(shape: &MultiPolygon<f64>) -> Option<(f64, f64)> {
    shape.0.iter().find_map(|polygon| {
        std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .flat_map(|ring| ring.lines())
            .find(|line| (line.end.x - line.start.x).abs() > 180.0)
            .map(|line| (line.start.x, line.end.x))
    })
}

fn kind(geometry: &geo::Geometry<f64>) -> &'static str {
    match geometry {
        geo::Geometry::Point(_) => "a Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "a LineString",
        geo::Geometry::MultiPoint(_) => "a MultiPoint",
        geo::Geometry::MultiLineString(_) => "a MultiLineString",
        geo::Geometry::GeometryCollection(_) => "a GeometryCollection",
        _ => "another kind",
    }
}

/// Whether two areas share any surface (touching edges is fine).
fn overlap(a: &Area, b: &Area) -> bool {
    use geo::Area as _;
    let (Some(ra), Some(rb)) = (a.shape.bounding_rect(), b.shape.bounding_rect()) else {
        return false;
    };
    let apart = ra.max().x < rb.min().x
        || rb.max().x < ra.min().x
        || ra.max().y < rb.min().y
        || rb.max().y < ra.min().y;
    !apart && a.shape.intersection(&b.shape).unsigned_area() > 1e-12
}

#[cfg(test)]
#[path = "areas_tests.rs"]
mod tests;
