//! `tracking simulate`'s arguments: the service to drive, the size and pace
//! of the city, how drivers and riders behave, where they are, the roads
//! they drive, the seed, how fast simulated time runs and what the summary
//! leaves out at the start.

use std::time::Duration;

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
    /// A road network (`.osm.pbf`, `.osm`, `.roads`, as the service's
    /// `--roads`): drivers drive road routes at the roads' speeds, riders
    /// request at points on the network, and, without `--areas`, the city
    /// is the roads' box instead of `--center` and `--radius-km`.
    #[arg(long)]
    pub roads: Option<std::path::PathBuf>,
    /// The seed of every random choice (where drivers start and roam, where
    /// riders request and go, answers, cancels): the same seed, the same
    /// choices (default: a random seed, printed at the start).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Count nothing for this long (real time) at the start: the city fills
    /// up first (every driver starts free), then the summary covers the
    /// rest of `--duration`: the rides requested after it, the pickups
    /// arrived at and the drivers' time after it.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub warm_up: Duration,
    /// At the end, wait this long (real time) with the city stopped before
    /// asking what became of its rides (a service matching in windows
    /// gets its last window).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
    /// Simulated time runs this many times faster than the clock: driving,
    /// boarding, answering, cancelling and `--rides-per-minute` are in
    /// simulated time; `--report-every` and `--duration` are real time.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub time_scale: f64,
}

impl Default for SimulateArgs {
    /// The defaults `tracking simulate` runs with.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: SimulateArgs,
        }
        let parsed = <Command as clap::Parser>::try_parse_from(["simulate"]);
        match parsed {
            Ok(command) => command.args,
            // Every flag has a default that parses: unreachable, and loud if not.
            Err(error) => panic!("the simulator's defaults do not parse: {error}"),
        }
    }
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.01..=1000.0).contains(&x) => Ok(x),
        _ => Err("expected a number from 0.01 to 1000".into()),
    }
}

fn parse_point(s: &str) -> Result<Coordinates, String> {
    let (lat, lng) = s.split_once(',').ok_or("expected lat,lng")?;
    let lat = lat.trim().parse().map_err(|_| "bad latitude")?;
    let lng = lng.trim().parse().map_err(|_| "bad longitude")?;
    Coordinates::parse(lat, lng).map_err(|e| e.to_string())
}
