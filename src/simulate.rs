//! `tracking simulate`: a city that moves, through the public GraphQL API.
//!
//! Drivers roam around a centre at city speeds and report every few seconds.
//! A driver that finds itself ASSIGNED drives to the pickup, waits there for
//! the length of a trip, and completes the ride. Riders request rides at
//! random points at a steady rate. It is the demo (run the service, then
//! this, then open the dashboard) and a load source for benchmarks.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use rand::Rng;
use serde_json::json;
use tokio::time::{interval, sleep, Instant, MissedTickBehavior};
use tracking_client::{Driver, DriverStatus};

use crate::domain::Coordinates;

/// What to simulate.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The service to drive.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// A dispatcher token, when the service verifies tokens.
    #[arg(long, env = "TRACKING_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// How many drivers.
    #[arg(long, default_value_t = 100)]
    pub drivers: usize,
    /// Ride requests per minute.
    #[arg(long, default_value_t = 20.0)]
    pub rides_per_minute: f64,
    /// Centre of the city, `lat,lng` (Santiago by default, as in the seed).
    #[arg(long, default_value = "-33.4489,-70.6693", value_parser = parse_point)]
    pub center: Coordinates,
    /// How far from the centre drivers roam and riders appear, in km.
    #[arg(long, default_value_t = 6.0)]
    pub radius_km: f64,
    /// How often each driver reports its position.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub report_every: Duration,
    /// How long a driver spends at a pickup before completing the ride.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub trip: Duration,
    /// Driver speed, km/h.
    #[arg(long, default_value_t = 35.0)]
    pub speed_kmh: f64,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
}

fn parse_point(s: &str) -> Result<Coordinates, String> {
    let (lat, lng) = s.split_once(',').ok_or("expected lat,lng")?;
    let lat = lat.trim().parse().map_err(|_| "bad latitude")?;
    let lng = lng.trim().parse().map_err(|_| "bad longitude")?;
    Coordinates::parse(lat, lng).map_err(|e| e.to_string())
}

/// What a simulation did, as counted by the simulator itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Position reports sent.
    pub reports: u64,
    /// Rides requested.
    pub requests: u64,
    /// Rides the simulated drivers completed.
    pub completed: u64,
    /// Calls that failed (transport errors or GraphQL errors).
    pub errors: u64,
}

#[derive(Default)]
struct Counters {
    reports: AtomicU64,
    requests: AtomicU64,
    completed: AtomicU64,
    errors: AtomicU64,
}

#[derive(Clone)]
struct Api {
    client: tracking_client::Client,
    counters: Arc<Counters>,
}

impl Api {
    /// Counts a failed call; the value of one that succeeded.
    fn counted<T>(&self, result: tracking_client::Result<T>) -> Option<T> {
        if result.is_err() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        result.ok()
    }
}

/// Moves a point `km` along `heading` (radians from north).
fn step(from: Coordinates, heading: f64, km: f64) -> Coordinates {
    let dlat = km * heading.cos() / 111.2;
    let dlng = km * heading.sin() / (111.2 * from.lat().to_radians().cos().max(0.01));
    Coordinates::parse(from.lat() + dlat, from.lng() + dlng).unwrap_or(from)
}

/// The heading from `a` to `b`, radians from north.
fn heading_to(a: Coordinates, b: Coordinates) -> f64 {
    let dy = b.lat() - a.lat();
    let dx = (b.lng() - a.lng()) * a.lat().to_radians().cos();
    dx.atan2(dy)
}

fn random_point(center: Coordinates, radius_km: f64) -> Coordinates {
    let mut rng = rand::rng();
    let r = radius_km * rng.random::<f64>().sqrt();
    step(center, rng.random_range(0.0..std::f64::consts::TAU), r)
}

async fn drive(api: Api, args: SimulateArgs, index: usize) {
    let id = format!("sim-{index}");
    let mut at = random_point(args.center, args.radius_km);
    let mut heading = rand::rng().random_range(0.0..std::f64::consts::TAU);
    let km_per_report = args.speed_kmh * args.report_every.as_secs_f64() / 3600.0;
    // Spread the first reports over one interval.
    let spread = rand::rng().random::<f64>();
    sleep(args.report_every.mul_f64(spread)).await;
    let mut tick = interval(args.report_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pickup: Option<(String, Coordinates)> = None;
    loop {
        tick.tick().await;
        match &pickup {
            Some((ride, target)) => {
                if at.distance_km(target) <= km_per_report {
                    at = *target;
                    report(&api, &id, at).await;
                    sleep(args.trip).await;
                    let done = api.client.complete_ride(ride).await;
                    if api.counted(done).is_some() {
                        api.counters.completed.fetch_add(1, Ordering::Relaxed);
                    }
                    pickup = None;
                    continue;
                }
                at = step(at, heading_to(at, *target), km_per_report);
            }
            None => {
                let turn = rand::rng().random_range(-0.5..0.5);
                heading += turn;
                if at.distance_km(&args.center) > args.radius_km {
                    heading = heading_to(at, args.center);
                }
                at = step(at, heading, km_per_report);
            }
        }
        let Some(driver) = report(&api, &id, at).await else {
            continue;
        };
        if pickup.is_none() && driver.status == DriverStatus::Assigned {
            if let Some(ride) = driver.ride_id {
                let found = api.client.ride(&ride).await;
                let target = api
                    .counted(found)
                    .flatten()
                    .and_then(|ride| Coordinates::parse(ride.pickup.lat, ride.pickup.lng).ok());
                if let Some(target) = target {
                    pickup = Some((ride, target));
                }
            }
        }
    }
}

async fn report(api: &Api, id: &str, at: Coordinates) -> Option<Driver> {
    api.counters.reports.fetch_add(1, Ordering::Relaxed);
    let driver = api.client.update_location(id, at.lat(), at.lng()).await;
    api.counted(driver)
}

async fn ride_requests(api: Api, args: SimulateArgs) {
    if args.rides_per_minute <= 0.0 {
        return std::future::pending().await;
    }
    let mut tick = interval(Duration::from_secs_f64(60.0 / args.rides_per_minute));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        tick.tick().await;
        n += 1;
        let at = random_point(args.center, args.radius_km);
        api.counters.requests.fetch_add(1, Ordering::Relaxed);
        let ride = api
            .client
            .request_driver(&format!("sim-rider-{n}"), at.lat(), at.lng())
            .await;
        api.counted(ride);
    }
}

/// Runs the simulation until `duration` passes or Ctrl-C.
pub async fn run(args: SimulateArgs) -> Result<Summary, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let client = tracking_client::Client::with_http(args.url.clone(), http);
    let client = match &args.token {
        Some(token) => client.with_token(token.clone()),
        None => client,
    };
    let api = Api {
        client,
        counters: Arc::default(),
    };
    if api.client.data("{ __typename }", json!({})).await.is_err() {
        return Err(format!("no GraphQL service answers at {}", args.url));
    }
    println!(
        "simulating {} drivers and {} rides/min within {} km of {},{} against {}",
        args.drivers,
        args.rides_per_minute,
        args.radius_km,
        args.center.lat(),
        args.center.lng(),
        args.url
    );
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..args.drivers {
        tasks.spawn(drive(api.clone(), args.clone(), index));
    }
    tasks.spawn(ride_requests(api.clone(), args.clone()));
    let counters = api.counters.clone();
    let started = Instant::now();
    let stats = async {
        let mut every = interval(Duration::from_secs(10));
        every.tick().await;
        loop {
            every.tick().await;
            println!(
                "{:>5}s  reports {}  rides requested {}  completed {}  errors {}",
                started.elapsed().as_secs(),
                counters.reports.load(Ordering::Relaxed),
                counters.requests.load(Ordering::Relaxed),
                counters.completed.load(Ordering::Relaxed),
                counters.errors.load(Ordering::Relaxed),
            );
        }
    };
    let until = async {
        match args.duration {
            Some(d) => sleep(d).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::select! {
        _ = until => {}
        _ = stats => {}
    }
    tasks.shutdown().await;
    let summary = Summary {
        reports: counters.reports.load(Ordering::Relaxed),
        requests: counters.requests.load(Ordering::Relaxed),
        completed: counters.completed.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
    };
    println!(
        "done: reports {}  rides requested {}  completed {}  errors {}",
        summary.reports, summary.requests, summary.completed, summary.errors,
    );
    Ok(summary)
}
