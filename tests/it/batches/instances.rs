//! Batches across instances: the instance holding an area's batch lease
//! is SIGKILLed (or SIGSTOPped and resumed) with rides pending; another
//! takes the lease within about `--instance-lease` and batches them: none
//! assigned twice, none lost. And a Cluster primary failing over.

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

/// The batch lease holder is paused (SIGSTOP) with rides of its own
/// pending, past `--instance-lease`: the other instance takes the lease and
/// batches them. Resumed (SIGCONT), the old holder must not batch again
/// beside it: the lease stays with the survivor, rides asked on either
/// instance afterwards are matched, and no driver is given two rides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_batch_holder_resumed_does_not_become_a_second_holder() {
    let deployment = Deployment::start(&[
        "--match-window",
        "300ms",
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
    ])
    .await;
    let (paused, paused_client) = deployment.instance();
    let redis = deployment.redis.connection().await;
    let lease = "{tracking}:batch:lease";
    let read_lease = |mut redis: redis::aio::MultiplexedConnection| async move {
        let held: Option<String> = redis::cmd("GET")
            .arg(lease)
            .query_async(&mut redis)
            .await
            .ok()
            .flatten();
        held
    };
    let first = eventually("the first instance to take the batch lease", || {
        read_lease(redis.clone())
    })
    .await;
    let (_other, client) = deployment.instance();
    let mut rides: Vec<String> = Vec::new();
    for i in 0..10 {
        rides.push(id_of(
            &paused_client
                .request_driver(&format!("r{i}"), north_of(RIDER, i as f64 * 0.01))
                .await,
        ));
    }
    crate::common::process::signal(paused.pid(), libc::SIGSTOP);
    let report = |from: usize, to: usize| {
        let updates: Vec<_> = (from..to)
            .map(|i| {
                let (lat, lng) = north_of(RIDER, 0.005 + i as f64 * 0.01);
                json!({"driverId": format!("d{i}"), "lat": lat, "lng": lng})
            })
            .collect();
        json!({"u": updates})
    };
    const UPDATE: &str =
        "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }";
    client.data(UPDATE, report(0, 10)).await;
    within(
        Duration::from_secs(10),
        "the paused holder's rides matched by the other",
        async {
            for id in &rides {
                client.ride_reaches(id, "DRIVER_FOUND").await;
            }
        },
    )
    .await;
    let second = read_lease(redis.clone()).await;
    assert!(
        second.as_ref().is_some_and(|s| *s != first),
        "the other holds the lease"
    );
    crate::common::process::signal(paused.pid(), libc::SIGCONT);
    // Both instances take requests again; the drivers appear after them.
    for i in 10..20 {
        let app = if i % 2 == 0 { &paused_client } else { &client };
        rides.push(id_of(
            &app.request_driver(&format!("r{i}"), north_of(RIDER, i as f64 * 0.01))
                .await,
        ));
    }
    client.data(UPDATE, report(10, 20)).await;
    let mut assigned = HashSet::new();
    within(Duration::from_secs(10), "every ride matched once", async {
        for id in &rides {
            let ride = client.ride_reaches(id, "DRIVER_FOUND").await;
            let driver = ride["driver"]["id"].as_str().unwrap_or_default().to_owned();
            assert!(
                assigned.insert(driver.clone()),
                "driver {driver} given two rides"
            );
            let seen = client.driver(&driver).await;
            assert_eq!(seen["rideId"], json!(id), "{driver}: {seen}");
        }
    })
    .await;
    assert_eq!(
        read_lease(redis.clone()).await,
        second,
        "the lease moved back"
    );
}

/// A Cluster with a window: the primary of the area's slot is SIGKILLed
/// while rides search; once a replica took over, windows go on: every
/// acknowledged ride is still there and a driver near one is given it by a
/// window (the search interval is a minute: only a window can match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_go_on_after_the_areas_primary_fails_over() {
    use std::sync::Arc;

    use crate::common::{Protocol, RedisCluster, TestApp, PATIENCE};
    let cluster = Arc::new(RedisCluster::start(3, 1).await);
    let app = TestApp::spawn_on_cluster(cluster.clone(), |c| {
        c.batch.match_window = Duration::from_millis(300);
    })
    .await;
    let tag = "{tracking}";
    let before = cluster.primary_of(tag).await;
    app.update_location("d1", RIDER).await;
    let matched = id_of(&app.request_driver("r0", RIDER).await);
    app.ride_reaches(&matched, "DRIVER_FOUND").await;
    let mut searching = Vec::new();
    for i in 0..10 {
        searching.push(id_of(
            &app.request_driver(
                &format!("r{}", i + 1),
                north_of(RIDER, 30.0 + 20.0 * i as f64),
            )
            .await,
        ));
    }
    cluster.kill(before);
    let after = cluster.wait_healed(tag).await;
    assert_ne!(after, before, "a replica took over");
    within(PATIENCE * 2, "the service to serve again", async {
        loop {
            let answer = app
                .gql(
                    "mutation { updateLocation(driverId: \"d2\", lat: -33.44, lng: -70.63) { id } }",
                    json!({}),
                )
                .await;
            if answer.get("errors").is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(app.ride(&matched).await["status"], "DRIVER_FOUND");
    for id in &searching {
        assert_eq!(app.ride(id).await["status"], "SEARCHING", "{id}");
    }
    let mut sub = app.watch_ride(Protocol::TransportWs, &searching[0]).await;
    sub.expect_status("SEARCHING").await;
    app.update_location("d3", north_of(RIDER, 30.2)).await;
    let found = within(
        PATIENCE,
        "a window after the failover",
        sub.expect_status("DRIVER_FOUND"),
    )
    .await;
    assert_eq!(found["driver"]["id"], "d3");
}

/// A rolling restart: the batch holder gets SIGTERM (graceful: it hands
/// its rides over at once). Matching in the area must not stop for a
/// whole `--instance-lease` (5 s) after it has gone: a ride asked on the
/// other instance, a driver beside it, is matched within a few windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gracefully_stopped_batch_holder_hands_its_lease_over() {
    let deployment = Deployment::start(&[
        "--match-window",
        "300ms",
        "--instance-lease",
        "5s",
        "--search-interval",
        "60s",
    ])
    .await;
    let (mut leaving, _) = deployment.instance();
    let redis = deployment.redis.connection().await;
    eventually("the first instance to take the batch lease", || {
        let mut redis = redis.clone();
        async move {
            let held: Option<String> = redis::cmd("GET")
                .arg("{tracking}:batch:lease")
                .query_async(&mut redis)
                .await
                .ok()
                .flatten();
            held
        }
    })
    .await;
    let (_staying, client) = deployment.instance();
    leaving.terminate();
    assert!(
        leaving.wait(Duration::from_secs(15)).is_some(),
        "the holder to exit on SIGTERM"
    );
    client.update_location("d", north_of(RIDER, 0.3)).await;
    let id = id_of(&client.request_driver("rider", RIDER).await);
    let found = tokio::time::timeout(
        Duration::from_secs(2),
        client.ride_reaches(&id, "DRIVER_FOUND"),
    )
    .await;
    assert!(
        found.is_ok(),
        "2 s after the holder left gracefully, no window has matched the ride: {}",
        client.ride(&id).await
    );
}
