//! Faults on the Redis store: Redis dead or hung, the event subscription cut,
//! instances killed, restarted, or stopped with requests in flight. Each test
//! is bounded in time and checks what must hold afterwards, not only that
//! nothing crashed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::common::{
    error_code_of, eventually, id_of, north_of, within, Client, Protocol, RedisServer,
    ServiceProcess, StoreKind, TestApp, DRIVER, PATIENCE, RIDER,
};

/// Every kind of operation, as (what, query).
const OPERATIONS: [(&str, &str); 6] = [
    (
        "updateLocation",
        "mutation { updateLocation(driverId: \"x\", lat: 0, lng: 0) { id } }",
    ),
    (
        "requestDriver",
        "mutation { requestDriver(riderId: \"r\", lat: 0, lng: 0) { id } }",
    ),
    ("ride", "{ ride(id: \"1\") { status } }"),
    ("driver", "{ driver(id: \"x\") { status } }"),
    (
        "nearbyDrivers",
        "{ nearbyDrivers(lat: 0, lng: 0) { distanceKm } }",
    ),
    (
        "cancelRequest",
        "mutation { cancelRequest(rideId: \"1\") { id } }",
    ),
];

/// Runs every operation at once; each must fail with UNAVAILABLE within `limit`.
async fn every_operation_fails_fast(app: &Client, limit: Duration, why: &str) {
    let results = join_all(OPERATIONS.iter().map(|(what, query)| async move {
        let started = Instant::now();
        let body = app.gql(query, json!({})).await;
        (*what, started.elapsed(), body)
    }))
    .await;
    for (what, took, body) in results {
        assert_eq!(
            error_code_of(&body),
            "UNAVAILABLE",
            "{what} ({why}): {body}"
        );
        assert!(took < limit, "{what} ({why}) took {took:?}");
    }
}

/// Redis goes away: every operation fails fast with UNAVAILABLE, `/ready`
/// answers 503 and `/health` 200 with the store's trouble in its body. It
/// comes back: everything works again, no searching ride is lost, and a
/// subscription opened before the outage still gets its ride's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_heals_when_redis_comes_back() {
    let app = TestApp::spawn(StoreKind::Redis, |c| {
        c.search_interval = Duration::from_millis(300)
    })
    .await;
    let redis = app.redis.clone().expect("redis");
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    let mut sub = app.watch_ride(Protocol::TransportWs, &id).await;
    sub.expect_status("SEARCHING").await;

    redis.shutdown_saving().await;
    // Dead: connections are refused, so failing takes no time at all.
    every_operation_fails_fast(&app, Duration::from_secs(3), "Redis down").await;
    let (status, body) = app.get("/ready").await;
    assert_eq!(status, 503, "not ready while Redis is down: {body}");
    let (status, body) = app.get("/health").await;
    assert_eq!(status, 200, "the process itself is alive");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["status"], "ok");
    assert_ne!(
        body["store"], "ok",
        "/health says the store is down: {body}"
    );

    redis.start_again().await;
    eventually("the service to answer again", || async {
        let body = app
            .gql(
                "query($id: ID!) { ride(id: $id) { status } }",
                json!({"id": id}),
            )
            .await;
        (body["data"]["ride"]["status"] == "SEARCHING").then_some(())
    })
    .await;
    eventually(
        "/ready once Redis and the event bridge are back",
        || async { (app.get("/ready").await.0 == 200).then_some(()) },
    )
    .await;
    app.update_location("1", DRIVER).await;
    let found = sub.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
}

/// Redis hung (every client paused): each operation gives up after the
/// command timeout, about two seconds, instead of hanging with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_fails_operations_within_about_two_seconds() {
    let app = TestApp::spawn(StoreKind::Redis, |_| {}).await;
    let redis = app.redis.clone().expect("redis");
    // (A pause of every client cannot be lifted early: it runs out.)
    let _: () = redis.cmd(&["CLIENT", "PAUSE", "5000", "ALL"]).await;
    every_operation_fails_fast(&app, Duration::from_secs(4), "Redis paused").await;
    eventually("the service to answer again", || async {
        let body = app.gql("{ driver(id: \"x\") { id } }", json!({})).await;
        body.get("errors").is_none().then_some(())
    })
    .await;
}

/// The event subscription is cut and cannot come back for a while; a ride
/// changes meanwhile. When the subscription returns, the watched ride is
/// re-read and its subscriber gets the change it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_the_event_bridge_is_down_still_reaches_subscribers() {
    let app = TestApp::spawn(StoreKind::Redis, |_| {}).await;
    let redis = app.redis.clone().expect("redis");
    let id = id_of(&app.request_driver("rider-1", north_of(RIDER, 50.0)).await);
    let mut sub = app.watch_ride(Protocol::TransportWs, &id).await;
    sub.expect_status("SEARCHING").await;

    // No SUBSCRIBE for anyone, then cut the bridge's connection: it cannot
    // come back until this is undone. Commands and PUBLISH still work.
    let _: () = redis
        .cmd(&[
            "ACL",
            "SETUSER",
            "default",
            "-subscribe",
            "-psubscribe",
            "-ssubscribe",
        ])
        .await;
    let _: i64 = redis.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).await;
    eventually("/ready to say the events are disconnected", || async {
        let (status, body) = app.get("/ready").await;
        (status == 503 && body.contains("disconnected")).then_some(())
    })
    .await;

    let cancelled = app.cancel(&id).await;
    assert_eq!(cancelled["data"]["cancelRequest"]["status"], "CANCELLED");

    let _: () = redis
        .cmd(&[
            "ACL",
            "SETUSER",
            "default",
            "+subscribe",
            "+psubscribe",
            "+ssubscribe",
        ])
        .await;
    sub.expect_status("CANCELLED").await;
    sub.expect_complete().await;
}

/// A ride whose deadline passed while no instance was running expires as
/// soon as an instance starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ride_overdue_while_no_instance_ran_expires_when_one_starts() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let args = [
        "--redis-url",
        url.as_str(),
        "--instance-lease",
        "500ms",
        "--search-interval",
        "60s",
        "--request-timeout",
        "1s",
    ];
    let first = ServiceProcess::start(&args);
    let ride = TestApp::attach(first.addr)
        .request_driver("r", north_of(RIDER, 50.0))
        .await;
    let id = id_of(&ride);
    first.kill();
    // Nothing runs: let the deadline (and the dead instance's lease) pass.
    let deadline = chrono::DateTime::parse_from_rfc3339(ride["expiresAt"].as_str().expect("date"))
        .expect("date")
        .to_utc();
    let wait = (deadline - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(600)).await;
    assert_eq!(
        redis
            .cmd::<String>(&["HGET", &format!("{{tracking}}:ride:{id}"), "status"])
            .await,
        "SEARCHING",
        "nobody expired it while no instance ran"
    );

    let started = Instant::now();
    let second = ServiceProcess::start(&args);
    let client = TestApp::attach(second.addr);
    let expired = within(
        Duration::from_secs(3),
        "the overdue ride to expire after start",
        client.ride_reaches(&id, "EXPIRED"),
    )
    .await;
    assert!(expired["driver"].is_null());
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A SIGKILLed instance's searching ride is adopted by a live one within
/// about the lease, not eventually.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_ride_is_adopted_within_about_the_lease() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let args = [
        "--redis-url",
        url.as_str(),
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
    ];
    let doomed = ServiceProcess::start(&args);
    let survivor = ServiceProcess::start(&args);
    let survivor_client = TestApp::attach(survivor.addr);
    let id = id_of(
        &TestApp::attach(doomed.addr)
            .request_driver("r", RIDER)
            .await,
    );
    let mut sub = survivor_client.watch_ride(Protocol::TransportWs, &id).await;
    sub.expect_status("SEARCHING").await;

    let killed = Instant::now();
    doomed.kill();
    // A driver stands at the pickup; only the adopter's search can take it
    // (the interval is a minute, and the wake-up reached no task).
    survivor_client.update_location("d", DRIVER).await;
    let found = within(
        Duration::from_secs(3),
        "adoption within the 1 s lease plus a renewal",
        sub.expect_status("DRIVER_FOUND"),
    )
    .await;
    assert_eq!(found["driver"]["id"], "d");
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(3), "adopted after {took:?}");
}

/// SIGTERM while a request waits on Redis: the request is answered, then the
/// process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight() {
    let redis = Arc::new(RedisServer::start().await);
    let url = redis.url();
    let mut service = ServiceProcess::start(&["--redis-url", url.as_str()]);
    let client = TestApp::attach(service.addr);
    client.update_location("d", DRIVER).await;

    // Writes wait while Redis is paused: the next update is held in flight.
    let _: () = redis.cmd(&["CLIENT", "PAUSE", "1500", "WRITE"]).await;
    let in_flight = {
        let client = Client::new(client.addr, None);
        tokio::spawn(async move {
            client
                .gql(
                    "mutation { updateLocation(driverId: \"d\", lat: -33.4405, lng: -70.6301) { id status } }",
                    json!({}),
                )
                .await
        })
    };
    eventually("the update to wait on Redis", || async {
        let info: String = redis.cmd(&["INFO", "clients"]).await;
        info.lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|n| *n >= 1)
    })
    .await;
    service.terminate();
    let answer = within(PATIENCE, "the in-flight request's answer", in_flight)
        .await
        .expect("request task");
    assert_eq!(
        answer["data"]["updateLocation"]["status"], "AVAILABLE",
        "{answer}"
    );
    let status = service
        .wait(PATIENCE)
        .expect("the service to exit after SIGTERM");
    assert!(status.success(), "exit status {status}");
}
