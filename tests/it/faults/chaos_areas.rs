//! Chaos across areas, instances and a failover, bounded: a Redis Cluster
//! (three primaries, a replica each) holding two areas on different nodes,
//! two instances, drivers reporting from both sides of the border through
//! either instance and accepting their offers, riders on both sides. Then
//! an instance SIGKILLed (and started again), and the primary of one area
//! SIGKILLed (its replica takes over). Read again and again through every
//! step, the promise holds: no driver ever holds two rides, two offers, or
//! a ride and an offer.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use rand::Rng;
use serde_json::json;
use tracking::auth::{mint, Role};

use super::chaos::try_gql;
use crate::common::{
    areas::{areas_file, areas_on_two_nodes},
    tokens::SECRET,
    RedisCluster, ServiceProcess,
};
const DRIVERS: usize = 12;
const RIDERS: usize = 20;
/// The border between the two areas.
const BORDER_LNG: f64 = -70.5;

fn ops() -> String {
    mint(SECRET, "ops", Role::Dispatcher, Duration::from_secs(3600)).expect("mint")
}

fn start(urls: &str, areas: &str) -> ServiceProcess {
    ServiceProcess::start(&[
        "--redis-cluster",
        urls,
        "--areas",
        areas,
        "--jwt-secret",
        SECRET,
        "--instance-lease",
        "1s",
        "--search-interval",
        "500ms",
        "--request-timeout",
        "4s",
        "--offer-timeout",
        "1s",
        "--offer-ignore-limit",
        "0",
        "--max-active-rides-per-rider",
        "0",
        "--max-update-rate",
        "0",
        "--max-speed-kmh",
        "0",
    ])
}

/// A call as the dispatcher that may fail (nodes and instances die here).
async fn call(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    try_gql(http, addr, &ops(), query, variables).await
}

/// A point `km` east (+) or west (-) of the border.
fn off_border(lat: f64, km: f64) -> (f64, f64) {
    (lat, BORDER_LNG + km / (111.32 * lat.to_radians().cos()))
}

/// Drivers report from either side of the border (a few hundred metres
/// each way) through either instance, accept what they are offered and
/// complete some rides; riders request on both sides.
fn traffic(addrs: Arc<Mutex<Vec<std::net::SocketAddr>>>, stop: Arc<AtomicBool>) {
    let pick = move |i: usize| {
        let addrs = addrs.lock().expect("lock");
        addrs[i % addrs.len()]
    };
    {
        let (stop, pick) = (stop.clone(), pick.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let side = if n.is_multiple_of(2) { 0.3 } else { -0.3 };
                let at = off_border(-33.44 + (n % 5) as f64 * 0.002, side);
                call(
                    &http,
                    pick(n),
                    "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }",
                    json!({"r": format!("rider-{}", n % RIDERS), "lat": at.0, "lng": at.1}),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(80)).await;
            }
        });
    }
    for d in 0..DRIVERS {
        let (stop, pick) = (stop.clone(), pick.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let km = rand::rng().random_range(-0.4..0.4);
                let at = off_border(-33.44 + d as f64 * 0.001, km);
                let body = call(
                    &http,
                    pick(round + d),
                    "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { status rideId } }",
                    json!({"d": format!("driver-{d}"), "lat": at.0, "lng": at.1}),
                )
                .await;
                let driver = &body["data"]["updateLocation"];
                if let Some(ride) = driver["rideId"].as_str() {
                    let operation = match driver["status"].as_str() {
                        Some("OFFERED") => Some("acceptOffer"),
                        Some("ASSIGNED") if round.is_multiple_of(4) => Some("completeRide"),
                        _ => None,
                    };
                    if let Some(operation) = operation {
                        call(
                            &http,
                            pick(round),
                            &format!("mutation($id: ID!) {{ {operation}(rideId: $id) {{ id }} }}"),
                            json!({"id": ride}),
                        )
                        .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        });
    }
}

type Rides = HashMap<String, HashMap<String, String>>;

/// Every ride hash on the running primaries, by key.
async fn rides(cluster: &RedisCluster) -> Rides {
    let mut all = Rides::new();
    for url in cluster.urls() {
        let Ok(client) = redis::Client::open(url.as_str()) else {
            continue;
        };
        let Ok(Ok(mut conn)) = tokio::time::timeout(
            Duration::from_secs(1),
            client.get_multiplexed_async_connection(),
        )
        .await
        else {
            continue;
        };
        let role: Vec<redis::Value> = match redis::cmd("ROLE").query_async(&mut conn).await {
            Ok(role) => role,
            Err(_) => continue,
        };
        if !matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master") {
            continue;
        }
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("{tracking:*}:ride:*")
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        for key in keys {
            let ride: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            if !ride.is_empty() {
                all.insert(key, ride);
            }
        }
    }
    all
}

/// What each driver holds in `rides`: `(ride key, "ride" | "offer")`.
fn holdings(rides: &Rides) -> HashMap<String, Vec<(String, &'static str)>> {
    let mut held: HashMap<String, Vec<(String, &'static str)>> = HashMap::new();
    for (key, ride) in rides {
        let status = ride.get("status").map(String::as_str).unwrap_or_default();
        if matches!(status, "DRIVER_FOUND" | "ARRIVED" | "IN_PROGRESS") {
            if let Some(driver) = ride.get("driver") {
                held.entry(driver.clone())
                    .or_default()
                    .push((key.clone(), "ride"));
            }
        }
        if status == "SEARCHING" {
            if let Some(driver) = ride.get("offer_driver") {
                held.entry(driver.clone())
                    .or_default()
                    .push((key.clone(), "offer"));
            }
        }
    }
    held
}

/// The promise, read from the Cluster: a driver holding two things in one
/// read is a violation only if a second read finds both rides unchanged
/// (then both held at once, between the two reads; otherwise the first
/// read caught a ride before and another after a change).
async fn check(phase: &str, cluster: &RedisCluster) -> usize {
    let first = rides(cluster).await;
    for (driver, held) in holdings(&first) {
        if held.len() < 2 {
            continue;
        }
        let again = rides(cluster).await;
        let unchanged = held.iter().all(|(key, _)| again.get(key) == first.get(key));
        assert!(
            !unchanged,
            "{phase}: driver {driver} holds {held:?} at once:\n{:#?}",
            held.iter().map(|(k, _)| (k, &first[k])).collect::<Vec<_>>()
        );
    }
    first.len()
}

/// Checks the promise over and over for `secs` seconds; returns the
/// rides seen last.
async fn watch(phase: &str, cluster: &RedisCluster, secs: u64) -> usize {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    let mut seen = 0;
    while std::time::Instant::now() < until {
        seen = check(phase, cluster).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_driver_ever_holds_two_rides_or_offers_across_areas_instances_and_a_failover() {
    let cluster = Arc::new(RedisCluster::start(3, 1).await);
    let (west, _east, file) = areas_on_two_nodes(&cluster).await;
    let path = areas_file("chaos-areas", &file);
    let path = path.to_string_lossy().into_owned();
    let urls = cluster.urls().join(",");
    let a = start(&urls, &path);
    let mut b = start(&urls, &path);
    let addrs = Arc::new(Mutex::new(vec![a.addr, b.addr]));
    let stop = Arc::new(AtomicBool::new(false));
    traffic(addrs.clone(), stop.clone());
    watch("steady", &cluster, 3).await;

    b.kill();
    watch("one instance SIGKILLed", &cluster, 3).await;
    b = start(&urls, &path);
    addrs.lock().expect("lock")[1] = b.addr;
    watch("after the restart", &cluster, 3).await;

    let tag = format!("{{tracking:{west}}}");
    let before = cluster.primary_of(&tag).await;
    cluster.kill(before);
    let after = cluster.wait_healed(&tag).await;
    assert_ne!(after, before, "a replica took over");
    let seen = watch("after the failover", &cluster, 3).await;
    stop.store(true, Ordering::Relaxed);
    assert!(seen > 50, "rides flowed: {seen}");
    let matched = rides(&cluster)
        .await
        .values()
        .filter(|r| r.contains_key("driver"))
        .count();
    assert!(matched > 10, "drivers took rides: {matched}");
    drop(b);
}
