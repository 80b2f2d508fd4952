//! Tests of the base map's drawing on synthetic cities: what a box and a
//! zoom keep (classes, simplification, clipping), the byte bound and its
//! flag, the encoding, and boxes refused.

use crate::roads::drawing::simplify;
use crate::roads::tests::{at, City};
use crate::roads::{Drawing, DrawnLine, MapBox, RoadClass, DRAWING_SCALE, MAX_DRAWING_BYTES};

const PRIMARY: &[(&str, &str)] = &[("highway", "primary")];
const RESIDENTIAL: &[(&str, &str)] = &[("highway", "residential")];

/// A primary road west–east through the middle (y = 0), 10 km long in
/// 100 m steps with a 3 m wiggle (on the line every 500 m); residential streets north–south every
/// 500 m from x = -2 km to 2 km, 1 km long.
fn town() -> City {
    let main: Vec<(f64, f64)> = (-50..=50)
        .map(|k| (f64::from(k) * 100.0, if k % 5 == 0 { 0.0 } else { 3.0 }))
        .collect();
    let mut city = City::default().way(&main, PRIMARY);
    for k in -4..=4 {
        let x = f64::from(k) * 500.0;
        city = city.way(&[(x, -500.0), (x, 0.0), (x, 500.0)], RESIDENTIAL);
    }
    city
}

/// The box from (x0, y0) to (x1, y1) metres.
fn area(x0: f64, y0: f64, x1: f64, y1: f64) -> MapBox {
    let (sw, ne) = (at(x0, y0), at(x1, y1));
    MapBox::new(sw.lat(), sw.lng(), ne.lat(), ne.lng()).expect("a box")
}

/// A line's points back in degrees.
fn decode(line: &DrawnLine) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let (mut lat, mut lng) = (0i64, 0i64);
    for pair in line.points.chunks(2) {
        lat += pair[0];
        lng += pair[1];
        out.push((lat as f64 / DRAWING_SCALE, lng as f64 / DRAWING_SCALE));
    }
    out
}

fn count(drawing: &Drawing, class: RoadClass) -> usize {
    drawing.lines.iter().filter(|l| l.class == class).count()
}

#[test]
fn a_street_level_zoom_draws_every_road_and_a_region_zoom_only_the_main_ones() {
    let roads = town().load("drawing-town");
    let whole = area(-6000.0, -1000.0, 6000.0, 1000.0);
    let close = roads.draw(&whole, 16.0, MAX_DRAWING_BYTES);
    assert!(!close.truncated);
    assert!(count(&close, RoadClass::Major) >= 1, "{close:?}");
    // Nine streets, each cut in two by the main road's crossing.
    assert_eq!(count(&close, RoadClass::Minor), 18, "{close:?}");
    // The main road first: the most important roads come first.
    assert_eq!(close.lines[0].class, RoadClass::Major);
    let far = roads.draw(&whole, 9.0, MAX_DRAWING_BYTES);
    assert_eq!(count(&far, RoadClass::Minor), 0, "{far:?}");
    assert!(count(&far, RoadClass::Major) >= 1);
    // At zoom 9 a pixel is ~150 m here: the 3 m wiggle is gone, a few
    // points are left of the main road's 101.
    assert!(far.points < 30, "{} points at zoom 9", far.points);
    assert!(
        close.points > far.points + 50,
        "{} vs {}",
        close.points,
        far.points
    );
}

#[test]
fn a_box_keeps_the_roads_that_touch_it_and_their_segments_whole() {
    let roads = town().load("drawing-box");
    // Around the street at x = 2 km, north of the main road only.
    let drawing = roads.draw(&area(1900.0, 100.0, 2100.0, 400.0), 18.0, MAX_DRAWING_BYTES);
    assert_eq!(drawing.lines.len(), 1, "{drawing:?}");
    let points = decode(&drawing.lines[0]);
    assert_eq!(points.len(), 2, "{points:?}");
    let (south, north) = (at(2000.0, 0.0), at(2000.0, 500.0));
    let near = |p: (f64, f64), c: &crate::domain::Coordinates| {
        (p.0 - c.lat()).abs() < 2e-5 && (p.1 - c.lng()).abs() < 2e-5
    };
    assert!(points.iter().any(|p| near(*p, &south)), "{points:?}");
    assert!(points.iter().any(|p| near(*p, &north)), "{points:?}");
    // Far from every road: nothing.
    let empty = roads.draw(
        &area(7000.0, 7000.0, 8000.0, 8000.0),
        18.0,
        MAX_DRAWING_BYTES,
    );
    assert!(empty.lines.is_empty() && !empty.truncated);
}

#[test]
fn a_drawing_stays_within_its_bytes_and_says_it_was_cut() {
    let roads = town().load("drawing-cut");
    let whole = area(-6000.0, -1000.0, 6000.0, 1000.0);
    let full = roads.draw(&whole, 18.0, MAX_DRAWING_BYTES);
    let json = |d: &Drawing| {
        let lines: Vec<String> = d
            .lines
            .iter()
            .map(|l| {
                let mut v = vec![l.class as i64];
                v.extend(&l.points);
                serde_json::to_string(&v).expect("json")
            })
            .collect();
        lines.join(",").len()
    };
    assert_eq!(full.bytes, json(&full), "the count is the JSON's length");
    let cap = full.bytes / 2;
    let cut = roads.draw(&whole, 18.0, cap);
    assert!(cut.truncated);
    assert!(
        cut.bytes <= cap && json(&cut) == cut.bytes,
        "{} > {cap}",
        cut.bytes
    );
    assert!(!cut.lines.is_empty());
    assert_eq!(
        cut.lines[0].class,
        RoadClass::Major,
        "the main road kept first"
    );
    let none = roads.draw(&whole, 18.0, 3);
    assert!(none.truncated && none.lines.is_empty());
}

#[test]
fn a_long_way_is_drawn_as_chains_of_bounded_length() {
    let long: Vec<(f64, f64)> = (0..300).map(|k| (f64::from(k) * 20.0, 0.0)).collect();
    let roads = City::default().way(&long, RESIDENTIAL).load("drawing-long");
    let drawing = roads.draw(
        &area(-100.0, -100.0, 6100.0, 100.0),
        22.0,
        MAX_DRAWING_BYTES,
    );
    // 300 points in lines of at most 64, joined end to end (a straight
    // line: at zoom 22 each keeps its ends).
    assert!(drawing.lines.len() >= 5, "{}", drawing.lines.len());
    let ends: Vec<Vec<(f64, f64)>> = drawing.lines.iter().map(decode).collect();
    let west = at(0.0, 0.0);
    let east = at(5980.0, 0.0);
    let all: Vec<(f64, f64)> = ends.concat();
    let close = |p: &(f64, f64), c: &crate::domain::Coordinates| {
        (p.0 - c.lat()).abs() < 2e-5 && (p.1 - c.lng()).abs() < 2e-5
    };
    assert!(all.iter().any(|p| close(p, &west)) && all.iter().any(|p| close(p, &east)));
}

#[test]
fn the_class_comes_from_the_speed() {
    assert_eq!(RoadClass::of_kmh(100.0), RoadClass::Major);
    assert_eq!(RoadClass::of_kmh(60.0), RoadClass::Major);
    assert_eq!(RoadClass::of_kmh(50.0), RoadClass::Medium);
    assert_eq!(RoadClass::of_kmh(30.0), RoadClass::Minor);
    assert_eq!(RoadClass::of_kmh(10.0), RoadClass::Minor);
    // A residential street tagged 50 km/h is drawn as a medium road.
    let roads = City::default()
        .way(
            &[(0.0, 0.0), (1000.0, 0.0)],
            &[("highway", "residential"), ("maxspeed", "50")],
        )
        .load("drawing-class");
    let drawing = roads.draw(
        &area(-100.0, -100.0, 1100.0, 100.0),
        10.0,
        MAX_DRAWING_BYTES,
    );
    assert_eq!(drawing.lines.len(), 1);
    assert_eq!(drawing.lines[0].class, RoadClass::Medium);
}

#[test]
fn douglas_peucker_keeps_the_corners_and_drops_the_wiggles() {
    let points = vec![
        (60.0, 25.0),
        (60.0, 25.001),
        (60.000_01, 25.002),
        (60.0, 25.003),
        (60.01, 25.003),
    ];
    let simple = simplify(&points, 5.0);
    assert_eq!(simple, vec![points[0], points[3], points[4]]);
    assert_eq!(simplify(&points, 0.1).len(), 5);
    assert_eq!(simplify(&points[..2], 1e6), points[..2].to_vec());
}

#[test]
fn a_box_must_be_a_box() {
    assert!(MapBox::new(60.0, 24.0, 60.1, 24.1).is_ok());
    for (s, w, n, e) in [
        (60.1, 24.0, 60.0, 24.1),
        (60.0, 24.1, 60.1, 24.0),
        (60.0, 24.0, 60.0, 24.1),
        (f64::NAN, 24.0, 60.1, 24.1),
        (60.0, f64::INFINITY, 60.1, 24.1),
        (-91.0, 24.0, 60.1, 24.1),
        (60.0, -181.0, 60.1, 24.1),
        (60.0, 170.0, 60.1, -170.0),
    ] {
        assert!(MapBox::new(s, w, n, e).is_err(), "{s} {w} {n} {e}");
    }
}

#[test]
fn helsinki_is_drawn_whole_within_the_bound_at_every_zoom() {
    let Some(path) = std::env::var_os("TRACKING_TEST_HELSINKI") else {
        eprintln!("skipped: TRACKING_TEST_HELSINKI is unset (scripts/test.sh sets it)");
        return;
    };
    let roads = crate::roads::Roads::load(std::path::Path::new(&path)).expect("Helsinki loads");
    let (sw, ne) = roads.bounds().expect("bounds");
    let whole = MapBox::new(sw.lat(), sw.lng(), ne.lat(), ne.lng()).expect("box");
    eprintln!("{} nodes, {} edges", roads.nodes(), roads.edges());
    let mut last_points = usize::MAX;
    for zoom in [18.0, 16.0, 14.0, 12.0, 10.0] {
        let started = std::time::Instant::now();
        let drawing = roads.draw(&whole, zoom, MAX_DRAWING_BYTES);
        eprintln!(
            "zoom {zoom}: {} lines, {} points, {} bytes, truncated {}, {:?}",
            drawing.lines.len(),
            drawing.points,
            drawing.bytes,
            drawing.truncated,
            started.elapsed()
        );
        assert!(drawing.bytes <= MAX_DRAWING_BYTES);
        assert!(
            drawing.points <= last_points,
            "coarser zooms draw fewer points"
        );
        last_points = drawing.points;
        if zoom >= 12.0 {
            assert!(count(&drawing, RoadClass::Minor) > 100, "streets at {zoom}");
        }
    }
}
