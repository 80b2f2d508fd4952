//! After a fault, the service is correct again, not merely alive: no ride id
//! is handed out twice, no watcher is shown another rider's ride, no search
//! task outlives its ride or spins, rides created while their request timed
//! out still end on time, live maps catch up with what they missed, and
//! instances with wrong clocks take no shared decision on them.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::common::{
    error_code_of, eventually, id_of, north_of, within, ws::Event, Client, Protocol, RedisServer,
    ServiceProcess, StoreKind, TestApp, DRIVER, PATIENCE, RIDER,
};

fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// Redis restarts with nothing (no persistence): the watcher of a lost
/// ride gets NOT_FOUND and its stream ends, never another rider's ride; new
/// rides get ids never seen before; the lost rides' search tasks end; and
/// the service logs a few lines, not thousands a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_empty_never_reuses_an_id_nor_shows_another_ride() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let service = ServiceProcess::start(&[
        "--redis-url",
        &url,
        "--instance-lease",
        "1s",
        "--search-interval",
        "1s",
    ]);
    let client = Client::new(service.addr, None);
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
        (gauge(&client.metrics().await, "tracking_rides_searching") == Some(3.0)).then_some(())
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
    let redis = Arc::new(RedisServer::start().await);
    let app = TestApp::spawn_with(Some(redis.clone()), |c| {
        c.request_timeout = Duration::from_secs(30);
        c.instance_lease = Duration::from_secs(2);
    })
    .await;
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

/// A second instance whose clock runs 30 s ahead, or 30 s behind, takes no
/// shared decision on it: it takes over none of the first instance's rides,
/// and a ride it creates gets its deadline from Redis's clock and expires
/// there, on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_with_a_skewed_clock_steals_nothing_and_expires_on_time() {
    for (skew, seconds) in [("+30s", 30i64), ("-30s", -30)] {
        // First, that the skew takes: a token minted under it is dated so.
        let minted = crate::common::process::skewed_command(skew)
            .args([
                "token",
                "--role",
                "rider",
                "--sub",
                "a",
                "--jwt-secret",
                "0123456789abcdef",
            ])
            .output()
            .expect("tracking token");
        let token = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
        let claims = token.split('.').nth(1).expect("a JWT");
        let iat = decode_claims(claims)["iat"].as_i64().expect("iat");
        let off = iat - chrono::Utc::now().timestamp();
        assert!(
            (off - seconds).abs() <= 2,
            "{skew}: the clock is off by {off} s"
        );

        let redis = RedisServer::start().await;
        let url = redis.url();
        let common = [
            "--redis-url",
            url.as_str(),
            "--instance-lease",
            "2s",
            "--search-interval",
            "1s",
            "--request-timeout",
            "4s",
        ];
        let honest = ServiceProcess::start(&common);
        let honest_client = Client::new(honest.addr, None);
        let theirs = id_of(
            &honest_client
                .request_driver("a", north_of(RIDER, 50.0))
                .await,
        );
        let skewed = ServiceProcess::start_with_clock_offset(skew, &common);
        let skewed_client = Client::new(skewed.addr, None);
        let sent = chrono::Utc::now();
        let ours = skewed_client
            .request_driver("b", north_of(RIDER, 60.0))
            .await;
        let created =
            chrono::DateTime::parse_from_rfc3339(ours["createdAt"].as_str().expect("date"))
                .expect("date")
                .to_utc();
        let expires =
            chrono::DateTime::parse_from_rfc3339(ours["expiresAt"].as_str().expect("date"))
                .expect("date")
                .to_utc();
        assert!(
            (created - sent).num_milliseconds().abs() < 1000,
            "{skew}: createdAt {created} is Redis's time, not the instance's (sent {sent})"
        );
        assert_eq!((expires - created).num_milliseconds(), 4000, "{skew}");
        let expired = skewed_client.ride_reaches(&id_of(&ours), "EXPIRED").await;
        let late = (chrono::Utc::now() - expires).num_milliseconds();
        assert!(
            (0..1500).contains(&late),
            "{skew}: expired {late} ms after expiresAt: {expired}"
        );
        // The honest instance still owns its ride: it expired on time too,
        // and the skewed one never started a task for it.
        honest_client.ride_reaches(&theirs, "EXPIRED").await;
        let log = skewed.log.lock().expect("log").text();
        assert!(
            !log.contains("started search tasks"),
            "{skew}: the skewed instance took rides over:\n{log}"
        );
    }
}

/// The JSON of a JWT's claims part (base64url, no padding).
fn decode_claims(part: &str) -> Value {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in part.bytes() {
        let Some(v) = alphabet.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    serde_json::from_slice(&bytes).expect("JSON claims")
}
