//! `batched-matching`: does matching a window's rides and drivers together
//! (`--match-window`) bring drivers to riders sooner than greedy matching,
//! and at what cost in waiting? `tracking simulate` (in this process)
//! drives a straight-line city and the generated road city with a fixed
//! seed against a service matching greedily (`--match-window 0s`, the
//! reference) and with windows of 2 s and 5 s, at four demand levels
//! (calibrated against the fleet's capacity, see docs/benchmarks.md).
//! Simulated time runs ×20: the service's window, request timeout and
//! search interval are the simulated ones divided by 20 (a 2 s window is
//! `--match-window 100ms`, the flag's least).

use std::{path::PathBuf, time::Duration};

use serde_json::json;
use test_support::city::Grid;
use tracking::simulate::{SimulateArgs, Summary};

use super::{cities, mib, service, CENTER};
use crate::{
    error::{BenchError, Result},
    procs::{ProcStats, Redis},
    report::Row,
    StoreKind,
};

/// One city's runs.
struct City {
    name: &'static str,
    /// The road network (`None`: straight lines at the simulator's speed).
    roads: Option<PathBuf>,
    /// The one service area drivers and riders keep to (`None`: the circle
    /// of [`RADIUS_KM`] around [`CENTER`], the service's default area).
    area: Option<PathBuf>,
    /// Demand levels: name and rides per simulated minute.
    levels: [(&'static str, f64); 4],
}

/// The seed every run uses (drivers start, roam, riders ask the same).
const SEED: u64 = 2023;
/// Drivers in every run.
const DRIVERS: usize = 100;
/// Simulated time runs this many times faster than the clock (at most 20:
/// a 2 s window must stay within `--match-window`'s least, 100 ms).
const TIME_SCALE: f64 = 20.0;
/// Real time each run lasts (× [`TIME_SCALE`] simulated), of which the
/// first [`WARM_UP`] is not counted (every driver starts free: the city
/// fills up first).
const DURATION: Duration = Duration::from_secs(30);
const WARM_UP: Duration = Duration::from_secs(10);
/// At the end, the service gets this long (real time; 10 s simulated, two
/// 5 s windows) with the city stopped before the rides' fates are asked:
/// a ride asked for in the last window is matched, not "still searching".
const SETTLE: Duration = Duration::from_millis(500);
/// The straight-line city: a disc of this radius around [`CENTER`].
const RADIUS_KM: f64 = 2.0;
/// The road city's area: this square of blocks of the generated city
/// (rows and columns of its 150 m grid), south of its river.
const BLOCKS: (f64, f64, f64) = (10.0, 38.0, 24.0);
/// A ride searches this long (simulated) before it expires.
const REQUEST_TIMEOUT_SECS: f64 = 240.0;
/// A searching ride searches again this often (simulated), when nothing wakes it.
const SEARCH_INTERVAL_SECS: f64 = 10.0;
/// The windows measured against greedy, simulated seconds.
const WINDOWS: [f64; 2] = [2.0, 5.0];
/// Target where a 5 s window helps most: mean pickup this much lower.
const TARGET_GAIN: f64 = 0.05;

pub async fn run(redis: &Redis) -> Result<Vec<Row>> {
    let grid = Grid::city(cities::CITY_SEED);
    let (osm, _) = cities::write_grid(&grid, "city")?;
    let prepared = cities::prepare(&osm, "city").await?;
    let cities = [
        City {
            name: "straight-line city",
            roads: None,
            area: None,
            // Capacity 26 rides/min (docs/benchmarks.md): ×0.5, 0.85, 1, 1.2.
            levels: [
                ("plenty", 13.0),
                ("short of saturation", 22.0),
                ("saturated", 26.0),
                ("1.2× capacity", 31.0),
            ],
        },
        City {
            name: "road city",
            roads: Some(prepared.roads),
            area: Some(write_area(&grid)?),
            // Capacity 25 rides/min.
            levels: [
                ("plenty", 12.0),
                ("short of saturation", 21.0),
                ("saturated", 25.0),
                ("1.2× capacity", 30.0),
            ],
        },
    ];
    let mut rows = Vec::new();
    for city in &cities {
        let mut city_rows = Vec::new();
        for (level, rides_per_minute) in city.levels {
            let (greedy, _, _) = simulate(redis, city, rides_per_minute, 0.0).await?;
            for window in WINDOWS {
                let (batched, flags, stats) =
                    simulate(redis, city, rides_per_minute, window).await?;
                let mut row = row(city, level, rides_per_minute, window, &greedy, &batched);
                row.flags = flags;
                (row.cpu_secs, row.peak_rss_mib) = (stats.cpu_secs, mib(stats.peak_rss_kib));
                city_rows.push((window, gain(&greedy, &batched), greedy, batched, row));
            }
        }
        judge_best(&mut city_rows);
        rows.extend(city_rows.into_iter().map(|(.., row)| row));
    }
    Ok(rows)
}

/// The road city's one area, as a service areas file in the data directory.
fn write_area(grid: &Grid) -> Result<PathBuf> {
    let (row, col, blocks) = BLOCKS;
    let (lat0, lng0) = grid.origin;
    let lat = |r: f64| lat0 + r * grid.spacing_m / 111_195.0;
    let lng = |c: f64| lng0 + c * grid.spacing_m / (111_195.0 * lat0.to_radians().cos());
    let (s, n, w, e) = (lat(row), lat(row + blocks), lng(col), lng(col + blocks));
    let areas = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "centre", "name": "road city centre"},
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
    }]});
    let path = cities::data_dir()?.join("batched-area.geojson");
    std::fs::write(&path, areas.to_string())
        .map_err(|e| BenchError::Process(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// One run: a service matching with `window` (simulated seconds; 0:
/// greedy) and the simulator on it.
async fn simulate(
    redis: &Redis,
    city: &City,
    rides_per_minute: f64,
    window: f64,
) -> Result<(Summary, String, ProcStats)> {
    let scaled = |secs: f64| format!("{}ms", (secs / TIME_SCALE * 1000.0).round());
    let (timeout, interval) = (scaled(REQUEST_TIMEOUT_SECS), scaled(SEARCH_INTERVAL_SECS));
    let window_flag = if window > 0.0 {
        scaled(window)
    } else {
        "0s".into()
    };
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    let (roads, area) = (path(&city.roads), path(&city.area));
    let mut flags = vec![
        // Simulated time runs faster: reports would look like speeding,
        // and come faster than a phone's.
        "--max-speed-kmh",
        "0",
        "--max-update-rate",
        "0",
        "--request-timeout",
        &timeout,
        "--search-interval",
        &interval,
        "--match-window",
        &window_flag,
    ];
    if let Some(roads) = &roads {
        flags.extend(["--roads", roads.as_str()]);
    }
    if let Some(area) = &area {
        flags.extend(["--areas", area.as_str()]);
    }
    let svc = service(StoreKind::Memory, redis, &flags).await?;
    let center = tracking::domain::Coordinates::parse(CENTER.0, CENTER.1)
        .map_err(|e| BenchError::Unexpected(format!("the centre: {e}")))?;
    let args = SimulateArgs {
        url: svc.url.clone(),
        drivers: DRIVERS,
        rides_per_minute,
        report_every: Duration::from_millis(250),
        boarding: Duration::from_secs(15),
        accept_rate: 1.0,
        cancel_rate: 0.0,
        duration: Some(DURATION),
        warm_up: WARM_UP,
        settle: SETTLE,
        center,
        radius_km: RADIUS_KM,
        roads: city.roads.clone(),
        areas: city.area.clone(),
        seed: Some(SEED),
        time_scale: TIME_SCALE,
        ..SimulateArgs::default()
    };
    let summary = tracking::simulate::run(args)
        .await
        .map_err(BenchError::Process)?;
    if summary.requests == 0 || summary.pickups == 0 {
        return Err(BenchError::Unexpected(format!(
            "{}: no ride was picked up: {summary}",
            city.name
        )));
    }
    let mut shown = svc.flags.clone();
    for (full, short) in [(&roads, "city.roads"), (&area, "batched-area.geojson")] {
        if let Some(full) = full {
            shown = shown.replace(full.as_str(), short);
        }
    }
    Ok((summary, shown, svc.stats()))
}

/// How much lower the mean pickup is with the window (a share of greedy's).
fn gain(greedy: &Summary, batched: &Summary) -> f64 {
    1.0 - batched.pickup_mean_secs / greedy.pickup_mean_secs.max(1e-9)
}

fn figures(s: &Summary) -> String {
    format!(
        "pickup mean {:.0} s, p90 {:.0} s ({} pickups); request to match p50 {:.0} s, p90 {:.0} s; matched {} of {}, expired {}, searching {}; drivers idle {:.0} %",
        s.pickup_mean_secs,
        s.pickup_p90_secs,
        s.pickups,
        s.match_p50_secs,
        s.match_p90_secs,
        s.matched,
        s.requests,
        s.expired,
        s.searching,
        s.idle_share * 100.0
    )
}

/// Rounded to a tenth, without "-0".
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0 + 0.0
}

/// No worse than greedy: p90 time to match within greedy's + the window,
/// rides matched not fewer.
fn no_worse(window: f64, greedy: &Summary, batched: &Summary) -> bool {
    batched.match_p90_secs <= greedy.match_p90_secs + window && batched.matched >= greedy.matched
}

fn row(
    city: &City,
    level: &str,
    rides_per_minute: f64,
    window: f64,
    greedy: &Summary,
    batched: &Summary,
) -> Row {
    Row {
        scenario: "batched-matching",
        store: StoreKind::Memory,
        flags: String::new(),
        measured: format!(
            "{}, {level} ({DRIVERS} drivers, {rides_per_minute} rides/min, time ×{TIME_SCALE}, {} s after {} s of warm-up): window {window} s: {}",
            city.name,
            (DURATION - WARM_UP).as_secs(),
            WARM_UP.as_secs(),
            figures(batched)
        ),
        reference: format!("greedy (`--match-window 0s`): {}", figures(greedy)),
        result: format!(
            "mean pickup {:+.1} % ({:+.0} s), p90 {:+.0} s; match p90 {:+.0} s; matched {:+}, expired {:+}; idle {:+.1} pts",
            tenth(-gain(greedy, batched) * 100.0),
            (batched.pickup_mean_secs - greedy.pickup_mean_secs).round() + 0.0,
            (batched.pickup_p90_secs - greedy.pickup_p90_secs).round() + 0.0,
            (batched.match_p90_secs - greedy.match_p90_secs).round() + 0.0,
            batched.matched as i64 - greedy.matched as i64,
            batched.expired as i64 - greedy.expired as i64,
            tenth((batched.idle_share - greedy.idle_share) * 100.0),
        ),
        target: format!("no worse than greedy: match p90 ≤ greedy's + {window} s, matched not lower"),
        met: Some(no_worse(window, greedy, batched)),
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    }
}

/// The 5 s row of the level where the window helps most (the largest mean
/// pickup gain) is also judged on the gain.
fn judge_best(rows: &mut [(f64, f64, Summary, Summary, Row)]) {
    let best = rows
        .iter_mut()
        .filter(|(window, ..)| *window == 5.0)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((window, gain, greedy, batched, row)) = best {
        row.target = format!(
            "{}; where W = 5 s helps most: mean pickup ≥ {:.0} % lower",
            row.target,
            TARGET_GAIN * 100.0
        );
        row.met = Some(no_worse(*window, greedy, batched) && *gain >= TARGET_GAIN);
    }
}
