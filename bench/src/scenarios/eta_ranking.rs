//! `eta-ranking`: does ranking drivers by road time bring them to riders
//! sooner? `tracking simulate --roads` (in this process) drives a city by
//! road with a fixed seed against a service started without `--roads`
//! (straight-line ranking, the reference) and then with it (ETA ranking),
//! at three demand levels, on the generated ~15 km city and on Helsinki.
//! Pickup time is as driven in the simulator: road seconds from the driver
//! hearing of its ride to its arrival at the pickup. Simulated time runs
//! faster than the clock (`--time-scale`), and the service's request
//! timeout and search interval are scaled with it.

use std::{path::PathBuf, time::Duration};

use test_support::city::Grid;
use tracking::simulate::{SimulateArgs, Summary};

use super::{cities, mib, service};
use crate::{
    error::{BenchError, Result},
    procs::{ProcStats, Redis},
    report::Row,
    StoreKind,
};

/// One city's runs.
struct City {
    name: &'static str,
    roads: PathBuf,
    drivers: usize,
    /// Demand levels: name and rides per simulated minute.
    levels: [(&'static str, f64); 3],
    time_scale: f64,
    /// Real time each run lasts.
    duration: Duration,
}

/// The seed every run uses (drivers start, roam, riders ask the same).
const SEED: u64 = 2022;
/// A ride searches this long (simulated) before it expires.
const REQUEST_TIMEOUT_SECS: f64 = 240.0;
/// A searching ride searches again this often (simulated), when nothing wakes it.
const SEARCH_INTERVAL_SECS: f64 = 10.0;
/// Target at the balanced level of the generated city: mean pickup time
/// this much lower with ETA ranking, rides matched not fewer.
const TARGET_GAIN: f64 = 0.10;

pub async fn run(redis: &Redis) -> Result<Vec<Row>> {
    let (osm, _) = cities::write_grid(&Grid::city(cities::CITY_SEED), "city")?;
    let city = cities::prepare(&osm, "city").await?;
    let helsinki = cities::prepare(&cities::helsinki()?, "helsinki").await?;
    let cities = [
        City {
            name: "generated city",
            roads: city.roads,
            drivers: 100,
            levels: [("plenty", 2.0), ("balanced", 6.0), ("scarce", 10.0)],
            time_scale: 60.0,
            duration: Duration::from_secs(30),
        },
        City {
            name: "Helsinki",
            roads: helsinki.roads,
            drivers: 25,
            levels: [("plenty", 3.0), ("balanced", 7.0), ("scarce", 14.0)],
            time_scale: 30.0,
            duration: Duration::from_secs(20),
        },
    ];
    let mut rows = Vec::new();
    for city in &cities {
        for (level, rides_per_minute) in city.levels {
            let (straight, _, _) = simulate(redis, city, rides_per_minute, false).await?;
            let (eta, flags, stats) = simulate(redis, city, rides_per_minute, true).await?;
            let mut row = row(city, level, rides_per_minute, &straight, &eta, flags);
            (row.cpu_secs, row.peak_rss_mib) = (stats.cpu_secs, mib(stats.peak_rss_kib));
            rows.push(row);
        }
    }
    Ok(rows)
}

/// One run: a service (with `--roads` for ETA ranking) and the simulator on it.
async fn simulate(
    redis: &Redis,
    city: &City,
    rides_per_minute: f64,
    with_roads: bool,
) -> Result<(Summary, String, ProcStats)> {
    let scaled = |secs: f64| format!("{}ms", (secs / city.time_scale * 1000.0).round().max(50.0));
    let (timeout, interval) = (scaled(REQUEST_TIMEOUT_SECS), scaled(SEARCH_INTERVAL_SECS));
    let roads = city.roads.to_string_lossy().into_owned();
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
    ];
    if with_roads {
        flags.extend(["--roads", roads.as_str()]);
    }
    let svc = service(StoreKind::Memory, redis, &flags).await?;
    let args = SimulateArgs {
        url: svc.url.clone(),
        drivers: city.drivers,
        rides_per_minute,
        report_every: Duration::from_millis(250),
        boarding: Duration::from_secs(30),
        accept_rate: 1.0,
        cancel_rate: 0.0,
        duration: Some(city.duration),
        roads: Some(city.roads.clone()),
        seed: Some(SEED),
        time_scale: city.time_scale,
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
    let shown = svc
        .flags
        .replace(&roads, &format!("{}.roads", short(city.name)));
    Ok((summary, shown, svc.stats()))
}

fn short(name: &str) -> &'static str {
    if name == "Helsinki" {
        "helsinki"
    } else {
        "city"
    }
}

fn figures(s: &Summary) -> String {
    format!(
        "pickup mean {:.0} s, p90 {:.0} s ({} pickups); matched {} of {}, expired {}",
        s.pickup_mean_secs, s.pickup_p90_secs, s.pickups, s.matched, s.requests, s.expired
    )
}

fn row(
    city: &City,
    level: &str,
    rides_per_minute: f64,
    straight: &Summary,
    eta: &Summary,
    flags: String,
) -> Row {
    let gain = 1.0 - eta.pickup_mean_secs / straight.pickup_mean_secs.max(1e-9);
    let judged = city.name == "generated city" && level == "balanced";
    Row {
        scenario: "eta-ranking",
        store: StoreKind::Memory,
        flags,
        measured: format!(
            "{}, {level} ({} drivers, {rides_per_minute} rides/min, time ×{}, {} s): ETA ranking: {}",
            city.name,
            city.drivers,
            city.time_scale,
            city.duration.as_secs(),
            figures(eta)
        ),
        reference: format!("straight-line ranking (no `--roads`): {}", figures(straight)),
        result: format!(
            "mean pickup {:+.1} % ({:+.0} s), p90 {:+.0} s, matched {:+}",
            // (Rounded, then + 0.0: no "-0".)
            (-gain * 1000.0).round() / 10.0 + 0.0,
            (eta.pickup_mean_secs - straight.pickup_mean_secs).round() + 0.0,
            (eta.pickup_p90_secs - straight.pickup_p90_secs).round() + 0.0,
            eta.matched as i64 - straight.matched as i64
        ),
        target: if judged {
            format!(
                "mean ≥ {:.0} % lower, matched not lower",
                TARGET_GAIN * 100.0
            )
        } else {
            "reported".into()
        },
        met: judged.then_some(gain >= TARGET_GAIN && eta.matched >= straight.matched),
        cpu_secs: f64::NAN,
        peak_rss_mib: f64::NAN,
    }
}
