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

fn located(areas: &ServiceAreas, lat: f64, lng: f64) -> Option<&str> {
    areas.locate(at(lat, lng)).map(|a| a.id.as_str())
}

#[test]
fn a_point_on_a_shared_border_belongs_to_the_area_listed_first() {
    // `b` touches `a` along lng 1 (a shared edge and two shared vertices);
    // listed the other way round, the tie goes the other way.
    let a = square("a", 0.0, 0.0, 1.0, "");
    let b = square("b", 1.0, 0.0, 1.0, "");
    let a_first = ServiceAreas::from_geojson(&collection(&[a.clone(), b.clone()]))
        .unwrap_or_else(|e| panic!("{e}"));
    let b_first =
        ServiceAreas::from_geojson(&collection(&[b, a])).unwrap_or_else(|e| panic!("{e}"));
    for (lat, lng, what) in [
        (0.5, 1.0, "an edge point"),
        (0.0, 1.0, "a vertex"),
        (1.0, 1.0, "a vertex"),
    ] {
        assert_eq!(
            located(&a_first, lat, lng),
            Some("a"),
            "{what} ({lat}, {lng})"
        );
        assert_eq!(
            located(&b_first, lat, lng),
            Some("b"),
            "{what} ({lat}, {lng})"
        );
    }
    // The outer border of one area belongs to it: edges and corners alike.
    for (lat, lng) in [
        (0.0, 0.5),
        (1.0, 0.5),
        (0.5, 0.0),
        (0.0, 0.0),
        (1.0, 2.0),
        (0.3, 2.0),
    ] {
        assert!(located(&a_first, lat, lng).is_some(), "({lat}, {lng})");
    }
    assert_eq!(located(&a_first, 0.5, 2.0), Some("b"));
    assert_eq!(located(&a_first, 1.0 + 1e-9, 0.5), None, "just outside");
}

#[test]
fn a_hole_is_outside_and_its_border_inside() {
    let holed = r#"{"type":"Feature","properties":{"id":"h"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[2,1],[2,2],[1,2],[1,1]]]}}"#;
    let areas = ServiceAreas::from_geojson(&collection(&[holed.to_owned()]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(located(&areas, 1.5, 1.5), None, "in the hole");
    assert_eq!(located(&areas, 1.0, 1.5), Some("h"), "on the hole's border");
    assert_eq!(located(&areas, 3.0, 3.0), Some("h"));
    assert_eq!(located(&areas, 5.0, 1.5), None);
}

fn polygon(id: &str, ring: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"id":"{id}"}},"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}"#
    )
}

fn refusal(features: &[String]) -> String {
    match ServiceAreas::from_geojson(&collection(features)) {
        Ok(_) => panic!("accepted: {features:?}"),
        Err(e) => e,
    }
}

#[test]
fn degenerate_and_antimeridian_shapes_are_refused_naming_the_area() {
    for (ring, expected) in [
        ("[[0,0],[1,1],[2,2],[0,0]]", "no area"),
        ("[[0,0],[1,0],[1,0],[0,0]]", "fewer than 3 distinct points"),
        ("[[0,0],[0,0],[0,0],[0,0]]", "fewer than 3 distinct points"),
        ("[[0,0],[3,0],[3,2],[1,-1],[0,0]]", "crosses itself"),
        ("[[0,0],[2,0],[1,0],[1,1],[0,0]]", "crosses itself"),
        ("[[179,0],[-179,0],[-179,1],[179,1],[179,0]]", "antimeridian"),
        (
            "[[0,0],[4,0],[4,4],[0,4],[0,0]],[[5,5],[6,5],[6,6],[5,6],[5,5]]",
            "hole 1 is not inside the outer ring",
        ),
        (
            "[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[3,1],[3,3],[1,3],[1,1]],[[1.5,1.5],[2,1.5],[2,2],[1.5,1.5]]",
            "not inside the outer ring",
        ),
        (
            "[[0,0],[4,0],[4,4],[0,4],[0,0]],[[0,1],[1,1],[1,2],[0,1]]",
            "meet",
        ),
    ] {
        let refused = refusal(&[polygon("bad", ring)]);
        assert!(refused.starts_with("feature 0: area bad: "), "{ring}: {refused}");
        assert!(refused.contains(expected), "{ring}: {refused}");
        assert_eq!(refused.lines().count(), 1, "{refused}");
    }
    let islands = r#"{"type":"Feature","properties":{"id":"m"},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[4,0],[4,4],[0,4],[0,0]]],[[[1,1],[2,1],[2,2],[1,2],[1,1]]]]}}"#;
    assert!(refusal(&[islands.to_owned()]).contains("overlap"));
    // An island in a lake is fine.
    let lake = r#"{"type":"Feature","properties":{"id":"l"},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[3,1],[3,3],[1,3],[1,1]]],[[[1.5,1.5],[2,1.5],[2,2],[1.5,2],[1.5,1.5]]]]}}"#;
    let areas = ServiceAreas::from_geojson(&collection(&[lake.to_owned()]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(located(&areas, 1.75, 1.75), Some("l"));
    assert_eq!(located(&areas, 1.2, 1.2), None);
}

#[test]
fn durations_outside_sane_bounds_are_refused() {
    for (rule, expected) in [
        (r#","searchInterval":"1ns""#, "searchInterval"),
        (r#","searchInterval":"49ms""#, "searchInterval"),
        (r#","searchInterval":"2days""#, "searchInterval"),
        (r#","requestTimeout":"500000000y""#, "requestTimeout"),
        (r#","requestTimeout":"1day 1s""#, "requestTimeout"),
        (r#","offerTimeout":"500000000y""#, "offerTimeout"),
        (r#","offerTimeout":"1ns""#, "offerTimeout"),
        (r#","offerTimeout":"99ms""#, "offerTimeout"),
        (r#","requestTimeout":"0s""#, "requestTimeout"),
    ] {
        let refused = refusal(&[square("a", 0.0, 0.0, 1.0, rule)]);
        assert!(
            refused.contains(expected) && refused.contains("area a"),
            "{rule}: {refused}"
        );
    }
    let fine = ServiceAreas::from_geojson(&collection(&[square(
        "a",
        0.0,
        0.0,
        1.0,
        r#","searchInterval":"50ms","requestTimeout":"1day","offerTimeout":"0s""#,
    )]));
    assert!(fine.is_ok(), "{fine:?}");
}
