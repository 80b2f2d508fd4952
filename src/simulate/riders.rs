//! The riders: rides requested at random points, with a dropoff, at a
//! steady rate; some cancelled a little later.

use std::time::Duration;

use rand::Rng;
use tokio::time::{interval, sleep, MissedTickBehavior};
use tracking_client::Location;

use super::{api::Api, args::SimulateArgs, region::Region};

pub(super) async fn request_rides(api: Api, args: SimulateArgs, regions: Vec<Region>) {
    if args.rides_per_minute <= 0.0 {
        return std::future::pending().await;
    }
    let mut tick = interval(Duration::from_secs_f64(60.0 / args.rides_per_minute));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Cancels to come; aborted with this task.
    let mut cancels = tokio::task::JoinSet::new();
    let mut n = 0u64;
    loop {
        tick.tick().await;
        while cancels.try_join_next().is_some() {}
        n += 1;
        let region = &regions[(n as usize) % regions.len().max(1)];
        let (pickup, dropoff) = (region.random_point(), region.random_point());
        api.count(|c| &c.requests);
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
        let (cancel, after) = {
            let mut rng = rand::rng();
            (
                rng.random::<f64>() < args.cancel_rate,
                (args.answer_within * 2).mul_f64(rng.random::<f64>()),
            )
        };
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
