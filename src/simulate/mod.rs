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

mod api;
mod args;
mod driver;
mod region;
mod riders;

use std::{sync::Arc, time::Duration};

use serde_json::json;
use tokio::time::{interval, sleep, Instant};

use api::Api;
pub use api::Summary;
pub use args::SimulateArgs;
use region::Region;

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
