//! The `events` scenario's load: rides requested at a steady rate, each
//! taken through every phase by GraphQL mutations through the service —
//! request, match (the nearest of the drivers placed beforehand, learnt from
//! one `fleet` subscription), the driver's report at the pickup (its
//! DRIVER_APPROACHING), arrive, start, complete (which frees the driver).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use serde_json::{json, Value};
use tokio::{sync::oneshot, task::JoinSet};

use super::{point, BATCH, CENTER, REQUEST, UPDATE};
use crate::{
    client::{gql, next_data, subscribe},
    error::{BenchError, Result},
};

/// Drivers placed before the rides start (about ten per km² of the city).
pub const DRIVERS: usize = 2000;
/// Rides in flight at most (past it the rate drops, and the row says so).
const IN_FLIGHT: usize = 2000;
/// How long a ride waits for its match before it counts as failed.
const MATCH_WAIT: Duration = Duration::from_secs(15);
/// The city's radius, km: drivers and pickups are spread over it.
const CITY_KM: f64 = 8.0;

const FLEET: &str = "subscription($lat: Float!, $lng: Float!) { fleet(lat: $lat, lng: $lng, radiusKm: 30) { kind rides { id status driverId } } }";
const ARRIVED: &str = "mutation($id: ID!) { driverArrived(rideId: $id) { status } }";
const START: &str = "mutation($id: ID!) { startTrip(rideId: $id) { status } }";
const COMPLETE: &str = "mutation($id: ID!) { completeRide(rideId: $id) { status } }";

/// Places the drivers (each one's DRIVER_AVAILABLE is in the log too).
pub async fn place_drivers(http: &reqwest::Client, url: &str) -> Result<()> {
    for first in (0..DRIVERS).step_by(1000) {
        let updates: Vec<Value> = (first..(first + 1000).min(DRIVERS))
            .map(|d| {
                let (lat, lng) = point(30_000_000 + d as u64, CITY_KM);
                json!({"driverId": format!("ev-d{d}"), "lat": lat, "lng": lng})
            })
            .collect();
        let expected = updates.len() as u64;
        let answer = gql(http, url, BATCH, json!({"u": updates})).await?;
        if answer["updateLocations"]["accepted"].as_u64() != Some(expected) {
            return Err(BenchError::Unexpected(format!(
                "the drivers were not all placed: {answer}"
            )));
        }
    }
    Ok(())
}

/// A ride's match, as the fleet subscription and the ride's task meet.
enum Slot {
    Waiting(oneshot::Sender<String>),
    Found(String),
}

type Matches = Arc<Mutex<HashMap<String, Slot>>>;

fn lock(matches: &Matches) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
    matches.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the rides did.
#[derive(Debug, Default)]
pub struct Counts {
    pub requested: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counts {
    fn fail(&self, error: &BenchError) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        first.get_or_insert_with(|| error.to_string());
    }

    /// The first failure, if any.
    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The rides being requested; [`Load::stop`] ends them.
pub struct Load {
    stop: Arc<AtomicBool>,
    pub counts: Arc<Counts>,
    requester: tokio::task::JoinHandle<()>,
    listener: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Starts `per_sec` rides a second on the service at `url`.
    pub async fn start(url: &str, ws_url: &str, per_sec: u64) -> Result<Self> {
        let matches = Matches::default();
        let counts = Arc::new(Counts::default());
        let mut fleet = subscribe(ws_url, FLEET, json!({"lat": CENTER.0, "lng": CENTER.1})).await?;
        let listener = {
            let (matches, counts) = (matches.clone(), counts.clone());
            tokio::spawn(async move {
                loop {
                    let data = match next_data(&mut fleet).await {
                        Ok(data) => data,
                        Err(error) => return counts.fail(&error),
                    };
                    let rides = data["fleet"]["rides"].as_array().cloned();
                    for ride in rides.into_iter().flatten() {
                        let (Some(id), Some(driver)) =
                            (ride["id"].as_str(), ride["driverId"].as_str())
                        else {
                            continue;
                        };
                        if ride["status"] != "DRIVER_FOUND" {
                            continue;
                        }
                        let mut waiting = lock(&matches);
                        match waiting.remove(id) {
                            Some(Slot::Waiting(tx)) => {
                                let _ = tx.send(driver.to_owned());
                            }
                            _ => {
                                waiting.insert(id.to_owned(), Slot::Found(driver.to_owned()));
                            }
                        }
                    }
                }
            })
        };
        let stop = Arc::new(AtomicBool::new(false));
        let requester = {
            let (stop, counts, url) = (stop.clone(), counts.clone(), url.to_owned());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut rides = JoinSet::new();
                let mut tick = tokio::time::interval(Duration::from_secs(1) / per_sec as u32);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    while rides.try_join_next().is_some() {}
                    if rides.len() >= IN_FLIGHT {
                        continue;
                    }
                    n += 1;
                    counts.requested.fetch_add(1, Ordering::Relaxed);
                    let (http, url, matches, counts) =
                        (http.clone(), url.clone(), matches.clone(), counts.clone());
                    rides.spawn(async move {
                        match ride(&http, &url, &matches, n).await {
                            Ok(()) => {
                                counts.completed.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(error) => counts.fail(&error),
                        }
                    });
                }
                while rides.join_next().await.is_some() {}
            })
        };
        Ok(Self {
            stop,
            counts,
            requester,
            listener,
        })
    }

    /// Requests no more rides and waits for those under way to end.
    pub async fn stop(self) -> Arc<Counts> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.requester.await;
        self.listener.abort();
        self.counts
    }
}

/// Ride `n` through every phase.
async fn ride(http: &reqwest::Client, url: &str, matches: &Matches, n: u64) -> Result<()> {
    let (lat, lng) = point(40_000_000 + n, CITY_KM);
    let made = gql(
        http,
        url,
        REQUEST,
        json!({"r": format!("ev-r{n}"), "lat": lat, "lng": lng}),
    )
    .await?;
    let id = made["requestDriver"]["id"]
        .as_str()
        .ok_or_else(|| BenchError::Unexpected(format!("ride {n} was not created: {made}")))?
        .to_owned();
    let (tx, rx) = oneshot::channel();
    let found = {
        let mut waiting = lock(matches);
        match waiting.remove(&id) {
            Some(Slot::Found(driver)) => Some(driver),
            _ => {
                waiting.insert(id.clone(), Slot::Waiting(tx));
                None
            }
        }
    };
    let driver = match found {
        Some(driver) => driver,
        None => match tokio::time::timeout(MATCH_WAIT, rx).await {
            Ok(Ok(driver)) => driver,
            _ => {
                lock(matches).remove(&id);
                return Err(BenchError::Unexpected(format!(
                    "ride {id} was not matched within {MATCH_WAIT:?}"
                )));
            }
        },
    };
    gql(
        http,
        url,
        UPDATE,
        json!({"d": driver, "lat": lat, "lng": lng}),
    )
    .await?;
    for phase in [ARRIVED, START, COMPLETE] {
        gql(http, url, phase, json!({"id": id})).await?;
    }
    Ok(())
}
