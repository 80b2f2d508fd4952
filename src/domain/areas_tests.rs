//! Area files read and checked, points located.

use super::*;

fn square(id: &str, x: f64, y: f64, size: f64, extra: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"id":"{id}"{extra}}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{x2},{y}],[{x2},{y2}],[{x},{y2}],[{x},{y}]]]}}}}"#,
        x2 = x + size,
        y2 = y + size
    )
}

fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

fn at(lat: f64, lng: f64) -> Coordinates {
    Coordinates::parse(lat, lng).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn points_fall_in_their_area_and_nowhere_else() {
    let areas = ServiceAreas::from_geojson(&collection(&[
        square("a", 0.0, 0.0, 1.0, r#","name":"A","requestTimeout":"3s""#),
        square("b", 1.0, 0.0, 1.0, ""),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(areas.locate(at(0.5, 0.5)).map(|a| a.id.as_str()), Some("a"));
    assert_eq!(areas.locate(at(0.5, 1.5)).map(|a| a.id.as_str()), Some("b"));
    assert!(areas.locate(at(5.0, 5.0)).is_none());
    let a = areas.get(&AreaId::parse("a").unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(
        a.map(|a| a.rules.request_timeout),
        Some(Some(Duration::from_secs(3)))
    );
    assert_eq!(
        areas
            .touching(
                at(0.5, 0.9),
                RadiusKm::parse(30.0).unwrap_or_else(|e| panic!("{e}"))
            )
            .len(),
        2
    );
}

#[test]
fn bad_files_are_refused_naming_the_feature() {
    let refused = |features: &[String]| {
        ServiceAreas::from_geojson(&collection(features))
            .err()
            .unwrap_or_default()
    };
    assert!(refused(&[
        square("a", 0.0, 0.0, 1.0, ""),
        square("b", 0.5, 0.5, 1.0, "")
    ])
    .contains("overlap"));
    assert!(refused(&[
        square("a", 0.0, 0.0, 1.0, ""),
        square("a", 5.0, 5.0, 1.0, "")
    ])
    .contains("twice"));
    assert!(refused(&[square("A", 0.0, 0.0, 1.0, "")]).contains("[a-z0-9-]"));
    assert!(
        refused(&[square("a", 0.0, 0.0, 1.0, r#","colour":"red""#)]).contains("unknown property")
    );
    assert!(
        refused(&[square("a", 0.0, 0.0, 1.0, r#","requestTimeout":"soon""#)])
            .contains("requestTimeout")
    );
    let bowtie = r#"{"type":"Feature","properties":{"id":"x"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}"#;
    assert!(refused(&[bowtie.to_owned()]).contains("feature 0"));
    let point = r#"{"type":"Feature","properties":{"id":"p"},"geometry":{"type":"Point","coordinates":[0,0]}}"#;
    assert!(refused(&[point.to_owned()]).contains("Polygon"));
    assert!(ServiceAreas::from_geojson("[]").is_err());
}

#[test]
fn without_a_file_one_area_covers_the_earth() {
    let areas = ServiceAreas::everywhere();
    for (lat, lng) in [(0.0, 0.0), (85.0, 180.0), (-85.05, -180.0)] {
        assert_eq!(
            areas.locate(at(lat, lng)).map(|a| a.id.as_str()),
            Some("default")
        );
    }
    let id = RideId::new("k3x9q2ab", 7);
    assert_eq!(areas.of_ride(&id).map(|a| a.id.as_str()), Some("default"));
}
