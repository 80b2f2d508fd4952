//! Faults of Redis: dead (every operation fails fast, then heals), hung
//! (operations give up after the command timeout), restarted empty (no id
//! reused, no other rider's ride shown), paused while a ride is created,
//! and the event subscription cut (changes still reach subscribers, live
//! maps catch up).

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::common::{
    error_code_of, eventually, id_of, instances::Deployment, metric, north_of, within, ws::Event,
    Client, Protocol, StoreKind, TestApp, DRIVER, PATIENCE, RIDER,
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

/// Redis restarts with nothing (no persistence): the watcher of a lost
/// ride gets NOT_FOUND and its stream ends, never another rider's ride; new
/// rides get ids never seen before; the lost rides' search tasks end; and
/// the service logs a few lines, not thousands a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_empty_never_reuses_an_id_nor_shows_another_ride() {
    let deployment =
        Deployment::start(&["--instance-lease", "1s", "--search-interval", "1s"]).await;
    let redis = &deployment.redis;
    let (service, client) = deployment.instance();
    let mut before = HashSet::new();
    for i in 0..3 {
        before.insert(id_of(
            &client
                .request_driver(&format!("early-{i}"), north_of(RIDER, 50.0))
                .await,
        ));
    }
    let watched = before.iter().next().cloned().expect("a ride");
    let mut sub = client.watch_ride(Protocol::TransportWs, &watched).await;
    sub.expect_status("SEARCHING").await;

    redis.stop();
    redis.start_again().await;
    eventually("the service to be ready again", || async {
        (client.get("/ready").await.0 == 200).then_some(())
    })
    .await;

    // The watcher learns its ride is gone, and nothing else.
    assert_eq!(sub.expect_error_code().await, "NOT_FOUND");
    assert_eq!(sub.next_event().await, Event::Complete);

    // New rides, some for other riders: never an id handed out before.
    for i in 0..3 {
        let id = id_of(
            &client
                .request_driver(&format!("late-{i}"), north_of(RIDER, 50.0))
                .await,
        );
        assert!(!before.contains(&id), "id {id} handed out twice");
    }
    // The lost rides' tasks ended: only the three new rides search.
    eventually("the lost rides' search tasks to end", || async {
        (metric(&client.metrics().await, "tracking_rides_searching") == Some(3.0)).then_some(())
    })
    .await;
    // And the service is quiet about it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lines = service
        .log
        .lock()
        .expect("log")
        .lines_within(Duration::from_secs(3));
    assert!(
        lines <= 10,
        "{lines} log lines in 3 s:\n{}",
        service.log.lock().expect("log").text()
    );
}

/// Redis paused for writes while a ride is requested: the caller gets
/// UNAVAILABLE, but the ride is created once Redis resumes, owned by an
/// instance that runs no task for it. The owner notices at its next lease
/// renewal and searches: the ride is matched well within its deadline. A
/// retry with the same idempotency key finds that ride instead of making a
/// second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ride_created_while_its_request_timed_out_is_searched_and_not_duplicated() {
    let app = TestApp::spawn(StoreKind::Redis, |c| {
        c.request_timeout = Duration::from_secs(30);
        c.instance_lease = Duration::from_secs(2);
    })
    .await;
    let redis = app.redis.clone().expect("redis");
    app.update_location("waiting", DRIVER).await;
    let request = "mutation($k: String) { requestDriver(riderId: \"r\", lat: -33.44262, lng: -70.63054, idempotencyKey: $k) { id status } }";

    let _: () = redis.cmd(&["CLIENT", "PAUSE", "3000", "WRITE"]).await;
    let refused = app.gql(request, json!({"k": "attempt-1"})).await;
    assert_eq!(error_code_of(&refused), "UNAVAILABLE", "{refused}");

    // The retry, once Redis writes again, finds the ride the first made.
    let retried = eventually("the retry to be answered", || async {
        let body = app.gql(request, json!({"k": "attempt-1"})).await;
        body.get("errors").is_none().then_some(body)
    })
    .await;
    let id = id_of(&retried["data"]["requestDriver"]);
    assert_eq!(app.stored_rides().await, 1, "one ride, not two");
    let started = Instant::now();
    let found = app.ride_reaches(&id, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "waiting");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "searched within a renewal or two: {:?}",
        started.elapsed()
    );
}

/// The event subscription is cut again and again while drivers report: a
/// live map still ends up with every driver (from events, or from the
/// resync snapshot that follows each reconnect), and no ride is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_maps_catch_up_after_the_event_bridge_drops() {
    let app = TestApp::spawn(StoreKind::Redis, |_| {}).await;
    let redis = app.redis.clone().expect("redis");
    let ride = id_of(&app.request_driver("rider", north_of(RIDER, 3.0)).await);
    let mut watcher = app.watch_ride(Protocol::TransportWs, &ride).await;
    watcher.expect_status("SEARCHING").await;
    let mut map = app
        .subscribe(
            Protocol::TransportWs,
            "subscription { fleet(lat: -33.44262, lng: -70.63054, radiusKm: 20) { kind resync drivers { id } rides { id status } } }",
            json!({}),
        )
        .await;
    let mut known: HashSet<String> = HashSet::new();
    let mut resyncs = 0;
    let mut ride_events = 0;
    let mut apply = |event: &Value, known: &mut HashSet<String>| {
        let fleet = &event["data"]["fleet"];
        let ids = fleet["drivers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["id"].as_str().map(str::to_owned));
        match fleet["kind"].as_str() {
            Some("SNAPSHOT") => {
                *known = ids.collect();
                if fleet["resync"] == true {
                    resyncs += 1;
                }
            }
            Some("DRIVER") => known.extend(ids),
            Some("RIDE") => ride_events += 1,
            _ => panic!("unexpected {event}"),
        }
    };
    for round in 0..5 {
        let _: i64 = redis.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).await;
        app.update_location(&format!("d{round}"), north_of(RIDER, 1.0 + round as f64))
            .await;
    }
    let wanted: HashSet<String> = (0..5).map(|r| format!("d{r}")).collect();
    within(PATIENCE, "the map to know every driver", async {
        while !wanted.is_subset(&known) {
            match map.next_event().await {
                Event::Next(event) => apply(&event, &mut known),
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert!(resyncs >= 1, "a resync snapshot followed a reconnect");
    assert_eq!(ride_events, 0, "the unchanged ride was not sent again");
    // The watcher saw nothing either; its next event is the real change.
    app.cancel(&ride).await;
    watcher.expect_status("CANCELLED").await;
}
