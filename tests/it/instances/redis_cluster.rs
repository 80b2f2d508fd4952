//! On a Redis Cluster of the test's own: areas on different nodes carry
//! traffic at once, each area's keys on its own node; a driver crosses
//! from one node's area to another's; a primary fails over while rides
//! search, and no acknowledged ride is lost; after it, the area's writes go
//! on at once.

use std::{sync::Arc, time::Duration};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::common::{
    areas::{areas_file, areas_on_two_nodes},
    id_of, north_of, within, Protocol, RedisCluster, TestApp, PATIENCE,
};

pub(crate) const WEST: (f64, f64) = (-33.44, -70.63);

const EAST: (f64, f64) = (-33.44, -70.35);

/// The keys a node holds.
async fn keys_on(port: u16) -> Vec<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("a node");
    redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("KEYS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn areas_on_different_nodes_carry_traffic_at_once() {
    let cluster = Arc::new(RedisCluster::start(3, 0).await);
    let (west, east, file) = areas_on_two_nodes(&cluster).await;
    let path = areas_file("cluster-two-nodes", &file);
    let app = TestApp::spawn_on_cluster(cluster.clone(), |c| c.areas = Some(path)).await;
    // Drivers and riders in both cities at once.
    join_all((0..20).map(|i| {
        let app = &app;
        async move {
            let (city, at) = if i % 2 == 0 { ("w", WEST) } else { ("e", EAST) };
            app.update_location(&format!("{city}{i}"), north_of(at, i as f64 * 0.1))
                .await
        }
    }))
    .await;
    let rides: Vec<String> = join_all((0..20).map(|i| {
        let app = &app;
        async move {
            let at = if i % 2 == 0 { WEST } else { EAST };
            id_of(
                &app.request_driver(&format!("r{i}"), north_of(at, i as f64 * 0.1))
                    .await,
            )
        }
    }))
    .await;
    for (i, ride) in rides.iter().enumerate() {
        let found = app.ride_reaches(ride, "DRIVER_FOUND").await;
        let (area, city) = if i % 2 == 0 {
            (&west, "w")
        } else {
            (&east, "e")
        };
        assert!(ride.starts_with(&format!("{area}:")), "{ride}");
        let driver = found["driver"]["id"].as_str().unwrap_or_default();
        assert!(
            driver.starts_with(city),
            "ride {ride} in {area} got {driver}"
        );
    }
    // Each city's keys live on its own node, whole.
    for area in [&west, &east] {
        let tag = format!("{{tracking:{area}}}");
        let node = cluster.primary_of(&tag).await;
        let here = keys_on(node).await;
        assert!(
            here.iter().any(|k| k.starts_with(&tag)),
            "{area} on {node}: {here:?}"
        );
        for other in cluster.urls() {
            let port: u16 = other
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if port != node {
                assert!(
                    !keys_on(port).await.iter().any(|k| k.starts_with(&tag)),
                    "{area} split"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_crosses_from_one_nodes_area_to_anothers() {
    let cluster = Arc::new(RedisCluster::start(3, 0).await);
    let (west, east, file) = areas_on_two_nodes(&cluster).await;
    let path = areas_file("cluster-crossing", &file);
    let app = TestApp::spawn_on_cluster(cluster, |c| c.areas = Some(path)).await;
    app.update_location("crosser", (-33.44, -70.502)).await;
    let count = |area: &str| {
        let area = area.to_owned();
        let app = &app;
        async move {
            let data = app
                .data("{ areas { id availableDrivers } }", json!({}))
                .await;
            data["areas"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["id"] == area.as_str()))
                .map(|x| x["availableDrivers"].as_i64().unwrap_or(-1))
                .unwrap_or(-1)
        }
    };
    assert_eq!((count(&west).await, count(&east).await), (1, 0));
    let ride = id_of(&app.request_driver("ana", (-33.44, -70.497)).await);
    assert!(ride.starts_with(&format!("{east}:")));
    app.searched(&ride).await;
    app.update_location("crosser", (-33.44, -70.498)).await;
    assert_eq!(
        app.ride_reaches(&ride, "DRIVER_FOUND").await["driver"]["id"],
        "crosser"
    );
    assert_eq!((count(&west).await, count(&east).await), (0, 0));
    assert_eq!(app.driver("crosser").await["status"], "ASSIGNED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_fails_over_while_rides_search_and_no_acknowledged_ride_is_lost() {
    let cluster = Arc::new(RedisCluster::start(3, 1).await);
    let app = TestApp::spawn_on_cluster(cluster.clone(), |c| {
        c.search_interval = Duration::from_millis(300);
    })
    .await;
    let tag = "{tracking}";
    let before = cluster.primary_of(tag).await;
    // Rides acknowledged before the failover: some matched, some searching.
    app.update_location("d1", WEST).await;
    let matched = id_of(&app.request_driver("r0", WEST).await);
    app.ride_reaches(&matched, "DRIVER_FOUND").await;
    let mut searching = Vec::new();
    for i in 0..10 {
        searching.push(id_of(
            &app.request_driver(
                &format!("r{}", i + 1),
                north_of(EAST, 30.0 + 20.0 * i as f64),
            )
            .await,
        ));
    }
    cluster.kill(before);
    let after = cluster.wait_healed(tag).await;
    assert_ne!(after, before, "a replica took over");
    // The service recovers without a restart: reads and writes work again.
    let ok = within(PATIENCE * 2, "the service to serve again", async {
        loop {
            let answer = app
                .gql(
                    "mutation { updateLocation(driverId: \"d2\", lat: -33.44, lng: -70.63) { id } }",
                    json!({}),
                )
                .await;
            if answer.get("errors").is_none() {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(ok["data"]["updateLocation"]["id"], "d2");
    // Nothing acknowledged was lost.
    assert_eq!(app.ride(&matched).await["status"], "DRIVER_FOUND");
    for id in &searching {
        assert_eq!(app.ride(id).await["status"], "SEARCHING", "{id}");
    }
    // And the searches go on: a driver near one of them is matched.
    let mut sub = app.watch_ride(Protocol::TransportWs, &searching[0]).await;
    sub.expect_status("SEARCHING").await;
    app.update_location("d3", north_of(EAST, 30.2)).await;
    let found = within(
        PATIENCE,
        "a search after the failover",
        sub.expect_status("DRIVER_FOUND"),
    )
    .await;
    assert_eq!(found["driver"]["id"], "d3");
}

/// Writes go on after a failover: the primary of one area is SIGKILLed,
/// its replica takes over with no replica of its own, and ride writes in
/// that area neither wait for a replica that is gone nor queue behind one
/// another's waits on the node's one connection: 20 requests at once, all
/// answered, in the failed-over area as in the other. (Before, each waited
/// `WAIT 1 1000` in turn: 19 of 20 were UNAVAILABLE.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_ride_writes_in_the_area_go_on_at_once() {
    let cluster = Arc::new(RedisCluster::start(3, 1).await);
    let (west, _east, file) = areas_on_two_nodes(&cluster).await;
    let path = areas_file("cluster-failover-writes", &file);
    let app = TestApp::spawn_on_cluster(cluster.clone(), |c| {
        c.areas = Some(path);
        // The replica count is read again each maintenance tick too; a long
        // lease keeps this test about the failover itself.
        c.instance_lease = Duration::from_secs(60);
    })
    .await;
    let warm = id_of(&app.request_driver("warm", WEST).await);
    assert!(warm.starts_with(&format!("{west}:")), "{warm}");
    let tag = format!("{{tracking:{west}}}");
    let before = cluster.primary_of(&tag).await;
    cluster.kill(before);
    let after = cluster.wait_healed(&tag).await;
    assert_ne!(after, before, "a replica took over");
    // Serving again: a report in the area goes through.
    within(PATIENCE * 2, "the area to take writes again", async {
        loop {
            let answer = app
                .gql(
                    "mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: \"probe\", lat: $lat, lng: $lng) { id } }",
                    json!({"lat": WEST.0, "lng": WEST.1 + 0.3}),
                )
                .await;
            if answer.get("errors").is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    for (city, at) in [("west", WEST), ("east", EAST)] {
        let answers = join_all((0..20).map(|i| {
            let app = &app;
            async move {
                let started = std::time::Instant::now();
                let answer = app
                    .gql(
                        "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }",
                        json!({"r": format!("{city}-{i}"), "lat": at.0, "lng": at.1}),
                    )
                    .await;
                (answer, started.elapsed())
            }
        }))
        .await;
        let failed: Vec<&Value> = answers
            .iter()
            .map(|(a, _)| a)
            .filter(|a| a.get("errors").is_some())
            .collect();
        assert!(
            failed.is_empty(),
            "{} of 20 ride requests in {city} failed after the failover: {failed:?}",
            failed.len()
        );
        let slowest = answers.iter().map(|(_, t)| *t).max().unwrap_or_default();
        println!("{city}: 20 concurrent requestDriver after the failover, slowest {slowest:?}");
    }
}
