//! Tests of the roads on synthetic cities written as `.osm` XML, whose right
//! answers are known by construction: a river with one bridge, a one-way
//! loop, a private road, islands; the prepared-file round trip; bad files.

use std::path::PathBuf;

use crate::domain::Coordinates;
use crate::roads::network::{judge, parse_maxspeed, Direction};
use crate::roads::{EtaSource, Roads, RoadsError, StraightLine};

/// Metres per degree of latitude (with the domain's Earth radius).
const M_PER_DEG: f64 = 111_226.3;
const LAT0: f64 = 60.0;
const LNG0: f64 = 25.0;

/// The point `x` metres east and `y` metres north of the cities' origin.
pub(crate) fn at(x: f64, y: f64) -> Coordinates {
    let lat = LAT0 + y / M_PER_DEG;
    let lng = LNG0 + x / (M_PER_DEG * LAT0.to_radians().cos());
    Coordinates::parse(lat, lng).expect("test coordinates")
}

type Tags = Vec<(&'static str, &'static str)>;

/// A synthetic city: ways as lists of (x, y) metre points with their tags.
#[derive(Default)]
pub(crate) struct City {
    ways: Vec<(Vec<(f64, f64)>, Tags)>,
}

impl City {
    pub(crate) fn way(
        mut self,
        points: &[(f64, f64)],
        tags: &[(&'static str, &'static str)],
    ) -> Self {
        self.ways.push((points.to_vec(), tags.to_vec()));
        self
    }

    /// The city as OSM XML; points at the same place share one node.
    pub(crate) fn xml(&self) -> String {
        let mut ids: Vec<(f64, f64)> = Vec::new();
        let mut id_of = |p: (f64, f64)| match ids.iter().position(|q| *q == p) {
            Some(i) => i + 1,
            None => {
                ids.push(p);
                ids.len()
            }
        };
        let mut ways = String::new();
        for (w, (points, tags)) in self.ways.iter().enumerate() {
            ways += &format!("  <way id=\"{}\">\n", w + 1);
            for p in points {
                ways += &format!("    <nd ref=\"{}\"/>\n", id_of(*p));
            }
            for (k, v) in tags {
                ways += &format!("    <tag k=\"{k}\" v=\"{v}\"/>\n");
            }
            ways += "  </way>\n";
        }
        let mut out =
            String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\">\n");
        for (i, (x, y)) in ids.iter().enumerate() {
            let c = at(*x, *y);
            out += &format!(
                "  <node id=\"{}\" lat=\"{}\" lon=\"{}\"/>\n",
                i + 1,
                c.lat(),
                c.lng()
            );
        }
        out + &ways + "</osm>\n"
    }

    /// Writes the city to a fresh `.osm` file and returns its path.
    pub(crate) fn write(&self, name: &str) -> PathBuf {
        write_file(&format!("{name}.osm"), self.xml().as_bytes())
    }

    pub(crate) fn load(&self, name: &str) -> Roads {
        Roads::load(&self.write(name)).expect("the city loads")
    }
}

pub(crate) fn write_file(name: &str, content: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-roads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write test file");
    path
}

const RESIDENTIAL: &[(&str, &str)] = &[("highway", "residential")];

/// A river along y = 0; roads on both banks (y = ±150) from x = -5 km to
/// 5 km; one bridge at x = 4 km.
fn river_city() -> City {
    let bank =
        |y: f64| -> Vec<(f64, f64)> { (-5..=5).map(|k| (f64::from(k) * 1000.0, y)).collect() };
    City::default()
        .way(&bank(-150.0), RESIDENTIAL)
        .way(&bank(150.0), RESIDENTIAL)
        .way(&[(4000.0, -150.0), (4000.0, 150.0)], RESIDENTIAL)
}

#[test]
fn across_the_river_is_further_in_time_than_down_the_same_bank() {
    let roads = river_city().load("river");
    let pickup = at(0.0, -150.0);
    let far_bank = at(0.0, 150.0);
    let same_bank = at(800.0, -150.0);
    let fallback = StraightLine::default();
    let across = roads.eta(&far_bank, &pickup, &fallback);
    let along = roads.eta(&same_bank, &pickup, &fallback);
    assert_eq!(across.source, EtaSource::Roads);
    assert_eq!(along.source, EtaSource::Roads);
    assert!(across.seconds > along.seconds, "{across:?} vs {along:?}");
    // 4 km + 300 m + 4 km at 30 km/h: about 990 s; 800 m: 96 s.
    assert!((across.road_km - 8.3).abs() < 0.05, "{across:?}");
    assert!((across.seconds as f64 - 996.0).abs() < 10.0, "{across:?}");
    assert!((along.road_km - 0.8).abs() < 0.01, "{along:?}");
    assert!((along.seconds as f64 - 96.0).abs() < 2.0, "{along:?}");
    assert!(far_bank.distance_km(&pickup) < same_bank.distance_km(&pickup));
}

/// A square loop, 1 km a side, one-way counter-clockwise.
fn loop_city(tags: &[(&'static str, &'static str)]) -> City {
    let square = [
        (0.0, 0.0),
        (1000.0, 0.0),
        (1000.0, 1000.0),
        (0.0, 1000.0),
        (0.0, 0.0),
    ];
    City::default().way(&square, tags)
}

#[test]
fn a_one_way_loop_is_driven_the_way_round() {
    let roads = loop_city(&[("highway", "residential"), ("oneway", "yes")]).load("loop");
    let fallback = StraightLine::default();
    let km = |from: Coordinates, to: Coordinates| roads.eta(&from, &to, &fallback).road_km;
    // Along the one-way: 200 m; against it: round the loop, 3.8 km.
    assert!((km(at(300.0, 0.0), at(500.0, 0.0)) - 0.2).abs() < 0.01);
    assert!((km(at(500.0, 0.0), at(300.0, 0.0)) - 3.8).abs() < 0.02);
    // Across segments: up the east side is with the flow, down it is round.
    assert!((km(at(1000.0, 200.0), at(1000.0, 500.0)) - 0.3).abs() < 0.01);
    assert!((km(at(1000.0, 500.0), at(1000.0, 200.0)) - 3.7).abs() < 0.02);
}

#[test]
fn oneway_minus_one_and_roundabouts_set_the_direction() {
    let roads = loop_city(&[("highway", "residential"), ("oneway", "-1")]).load("loop-reverse");
    let fallback = StraightLine::default();
    let eta = roads.eta(&at(300.0, 0.0), &at(500.0, 0.0), &fallback);
    assert!((eta.road_km - 3.8).abs() < 0.02, "{eta:?}");
    let roundabout = loop_city(&[("highway", "primary"), ("junction", "roundabout")]).load("rb");
    let eta = roundabout.eta(&at(500.0, 0.0), &at(300.0, 0.0), &fallback);
    assert!((eta.road_km - 3.8).abs() < 0.02, "{eta:?}");
    let two_way = loop_city(&[("highway", "motorway"), ("oneway", "no")]).load("motorway-no");
    let eta = two_way.eta(&at(500.0, 0.0), &at(300.0, 0.0), &fallback);
    assert!((eta.road_km - 0.2).abs() < 0.01, "{eta:?}");
}

#[test]
fn the_table_judges_ways() {
    let dir = |tags: &[(&str, &str)]| judge(tags.iter().copied()).map(|w| w.direction);
    assert_eq!(dir(&[("highway", "residential")]), Some(Direction::Both));
    assert_eq!(dir(&[("highway", "primary_link")]), Some(Direction::Both));
    assert_eq!(dir(&[("highway", "motorway")]), Some(Direction::Forward));
    assert_eq!(
        dir(&[("highway", "secondary"), ("oneway", "true")]),
        Some(Direction::Forward)
    );
    assert_eq!(
        dir(&[("highway", "secondary"), ("oneway", "1")]),
        Some(Direction::Forward)
    );
    assert_eq!(
        dir(&[("highway", "secondary"), ("oneway", "-1")]),
        Some(Direction::Backward)
    );
    assert_eq!(dir(&[("highway", "footway")]), None);
    assert_eq!(dir(&[("highway", "cycleway")]), None);
    assert_eq!(dir(&[("building", "yes")]), None);
    assert_eq!(dir(&[("highway", "service"), ("access", "private")]), None);
    assert_eq!(dir(&[("highway", "service"), ("access", "no")]), None);
    assert_eq!(
        dir(&[("highway", "primary"), ("motor_vehicle", "no")]),
        None
    );
    assert_eq!(
        dir(&[
            ("highway", "service"),
            ("access", "no"),
            ("motor_vehicle", "yes")
        ]),
        Some(Direction::Both)
    );
    let kmh = |tags: &[(&str, &str)]| judge(tags.iter().copied()).map(|w| w.kmh);
    assert_eq!(kmh(&[("highway", "residential")]), Some(30.0));
    assert_eq!(
        kmh(&[("highway", "residential"), ("maxspeed", "50")]),
        Some(50.0)
    );
    assert_eq!(
        kmh(&[("highway", "residential"), ("maxspeed", "signals")]),
        Some(30.0)
    );
}

#[test]
fn maxspeed_reads_kmh_mph_and_refuses_junk() {
    assert_eq!(parse_maxspeed("50"), Some(50.0));
    assert_eq!(parse_maxspeed("50 km/h"), Some(50.0));
    assert_eq!(parse_maxspeed("80kmh"), Some(80.0));
    let mph = parse_maxspeed("30 mph").expect("mph");
    assert!((mph - 48.28).abs() < 0.01);
    for junk in [
        "", "none", "walk", "FI:urban", "fast", "0", "-5", "1000", "NaN", "50;60",
    ] {
        assert_eq!(parse_maxspeed(junk), None, "{junk}");
    }
    // 1 km at maxspeed 60 is a minute; at junk, the class default (30 km/h): two.
    let city = City::default()
        .way(
            &[(0.0, 0.0), (1000.0, 0.0)],
            &[("highway", "residential"), ("maxspeed", "60")],
        )
        .way(
            &[(0.0, 500.0), (1000.0, 500.0)],
            &[("highway", "residential"), ("maxspeed", "x")],
        );
    let roads = city.load("maxspeed");
    let fallback = StraightLine::default();
    assert_eq!(
        roads
            .eta(&at(0.0, 0.0), &at(1000.0, 0.0), &fallback)
            .seconds,
        60
    );
    assert_eq!(
        roads
            .eta(&at(0.0, 500.0), &at(1000.0, 500.0), &fallback)
            .seconds,
        120
    );
}

#[test]
fn a_private_road_is_not_driven() {
    let city = City::default()
        .way(&[(0.0, 0.0), (3000.0, 0.0)], RESIDENTIAL)
        .way(
            &[(0.0, 0.0), (0.0, 1000.0), (3000.0, 1000.0)],
            &[("highway", "service"), ("access", "private")],
        );
    let roads = city.load("private");
    assert!(!roads.on_network(&at(1500.0, 1000.0)));
    let eta = roads.eta(
        &at(1500.0, 1000.0),
        &at(1500.0, 0.0),
        &StraightLine::default(),
    );
    assert_eq!(eta.source, EtaSource::StraightLine);
}

#[test]
fn a_point_far_from_roads_is_off_the_network() {
    let roads = river_city().load("river-off");
    assert!(roads.on_network(&at(0.0, 100.0)));
    assert!(!roads.on_network(&at(0.0, 5000.0)));
    let narrow = river_city().load("river-narrow").with_snap_metres(20.0);
    assert!(!narrow.on_network(&at(0.0, 100.0)));
    let fallback = StraightLine::default();
    let eta = roads.eta(&at(0.0, 5000.0), &at(0.0, 150.0), &fallback);
    assert_eq!(eta.source, EtaSource::StraightLine);
}

#[test]
fn no_route_between_islands_falls_back_to_the_straight_line() {
    let city = City::default()
        .way(&[(0.0, 0.0), (1000.0, 0.0)], RESIDENTIAL)
        .way(&[(0.0, 2000.0), (1000.0, 2000.0)], RESIDENTIAL);
    let roads = city.load("islands");
    let (from, to) = (at(500.0, 0.0), at(500.0, 2000.0));
    assert!(roads.on_network(&from) && roads.on_network(&to));
    let fallback = StraightLine {
        speed_kmh: 20.0,
        detour: 1.4,
    };
    let eta = roads.eta(&from, &to, &fallback);
    assert_eq!(eta.source, EtaSource::StraightLine);
    // 2 km × 1.4 at 20 km/h: 504 s.
    assert!((eta.road_km - 2.8).abs() < 0.01, "{eta:?}");
    assert!((eta.seconds as f64 - 504.0).abs() < 2.0, "{eta:?}");
    assert!(roads.route(&from, &to).is_none());
}

#[test]
fn a_route_passes_the_bridge() {
    let roads = river_city().load("river-route");
    let route = roads
        .route(&at(0.0, 150.0), &at(0.0, -150.0))
        .expect("a route");
    assert!(route.points.len() >= 4);
    let east_most = route
        .points
        .iter()
        .map(|p| p.lng())
        .fold(f64::MIN, f64::max);
    assert!(
        (east_most - at(4000.0, 0.0).lng()).abs() < 1e-6,
        "{route:?}"
    );
}

#[test]
fn prepare_then_load_gives_the_same_etas() {
    let osm = river_city().write("river-prepare");
    let out = osm.with_file_name("river.roads");
    let built = Roads::prepare(&osm, &out).expect("prepare");
    let loaded = Roads::load(&out).expect("load prepared");
    assert_eq!(
        (built.nodes(), built.edges()),
        (loaded.nodes(), loaded.edges())
    );
    let fallback = StraightLine::default();
    for (from, to) in [
        (at(0.0, 150.0), at(0.0, -150.0)),
        (at(800.0, -150.0), at(-2500.0, -150.0)),
        (at(-4200.0, 150.0), at(4900.0, -100.0)),
        (at(0.0, 9000.0), at(0.0, 0.0)),
    ] {
        assert_eq!(
            built.eta(&from, &to, &fallback),
            loaded.eta(&from, &to, &fallback)
        );
    }
}

#[test]
fn bad_files_are_one_clear_error() {
    let one_line = |e: RoadsError| {
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        text
    };
    let missing =
        Roads::load(&std::env::temp_dir().join("no-such-roads.osm.pbf")).expect_err("missing");
    assert!(matches!(missing, RoadsError::Open { .. }), "{missing}");
    one_line(missing);
    let text = write_file("not.osm", b"hello, this is not XML at all");
    assert!(matches!(
        Roads::load(&text),
        Err(RoadsError::Invalid { .. })
    ));
    let html = write_file("page.osm", b"<html><body>no</body></html>");
    assert!(matches!(
        Roads::load(&html),
        Err(RoadsError::Invalid { .. })
    ));
    let pbf = write_file("not.osm.pbf", b"definitely not a protocol buffer blob");
    let err = Roads::load(&pbf).expect_err("not pbf");
    assert!(matches!(err, RoadsError::Invalid { .. }), "{err}");
    one_line(err);
    let paths = City::default().way(&[(0.0, 0.0), (500.0, 0.0)], &[("highway", "footway")]);
    let err = Roads::load(&paths.write("footways")).expect_err("no car roads");
    assert!(matches!(err, RoadsError::NoCarRoads(_)), "{err}");
    assert!(one_line(err).contains("no car roads"));
    let unknown = write_file("roads.txt", b"x");
    assert!(matches!(
        Roads::load(&unknown),
        Err(RoadsError::UnknownKind(_))
    ));
    // A prepared file cut short or altered is refused, never half-read.
    let osm = river_city().write("river-damage");
    let out = osm.with_file_name("damaged.roads");
    Roads::prepare(&osm, &out).expect("prepare");
    let mut bytes = std::fs::read(&out).expect("read");
    let cut = write_file("cut.roads", &bytes[..bytes.len() / 2]);
    assert!(matches!(Roads::load(&cut), Err(RoadsError::Invalid { .. })));
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let flipped = write_file("flipped.roads", &bytes);
    assert!(matches!(
        Roads::load(&flipped),
        Err(RoadsError::Invalid { .. })
    ));
    let foreign = write_file("foreign.roads", b"TRKROADS");
    assert!(matches!(
        Roads::load(&foreign),
        Err(RoadsError::Invalid { .. })
    ));
}
