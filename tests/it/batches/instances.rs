//! Batches across instances: the instance holding an area's batch lease
//! is SIGKILLed with rides pending; another takes the lease within about
//! `--instance-lease` and batches them: none assigned twice, none lost.

use std::{collections::HashSet, time::Duration};

use serde_json::json;

use crate::common::{eventually, id_of, instances::Deployment, north_of, within, RIDER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batching_instance_killed_another_batches_its_rides() {
    let deployment = Deployment::start(&[
        "--match-window",
        "300ms",
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
    ])
    .await;
    let (doomed, doomed_client) = deployment.instance();
    let mut redis = deployment.redis.connection().await;
    let lease = "{tracking}:batch:lease";
    // Alone, the first instance takes the area's lease at its first window.
    let holder: String = eventually("the first instance to take the batch lease", || {
        let mut redis = redis.clone();
        async move {
            let held: Option<String> = redis::cmd("GET")
                .arg(lease)
                .query_async(&mut redis)
                .await
                .ok()
                .flatten();
            held
        }
    })
    .await;
    let (_survivor, client) = deployment.instance();
    let rides: Vec<String> = futures_util::future::join_all((0..20).map(|i| {
        let app = if i % 2 == 0 { &doomed_client } else { &client };
        async move {
            id_of(
                &app.request_driver(&format!("r{i}"), north_of(RIDER, i as f64 * 0.01))
                    .await,
            )
        }
    }))
    .await;
    doomed.kill();
    // The drivers appear once the holder is gone: only the survivor can batch.
    let updates: Vec<_> = (0..20)
        .map(|i| {
            let (lat, lng) = north_of(RIDER, 0.005 + i as f64 * 0.01);
            json!({"driverId": format!("d{i}"), "lat": lat, "lng": lng})
        })
        .collect();
    client
        .data(
            "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
            json!({"u": updates}),
        )
        .await;
    let mut assigned = HashSet::new();
    within(
        Duration::from_secs(10),
        "every ride matched by the survivor",
        async {
            for id in &rides {
                let ride = client.ride_reaches(id, "DRIVER_FOUND").await;
                let driver = ride["driver"]["id"].as_str().unwrap_or_default().to_owned();
                assert!(
                    assigned.insert(driver.clone()),
                    "driver {driver} assigned twice"
                );
            }
        },
    )
    .await;
    assert_eq!(assigned.len(), 20);
    let now: Option<String> = redis::cmd("GET")
        .arg(lease)
        .query_async(&mut redis)
        .await
        .ok()
        .flatten();
    assert!(
        now.is_some_and(|n| n != holder),
        "the survivor holds the lease now"
    );
}
