//! `tracking simulate`: a city that moves, through the public GraphQL API
//! (with `tracking-client`, as any integration would).
//!
//! Drivers roam around a centre at city speeds and report every few seconds;
//! each follows its own `driverFeed`. Offered a ride, a driver accepts
//! (with probability `--accept-rate`) after a human pause, or declines, or
//! ignores it; assigned, it drives to the pickup, says it arrived, waits for
//! the rider to board, starts the trip, drives to the dropoff and completes
//! the ride ([`driver`]). Riders request rides at random points with a
//! dropoff, at a steady rate, and some cancel ([`riders`]). It works the
//! same with offers off (drivers are assigned directly). It is the demo (run
//! the service, then this, then open the dashboard) and a load source.

mod driver;
mod riders;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use rand::Rng;
use serde_json::json;
use tokio::time::{interval, sleep, Instant};

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
    /// How long a driver waits at the pickup for its rider to board.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub boarding: Duration,
    /// The share of offers drivers accept; of the rest, half are declined
    /// and half ignored (left to time out).
    #[arg(long, default_value_t = 0.85)]
    pub accept_rate: f64,
    /// Drivers answer an offer after a human pause of a fifth of this to
    /// all of it (1–5 s by default).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub answer_within: Duration,
    /// The share of riders who cancel, at a random moment within twice
    /// `--answer-within` of their request.
    #[arg(long, default_value_t = 0.1)]
    pub cancel_rate: f64,
    /// Driver speed, km/h.
    #[arg(long, default_value_t = 35.0)]
    pub speed_kmh: f64,
    /// Service areas (the service's areas file): drivers roam inside one
    /// each, riders' pickups and dropoffs fall inside them, instead of the
    /// circle of `--center` and `--radius-km`.
    #[arg(long)]
    pub areas: Option<std::path::PathBuf>,
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
    /// Offers the drivers accepted, declined, and ignored.
    pub accepted: u64,
    pub declined: u64,
    pub ignored: u64,
    /// Rides their riders cancelled.
    pub cancelled: u64,
    /// Rides the simulated drivers completed.
    pub completed: u64,
    /// Calls refused with `CONFLICT`: a race the city is full of (a rider
    /// cancels as its driver arrives, an answer comes after the deadline).
    pub conflicts: u64,
    /// Calls that failed otherwise (transport errors, other refusals).
    pub errors: u64,
}

#[derive(Default)]
struct Counters {
    reports: AtomicU64,
    requests: AtomicU64,
    accepted: AtomicU64,
    declined: AtomicU64,
    ignored: AtomicU64,
    cancelled: AtomicU64,
    completed: AtomicU64,
    conflicts: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    fn summary(&self) -> Summary {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Summary {
            reports: n(&self.reports),
            requests: n(&self.requests),
            accepted: n(&self.accepted),
            declined: n(&self.declined),
            ignored: n(&self.ignored),
            cancelled: n(&self.cancelled),
            completed: n(&self.completed),
            conflicts: n(&self.conflicts),
            errors: n(&self.errors),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reports {}  rides requested {}  offers accepted {} declined {} ignored {}  cancelled {}  completed {}  conflicts {}  errors {}",
            self.reports,
            self.requests,
            self.accepted,
            self.declined,
            self.ignored,
            self.cancelled,
            self.completed,
            self.conflicts,
            self.errors
        )
    }
}

#[derive(Clone)]
struct Api {
    client: tracking_client::Client,
    counters: Arc<Counters>,
}

impl Api {
    /// Counts a failed call; the value of one that succeeded.
    fn counted<T>(&self, result: tracking_client::Result<T>) -> Option<T> {
        match &result {
            Err(e) if e.code() == Some("CONFLICT") => {
                self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
        }
        result.ok()
    }

    fn count(&self, counter: impl Fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
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

/// Where simulated drivers roam and riders appear: the circle of
/// `--center` and `--radius-km`, or one service area.
#[derive(Clone)]
enum Region {
    Circle(Coordinates, f64),
    Area(Arc<crate::domain::Area>),
}

impl Region {
    /// The regions of a simulation: its areas, or its circle.
    fn all(args: &SimulateArgs) -> Result<Vec<Region>, String> {
        let Some(path) = &args.areas else {
            return Ok(vec![Region::Circle(args.center, args.radius_km)]);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--areas {}: {e}", path.display()))?;
        let areas = crate::domain::ServiceAreas::from_geojson(&text)
            .map_err(|e| format!("--areas {}: {e}", path.display()))?;
        Ok(areas.all().iter().cloned().map(Region::Area).collect())
    }

    fn contains(&self, at: Coordinates) -> bool {
        match self {
            Self::Circle(center, km) => at.distance_km(center) <= *km,
            Self::Area(area) => area.contains(at),
        }
    }

    /// Somewhere inside (to head back to).
    fn center(&self) -> Coordinates {
        match self {
            Self::Circle(center, _) => *center,
            Self::Area(area) => {
                use geo::Centroid;
                area.shape
                    .centroid()
                    .and_then(|c| Coordinates::parse(c.y(), c.x()).ok())
                    .filter(|c| area.contains(*c))
                    .unwrap_or_else(|| self.random_point())
            }
        }
    }

    fn random_point(&self) -> Coordinates {
        match self {
            Self::Circle(center, km) => random_point(*center, *km),
            Self::Area(area) => {
                use geo::BoundingRect;
                let mut rng = rand::rng();
                let corner = area
                    .shape
                    .0
                    .first()
                    .and_then(|p| p.exterior().0.first())
                    .copied();
                let fallback = corner
                    .and_then(|c| Coordinates::parse(c.y, c.x).ok())
                    .unwrap_or(self.anywhere());
                let Some(rect) = area.shape.bounding_rect() else {
                    return fallback;
                };
                // Points of the box until one is inside (bounded: a thin
                // area falls back to a vertex of its own).
                for _ in 0..200 {
                    let lat = rng.random_range(rect.min().y..=rect.max().y);
                    let lng = rng.random_range(rect.min().x..=rect.max().x);
                    if let Ok(at) = Coordinates::parse(lat, lng) {
                        if area.contains(at) {
                            return at;
                        }
                    }
                }
                fallback
            }
        }
    }

    /// A point that always parses (an area's own vertex fails only for
    /// geometry the areas file's checks refused).
    fn anywhere(&self) -> Coordinates {
        match Coordinates::parse(0.0, 0.0) {
            Ok(origin) => origin,
            Err(_) => self.center(),
        }
    }
}

fn random_point(center: Coordinates, radius_km: f64) -> Coordinates {
    let mut rng = rand::rng();
    let r = radius_km * rng.random::<f64>().sqrt();
    step(center, rng.random_range(0.0..std::f64::consts::TAU), r)
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
    // Any GraphQL answer will do (a service running only trusted documents
    // refuses this one, and that is an answer).
    match api.client.execute("{ __typename }", json!({})).await {
        Ok((_, body)) if body.get("data").is_some() || body.get("errors").is_some() => {}
        _ => return Err(format!("no GraphQL service answers at {}", args.url)),
    }
    let place = match &args.areas {
        Some(path) => format!("in the areas of {}", path.display()),
        None => format!(
            "within {} km of {},{}",
            args.radius_km,
            args.center.lat(),
            args.center.lng()
        ),
    };
    println!(
        "simulating {} drivers and {} rides/min {place} against {}",
        args.drivers, args.rides_per_minute, args.url
    );
    let mut tasks = tokio::task::JoinSet::new();
    let regions = Region::all(&args)?;
    for index in 0..args.drivers {
        let region = regions[index % regions.len()].clone();
        tasks.spawn(driver::drive(api.clone(), args.clone(), region, index));
    }
    tasks.spawn(riders::request_rides(api.clone(), args.clone(), regions));
    let counters = api.counters.clone();
    let started = Instant::now();
    let stats = async {
        let mut every = interval(Duration::from_secs(10));
        every.tick().await;
        loop {
            every.tick().await;
            println!(
                "{:>5}s  {}",
                started.elapsed().as_secs(),
                counters.summary()
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
    let summary = counters.summary();
    println!("done: {summary}");
    Ok(summary)
}
