//! Chaos, bounded: two instances on one Redis with rides flowing, then in
//! turn an instance SIGKILLed (and started again), Redis paused, the event
//! subscriptions cut, Redis restarted empty. After each fault the rules
//! must hold: no ride searching past its deadline plus a lease, no driver
//! on two active rides, no ride shown to a rider it does not belong to, no
//! ride id handed out twice, and the service's log quiet.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use rand::Rng;
use serde_json::json;
use tracking::auth::{mint, Role};

use crate::common::{
    eventually, north_of, tokens::SECRET, Client, RedisServer, ServiceProcess, RIDER,
};

const LEASE_MS: i64 = 1000;
const RIDERS: usize = 30;
const DRIVERS: usize = 15;

fn token(sub: &str, role: Role) -> String {
    mint(SECRET, sub, role, Duration::from_secs(3600)).expect("mint")
}

fn start(url: &str) -> ServiceProcess {
    ServiceProcess::start(&[
        "--redis-url",
        url,
        "--jwt-secret",
        SECRET,
        "--instance-lease",
        "1s",
        "--search-interval",
        "1s",
        "--request-timeout",
        "4s",
        "--max-update-rate",
        "0",
        "--max-speed-kmh",
        "0",
    ])
}

/// Every ride id handed out, with its rider.
type Handed = Arc<Mutex<Vec<(String, String)>>>;

/// A GraphQL call that may fail (instances die here on purpose).
pub(super) async fn try_gql(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let sent = http
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match sent {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

/// Riders request rides, drivers report and complete theirs, through both
/// instances, until `stop`.
fn traffic(addrs: Arc<Mutex<Vec<std::net::SocketAddr>>>, handed: Handed, stop: Arc<AtomicBool>) {
    let ops = token("ops", Role::Dispatcher);
    let pick = {
        let addrs = addrs.clone();
        move |i: usize| {
            let addrs = addrs.lock().expect("lock");
            addrs[i % addrs.len()]
        }
    };
    // Riders: a request every 100 ms; one in four far from every driver.
    {
        let (stop, handed, pick) = (stop.clone(), handed.clone(), pick.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let rider = format!("rider-{}", n % RIDERS);
                let at = if n.is_multiple_of(4) {
                    north_of(RIDER, 60.0)
                } else {
                    north_of(RIDER, (n % 7) as f64 * 0.2)
                };
                let body = try_gql(
                    &http,
                    pick(n),
                    &token(&rider, Role::Rider),
                    "mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id } }",
                    json!({"r": rider, "lat": at.0, "lng": at.1}),
                )
                .await;
                if let Some(id) = body["data"]["requestDriver"]["id"].as_str() {
                    handed.lock().expect("lock").push((id.to_owned(), rider));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    // Drivers: report every 300 ms; an assigned one completes its ride.
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut round = 0usize;
        while !stop.load(Ordering::Relaxed) {
            round += 1;
            for d in 0..DRIVERS {
                let addr = pick(round + d);
                let id = format!("driver-{d}");
                let jitter = rand::rng().random_range(0.0..0.05);
                let at = north_of(RIDER, d as f64 * 0.1 + jitter);
                let body = try_gql(
                    &http,
                    addr,
                    &ops,
                    "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { status rideId } }",
                    json!({"d": id, "lat": at.0, "lng": at.1}),
                )
                .await;
                if let Some(ride) = body["data"]["updateLocation"]["rideId"].as_str() {
                    if round.is_multiple_of(3) {
                        try_gql(
                            &http,
                            addr,
                            &ops,
                            "mutation($id: ID!) { completeRide(rideId: $id) { id } }",
                            json!({"id": ride}),
                        )
                        .await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
}

/// The rules, read from the test's own Redis and through the API.
async fn check(phase: &str, redis: &RedisServer, addr: std::net::SocketAddr, handed: &Handed) {
    let keys: Vec<String> = redis.cmd(&["KEYS", "{tracking}:ride:*"]).await;
    let now: i64 = {
        let t: Vec<String> = redis.cmd(&["TIME"]).await;
        t[0].parse::<i64>().expect("secs") * 1000 + t[1].parse::<i64>().expect("us") / 1000
    };
    let mut drivers_in_use: HashMap<String, String> = HashMap::new();
    for key in keys {
        let ride: HashMap<String, String> = redis.cmd(&["HGETALL", &key]).await;
        if ride.is_empty() {
            continue;
        }
        let expires: i64 = ride["expires"].parse().expect("expires");
        let status = ride["status"].as_str();
        assert!(
            !(status == "SEARCHING" && now > expires + LEASE_MS + 1500),
            "{phase}: {key} still SEARCHING {} ms past its deadline",
            now - expires
        );
        if status == "DRIVER_FOUND" {
            let driver = ride["driver"].clone();
            if let Some(other) = drivers_in_use.insert(driver.clone(), key.clone()) {
                panic!("{phase}: driver {driver} on {other} and {key}");
            }
        }
    }
    let handed = handed.lock().expect("lock").clone();
    let ids: HashSet<&String> = handed.iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids.len(),
        handed.len(),
        "{phase}: a ride id was handed out twice"
    );
    // Each rider sees its own rides, or nothing: never another rider's.
    for (id, rider) in handed.iter().rev().take(40) {
        let client = Client::new(addr, Some(token(rider, Role::Rider)));
        let body = client
            .gql(
                "query($id: ID!) { ride(id: $id) { riderId } }",
                json!({"id": id}),
            )
            .await;
        if let Some(errors) = body.get("errors") {
            let code = &errors[0]["extensions"]["code"];
            assert_ne!(
                code, "FORBIDDEN",
                "{phase}: {rider}'s id {id} now names another's ride"
            );
            continue;
        }
        let seen = &body["data"]["ride"];
        assert!(
            seen.is_null() || seen["riderId"] == rider.as_str(),
            "{phase}: {rider} was shown {seen}"
        );
    }
}

/// Waits until an instance answers and is ready.
async fn ready(addr: std::net::SocketAddr) {
    let client = Client::new(addr, None);
    eventually("the instance to be ready", || async {
        (client.get("/ready").await.0 == 200).then_some(())
    })
    .await;
}

/// The service's warnings stay below a few a second, during the fault and
/// after it (each ride's life is logged at INFO, so the traffic's lines are
/// not counted): failures are logged when they start and end, not per try.
async fn quiet(phase: &str, services: &[&ServiceProcess]) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    for service in services {
        let log = service.log.lock().expect("log");
        let lines = log.warnings_within(Duration::from_secs(8));
        assert!(
            lines <= 24,
            "{phase}: {lines} warnings in 8 s:\n{}",
            log.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rides_stay_right_through_kills_pauses_cuts_and_an_empty_restart() {
    let redis = Arc::new(RedisServer::start().await);
    let url = redis.url();
    let a = start(&url);
    let mut b = start(&url);
    let addrs = Arc::new(Mutex::new(vec![a.addr, b.addr]));
    let handed: Handed = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    traffic(addrs.clone(), handed.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    check("steady", &redis, a.addr, &handed).await;

    // An instance killed the hard way, and started again.
    b.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    b = start(&url);
    addrs.lock().expect("lock")[1] = b.addr;
    ready(b.addr).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    check("after SIGKILL", &redis, a.addr, &handed).await;
    quiet("after SIGKILL", &[&a, &b]).await;

    // Redis paused: every client waits 2 s.
    let _: () = redis.cmd(&["CLIENT", "PAUSE", "2000", "ALL"]).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    check("after CLIENT PAUSE", &redis, a.addr, &handed).await;
    quiet("after CLIENT PAUSE", &[&a, &b]).await;

    // The event subscriptions cut.
    let _: i64 = redis.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    check("after CLIENT KILL pubsub", &redis, a.addr, &handed).await;
    quiet("after CLIENT KILL pubsub", &[&a, &b]).await;

    // Redis restarted with nothing.
    redis.stop();
    redis.start_again().await;
    ready(a.addr).await;
    ready(b.addr).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    check("after an empty restart", &redis, a.addr, &handed).await;
    quiet("after an empty restart", &[&a, &b]).await;

    stop.store(true, Ordering::Relaxed);
    assert!(handed.lock().expect("lock").len() > 100, "rides flowed");
}
