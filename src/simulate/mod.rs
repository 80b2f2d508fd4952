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
//! the service, then this, then open the dashboard), a load source, and the
//! `eta-ranking` benchmark's city.
//!
//! With `--roads` drivers drive road routes at the roads' speeds and riders
//! request at points on the network ([`streets`]; the roads are loaded here
//! with `crate::roads`, the service's own may differ or be absent). With
//! `--seed` its random choices repeat; `--time-scale` runs simulated time
//! faster than the clock. At the end it asks the service what became of
//! every ride it requested, and reports pickup times as driven, the time
//! from request to match (the service's `matchedAt - createdAt`) and the
//! drivers' idle share (the time they spent free, as they lived it); with
//! `--warm-up`, of what happened after the city filled up.

mod api;
mod args;
mod driver;
mod region;
mod riders;
mod streets;

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use tokio::time::{interval, sleep, Instant};

use api::Api;
pub use api::Summary;
pub use args::SimulateArgs;
use region::Region;
use streets::Streets;

/// How long the end of a run may spend asking what became of its rides.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);

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
    let roads = match &args.roads {
        Some(path) => {
            let path = path.clone();
            let loaded = tokio::task::spawn_blocking(move || crate::roads::Roads::load(&path))
                .await
                .map_err(|e| format!("loading the roads stopped: {e}"))?
                .map_err(|e| e.to_string())?;
            Some(Arc::new(loaded))
        }
        None => None,
    };
    let streets = Streets {
        roads: roads.clone(),
        speed_kmh: args.speed_kmh,
    };
    let roads_box = roads.as_ref().and_then(|r| r.bounds());
    let place = match (&args.roads, &args.areas) {
        (Some(path), None) => format!("on the roads of {}", path.display()),
        (Some(path), Some(_)) => format!("{place}, on the roads of {}", path.display()),
        _ => place,
    };
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    println!(
        "simulating {} drivers and {} rides/min {place} against {} (seed {seed}, time ×{})",
        args.drivers, args.rides_per_minute, args.url, args.time_scale
    );
    if !args.warm_up.is_zero() {
        let _ = api
            .counters
            .counting_from
            .set(Instant::now() + args.warm_up);
    }
    let mut tasks = tokio::task::JoinSet::new();
    let regions = Region::all(&args, roads_box)?;
    for index in 0..args.drivers {
        let region = regions[index % regions.len()].clone();
        let rng = StdRng::seed_from_u64(seed.wrapping_add(1 + index as u64));
        let driver = driver::Driver::new(
            api.clone(),
            args.clone(),
            streets.clone(),
            region,
            index,
            rng,
        );
        tasks.spawn(driver.drive());
    }
    let rng = StdRng::seed_from_u64(seed ^ 0x7269_6465_7273);
    tasks.spawn(riders::request_rides(
        api.clone(),
        args.clone(),
        streets,
        regions,
        rng,
    ));
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
    sleep(args.settle).await;
    let mut summary = counters.summary();
    summary.seed = seed;
    settle(&api, &mut summary, args.time_scale).await;
    println!("done: {summary}");
    println!(
        "rides: matched {} (request to match p50 {:.0} s, p90 {:.0} s)  expired {}  still searching {}  legs off the roads {}",
        summary.matched,
        summary.match_p50_secs,
        summary.match_p90_secs,
        summary.expired,
        summary.searching,
        summary.off_road
    );
    Ok(summary)
}

/// What the end of a run asks of each ride (the typed client's ride has
/// no `matchedAt`).
const FATE: &str = "query($id: ID!) { ride(id: $id) { status driverId createdAt matchedAt } }";

/// Asks the service what became of each ride requested: matched (it got a
/// driver, and how long after its request, in simulated seconds), expired,
/// or still searching.
async fn settle(api: &Api, summary: &mut Summary, time_scale: f64) {
    let rides = api
        .counters
        .rides
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    let mut waits = Vec::new();
    let asked = futures_util::stream::iter(rides)
        .map(|id| async move { api.client.execute(FATE, json!({ "id": id })).await })
        .buffer_unordered(8)
        .for_each(|answer| {
            let ride = api
                .counted(answer)
                .and_then(|(_, mut body)| body.pointer_mut("/data/ride").map(|r| r.take()));
            let text = |ride: &serde_json::Value, field: &str| {
                ride.get(field).and_then(|v| v.as_str()).map(str::to_owned)
            };
            match ride.filter(|r| r.is_object()) {
                None => api.count(|c| &c.errors),
                Some(ride) => match text(&ride, "status").as_deref() {
                    Some("EXPIRED") => summary.expired += 1,
                    Some("SEARCHING") => summary.searching += 1,
                    _ if text(&ride, "driverId").is_some() => {
                        summary.matched += 1;
                        let at = |field| {
                            text(&ride, field)
                                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                        };
                        if let (Some(created), Some(matched)) = (at("createdAt"), at("matchedAt")) {
                            let real = (matched - created).num_milliseconds() as f64 / 1000.0;
                            waits.push(real.max(0.0) * time_scale);
                        }
                    }
                    _ => {}
                },
            }
            std::future::ready(())
        });
    if tokio::time::timeout(SETTLE_WITHIN, asked).await.is_err() {
        eprintln!("tracking simulate: not every ride's fate was read within {SETTLE_WITHIN:?}");
    }
    (summary.match_p50_secs, summary.match_p90_secs) = api::p50_p90(waits);
}
