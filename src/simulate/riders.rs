//! The riders: rides requested at random points (on the network with
//! `--roads`), with a dropoff, at a steady rate; some cancelled a little
//! later. Every ride's id is kept for the summary.

use std::time::Duration;

use rand::{rngs::StdRng, Rng};
use tokio::time::{interval, sleep, MissedTickBehavior};
use tracking_client::Location;

use super::{
    api::{Api, Counters},
    args::SimulateArgs,
    region::Region,
    streets::Streets,
};

pub(super) async fn request_rides(
    api: Api,
    args: SimulateArgs,
    streets: Streets,
    regions: Vec<Region>,
    mut rng: StdRng,
) {
    if args.rides_per_minute <= 0.0 {
        return std::future::pending().await;
    }
    // Per minute of simulated time.
    let every = 60.0 / (args.rides_per_minute * args.time_scale);
    let mut tick = interval(Duration::from_secs_f64(every));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Cancels to come; aborted with this task.
    let mut cancels = tokio::task::JoinSet::new();
    let mut n = 0u64;
    loop {
        tick.tick().await;
        while cancels.try_join_next().is_some() {}
        n += 1;
        let region = &regions[(n as usize) % regions.len().max(1)];
        // Drawn before any call, so the same seed asks for the same rides.
        let points = streets.random_pair(region, &mut rng);
        let cancel = rng.random::<f64>() < args.cancel_rate;
        let after = (args.answer_within * 2)
            .mul_f64(rng.random::<f64>())
            .div_f64(args.time_scale);
        let Some((pickup, dropoff)) = points else {
            api.count(|c| &c.errors);
            continue;
        };
        // Rides asked for in the warm-up are not counted (nor asked after).
        let counted = api.counters.counting();
        let ride = api
            .client
            .request_driver_to(
                &format!("sim-rider-{n}"),
                Location {
                    lat: pickup.lat(),
                    lng: pickup.lng(),
                },
                Location {
                    lat: dropoff.lat(),
                    lng: dropoff.lng(),
                },
            )
            .await;
        let Some(ride) = api.counted(ride) else {
            continue;
        };
        // Counted once created (a request cut short by the end is not).
        if counted {
            api.count(|c| &c.requests);
            Counters::keep(&api.counters.rides, ride.id.clone());
        }
        if cancel {
            let api = api.clone();
            cancels.spawn(async move {
                sleep(after).await;
                if api
                    .counted(api.client.cancel_request(&ride.id).await)
                    .is_some()
                {
                    api.count(|c| &c.cancelled);
                }
            });
        }
    }
}
