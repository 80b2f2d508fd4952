//! The scenarios, one file each, each measured against its reference in the
//! same run.

pub mod areas;
pub mod batched_matching;
pub mod cities;
pub mod dashboard_fps;
pub mod eta_cost;
pub mod eta_ranking;
pub mod event_rides;
pub mod event_sinks;
pub mod events;
pub mod fleet_feed;
pub mod ingest;
pub mod ingest_batch;
pub mod mqtt_ingest;
pub mod offers;
pub mod report_cost;
pub mod roads_load;
pub mod search;
pub mod searching_load;
pub mod soak;
pub mod subscribers;
pub mod time_to_match;
pub mod validation;

use futures_util::{StreamExt, TryStreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;

use crate::{
    client::gql,
    error::{BenchError, Result},
    procs::Redis,
    procs::Service,
    StoreKind,
};

/// The city the scenarios happen in (Santiago, as in the seed).
pub const CENTER: (f64, f64) = (-33.4489, -70.6693);
pub const UPDATE: &str = "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }";
pub const BATCH: &str =
    "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }";
pub const REQUEST: &str = "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }";
pub const RIDE_STATUS: &str = "subscription($id: ID!) { rideStatus(rideId: $id) { status } }";

/// The limits most scenarios relax, and why: they teleport drivers between
/// random points (the speed check would refuse that), report faster than a
/// phone would (the rate limit), and send large batches (complexity). Every
/// row says which flags its service ran with; `ingest` also runs with none.
pub const RELAXED: &[&str] = &[
    "--max-update-rate",
    "0",
    "--max-speed-kmh",
    "0",
    "--max-complexity",
    "100000",
    "--max-depth",
    "20",
];

/// A point within `km` of the centre, the same for the same `seed`.
pub fn point(seed: u64, km: f64) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let r = km * rng.random::<f64>().sqrt();
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    let lat = CENTER.0 + r * a.cos() / 111.2;
    let lng = CENTER.1 + r * a.sin() / (111.2 * CENTER.0.to_radians().cos());
    (lat, lng)
}

/// The service for a scenario, on its store.
pub async fn service(store: StoreKind, redis: &Redis, flags: &[&str]) -> Result<Service> {
    let url = redis.url();
    let store_args: &[&str] = match store {
        StoreKind::Redis => &["--redis-url", url.as_str()],
        _ => &[],
    };
    Service::start(store_args, flags).await
}

/// Requests `count` rides, `at_once` at a time (1: one after another), ride
/// `i` for the rider `<rider>{i}` at `at(i)`; their ids, in the order asked.
/// A ride the service did not create fails the scenario.
pub async fn request_rides(
    url: &str,
    rider: &str,
    count: usize,
    at_once: usize,
    at: impl Fn(usize) -> (f64, f64),
) -> Result<Vec<String>> {
    let http = reqwest::Client::new();
    futures_util::stream::iter(0..count)
        .map(|i| {
            let (lat, lng) = at(i);
            let http = &http;
            async move {
                let ride = gql(
                    http,
                    url,
                    REQUEST,
                    json!({"r": format!("{rider}{i}"), "lat": lat, "lng": lng}),
                )
                .await?;
                ride["requestDriver"]["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        BenchError::Unexpected(format!("ride {i} was not created: {ride}"))
                    })
            }
        })
        .buffered(at_once.max(1))
        .try_collect()
        .await
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
