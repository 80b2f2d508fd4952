//! Areas files of the tests' own: two cities side by side, and two areas
//! whose keys live on different primaries of a Redis Cluster.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{keys::temp_dir, RedisCluster};

/// Santiago (around the seed's points) and, east of it and touching it,
/// a second area with rules of its own.
pub fn two_cities() -> Value {
    let square = |id: &str, west: f64, east: f64, extra: Value| {
        let mut properties = json!({"id": id, "name": id.to_uppercase()});
        if let (Some(p), Some(e)) = (properties.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        json!({
            "type": "Feature",
            "properties": properties,
            "geometry": {"type": "Polygon", "coordinates": [[
                [west, -33.6], [east, -33.6], [east, -33.3], [west, -33.3], [west, -33.6]
            ]]}
        })
    };
    json!({"type": "FeatureCollection", "features": [
        square("scl", -70.8, -70.5, json!({})),
        square("east", -70.5, -70.2, json!({"requestTimeout": "3s", "matchRadiusKm": 2})),
    ]})
}

/// Writes an areas file of the test's own; returns its path.
pub fn areas_file(name: &str, areas: &Value) -> PathBuf {
    let path = temp_dir("areas").join(format!("{name}.json"));
    std::fs::write(&path, areas.to_string()).expect("write the areas file");
    path
}

/// Two areas (of the shape of `two_cities`), west and east of
/// -70.5, named so that their slots are on different primaries.
pub async fn areas_on_two_nodes(cluster: &RedisCluster) -> (String, String, Value) {
    let mut first: Option<(String, u16)> = None;
    for n in 0..64 {
        let id = format!("city{n}");
        let node = cluster.primary_of(&format!("{{tracking:{id}}}")).await;
        match &first {
            None => first = Some((id, node)),
            Some((west, west_node)) if *west_node != node => {
                let square = |id: &str, west: f64, east: f64| {
                    json!({"type": "Feature", "properties": {"id": id}, "geometry": {"type": "Polygon",
                        "coordinates": [[[west, -33.6], [east, -33.6], [east, -33.3], [west, -33.3], [west, -33.6]]]}})
                };
                let file = json!({"type": "FeatureCollection", "features": [
                    square(west, -70.8, -70.5), square(&id, -70.5, -70.2)
                ]});
                return (west.clone(), id, file);
            }
            Some(_) => {}
        }
    }
    panic!("no two areas on different primaries")
}
