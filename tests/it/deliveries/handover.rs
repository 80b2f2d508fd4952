//! One deliverer per (sink, area): killed mid-batch, another takes over
//! after the lease and resends from the last acknowledged event; two
//! instances writing one area still deliver it in log order.

use std::time::Duration;

use serde_json::json;

use super::receiver::{in_log_order, Answer, Receiver};
use crate::common::{instances::Deployment, TestApp};

const LEASE: &str = "1s";

/// Every event id the area's log holds (the default area, one Redis).
async fn logged_ids(redis_url: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url).expect("a client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let epoch: String = redis::cmd("HGET")
        .arg("{tracking}:rides:ids")
        .arg("epoch")
        .query_async(&mut conn)
        .await
        .expect("the area's epoch");
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("{tracking}:log")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("XRANGE");
    entries
        .into_iter()
        .map(|(position, _)| format!("default:{epoch}:{position}"))
        .collect()
}

/// `n` rides, each matched with a driver of its own.
async fn rides(app: &TestApp, from: usize, n: usize) {
    for i in from..from + n {
        let at = (-33.44 + i as f64 * 0.01, -70.63);
        app.update_location(&format!("d{i}"), at).await;
        app.data(
            "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }",
            json!({"r": format!("r{i}"), "lat": at.0, "lng": at.1}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deliverer_killed_mid_batch_is_taken_over_and_nothing_is_lost() {
    let receiver = Receiver::start(Answer::Ok).await;
    let deployment = Deployment::start(&[
        "--webhook",
        &receiver.url,
        "--webhook-secret",
        "s1",
        "--instance-lease",
        LEASE,
        "--offer-timeout",
        "0s",
        "--max-speed-kmh",
        "0",
    ])
    .await;
    let (first, first_app) = deployment.instance();
    rides(&first_app, 0, 2).await;
    receiver
        .until(
            Duration::from_secs(10),
            "the first instance delivering",
            |seen| (!seen.events.is_empty()).then_some(()),
        )
        .await;
    let (second, second_app) = deployment.instance();
    receiver.answer(Answer::Hold);
    rides(&second_app, 2, 20).await;
    receiver
        .until(Duration::from_secs(10), "a batch in flight", |seen| {
            (seen.in_flight > 0).then_some(())
        })
        .await;
    first.kill();
    let killed = std::time::Instant::now();
    receiver.answer(Answer::Ok);
    let expected = logged_ids(&deployment.redis.url()).await;
    let received = receiver
        .until(
            Duration::from_secs(15),
            "every logged event, delivered by the instance left",
            |seen| {
                let got = in_log_order(&seen.events);
                expected.iter().all(|id| got.contains(id)).then_some(got)
            },
        )
        .await;
    assert!(
        killed.elapsed() < Duration::from_secs(12),
        "taken over within the lease and a retry: {:?}",
        killed.elapsed()
    );
    assert_eq!(
        received.len(),
        expected.len(),
        "nothing but the log's events"
    );
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_one_area_deliver_it_in_log_order() {
    let receiver = Receiver::start(Answer::Ok).await;
    let deployment = Deployment::start(&[
        "--webhook",
        &receiver.url,
        "--webhook-secret",
        "s1",
        "--webhook-batch",
        "7",
        "--instance-lease",
        LEASE,
        "--offer-timeout",
        "0s",
        "--max-speed-kmh",
        "0",
    ])
    .await;
    let (_a, a) = deployment.instance();
    let (_b, b) = deployment.instance();
    tokio::join!(rides(&a, 0, 25), rides(&b, 100, 25));
    let expected = logged_ids(&deployment.redis.url()).await;
    assert!(expected.len() >= 100, "two events or more per ride");
    receiver
        .until(Duration::from_secs(15), "every logged event", |seen| {
            let got = in_log_order(&seen.events);
            expected.iter().all(|id| got.contains(id)).then_some(())
        })
        .await;
    let events = receiver.events();
    let mut by_ride: std::collections::HashMap<String, Vec<String>> = Default::default();
    for e in &events {
        if let Some(ride) = e["rideId"].as_str() {
            by_ride
                .entry(ride.to_owned())
                .or_default()
                .push(e["type"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(by_ride.len(), 50);
    for (ride, kinds) in by_ride {
        assert_eq!(
            kinds.first().map(String::as_str),
            Some("RIDE_REQUESTED"),
            "{ride}: {kinds:?}"
        );
    }
}
