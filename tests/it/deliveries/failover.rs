//! Areas on a Redis Cluster, a primary killed mid-delivery: every change
//! acknowledged to its caller was written with its event (and replicated,
//! `WAIT`), so after the failover every one of them reaches the sink, and
//! each area's events still arrive in log order.

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use serde_json::json;

use super::receiver::{in_log_order, Answer, Receiver};
use crate::common::{
    areas::{areas_file, areas_on_two_nodes},
    RedisCluster, ServiceProcess,
};

/// Requests rides on both sides of the border until `stop`; returns the
/// ids of those the service acknowledged.
fn riders(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeSet<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut n = 0usize;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let lng = if n.is_multiple_of(2) { -70.6 } else { -70.4 };
            let body = json!({
                "query": "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }",
                "variables": {"r": format!("r{n}"), "lat": -33.45, "lng": lng},
            });
            let reply = http
                .post(format!("http://{addr}/graphql"))
                .json(&body)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if let Ok(reply) = reply {
                if let Ok(value) = reply.json::<serde_json::Value>().await {
                    if let Some(id) = value["data"]["requestDriver"]["id"].as_str() {
                        acked.lock().expect("lock").insert(id.to_owned());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_every_acknowledged_change_is_delivered_in_order() {
    let receiver = Receiver::start(Answer::Ok).await;
    let cluster = RedisCluster::start(3, 1).await;
    let (west, _east, file) = areas_on_two_nodes(&cluster).await;
    let path = areas_file("deliveries-failover", &file);
    let urls = cluster.urls().join(",");
    let service = ServiceProcess::start(&[
        "--redis-cluster",
        &urls,
        "--areas",
        &path.to_string_lossy(),
        "--webhook",
        &receiver.url,
        "--webhook-secret",
        "s1",
        "--instance-lease",
        "1s",
        "--max-active-rides-per-rider",
        "0",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let traffic = riders(service.addr, stop.clone(), acked.clone());
    receiver
        .until(Duration::from_secs(10), "deliveries under way", |seen| {
            (seen.events.len() > 20).then_some(())
        })
        .await;
    let tag = format!("{{tracking:{west}}}");
    let before = cluster.primary_of(&tag).await;
    cluster.kill(before);
    let after = cluster.wait_healed(&tag).await;
    assert_ne!(after, before, "a replica took over");
    // Rides go on for a while on the new primary, then stop.
    let settled = acked.lock().expect("lock").len();
    test_support::eventually("rides requested after the failover", || {
        let acked = acked.clone();
        async move { (acked.lock().expect("lock").len() > settled + 20).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let _ = traffic.await;
    let acked = acked.lock().expect("lock").clone();
    let missing = receiver
        .until(
            Duration::from_secs(20),
            "a RIDE_REQUESTED for every ride acknowledged",
            |seen| {
                in_log_order(&seen.events);
                let requested: BTreeSet<&str> = seen
                    .events
                    .iter()
                    .filter(|e| e["type"] == "RIDE_REQUESTED")
                    .filter_map(|e| e["rideId"].as_str())
                    .collect();
                let missing: Vec<&String> = acked
                    .iter()
                    .filter(|id| !requested.contains(id.as_str()))
                    .collect();
                missing.is_empty().then_some(missing.len())
            },
        )
        .await;
    assert_eq!(missing, 0);
    assert!(acked.len() > 40, "rides flowed: {}", acked.len());
    drop(service);
}
