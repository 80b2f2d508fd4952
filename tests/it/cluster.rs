//! Several instances on one Redis, Redis going away and coming back, and the
//! shape of what the service keeps in Redis.

use std::{collections::HashSet, sync::Arc, time::Duration};

use futures_util::future::join_all;
use serde_json::json;

use crate::common::{
    eventually, id_of, north_of, Protocol, RedisServer, ServiceProcess, TestApp, DRIVER, RIDER,
};

async fn pair(tweak: impl Fn(&mut tracking::Config) + Copy) -> (TestApp, TestApp) {
    let redis = Arc::new(RedisServer::start().await);
    let a = TestApp::spawn_with(Some(redis.clone()), tweak).await;
    let b = TestApp::spawn_with(Some(redis), tweak).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_one_instance_follows_a_ride_searched_on_another() {
    let (a, b) = pair(|_| {}).await;
    let id = id_of(&a.request_driver("rider-1", RIDER).await);
    let mut on_b = b.watch_ride(Protocol::TransportWs, &id).await;
    on_b.expect_status("SEARCHING").await;

    // The driver reports to B; the wake-up crosses Redis to A's search task
    // (the search interval is a minute, so only a wake-up explains a match).
    b.update_location("1", DRIVER).await;
    let found = on_b.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");

    // A cancel on A reaches B's subscriber.
    let cancelled = a.cancel(&id).await;
    assert_eq!(cancelled["data"]["cancelRequest"]["status"], "CANCELLED");
    on_b.expect_status("CANCELLED").await;
    on_b.expect_complete().await;
    assert_eq!(b.driver("1").await["status"], "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_assign_a_driver_twice() {
    const DRIVERS: usize = 30;
    const RIDES: usize = 300;
    let (a, b) = pair(|c| c.request_timeout = Duration::from_secs(3)).await;
    let apps = [&a, &b];
    join_all((0..DRIVERS).map(|i| async move {
        apps[i % 2]
            .update_location(&format!("d{i}"), north_of(RIDER, i as f64 * 0.05))
            .await
    }))
    .await;
    let requested = join_all((0..RIDES).map(|i| async move {
        let app = apps[i % 2];
        let id = id_of(&app.request_driver(&format!("r{i}"), RIDER).await);
        let mut cancelled_while_searching = false;
        if i % 5 == 0 {
            // Cancel through the other instance, racing the matches.
            let body = apps[(i + 1) % 2].cancel(&id).await;
            let ride = &body["data"]["cancelRequest"];
            assert_eq!(ride["status"], "CANCELLED", "cancel of {id}: {body}");
            cancelled_while_searching = ride["driver"].is_null();
        }
        (id, cancelled_while_searching)
    }))
    .await;

    let mut assigned = HashSet::new();
    let mut stayed_driverless = 0;
    for (id, cancelled_while_searching) in &requested {
        if *cancelled_while_searching {
            let ride = a.ride(id).await;
            assert_eq!(ride["status"], "CANCELLED", "{ride}");
            assert!(
                ride["driver"].is_null(),
                "a ride cancelled while searching got a driver: {ride}"
            );
            stayed_driverless += 1;
        }
        let ride = eventually(&format!("ride {id} to stop searching"), || async {
            let ride = a.ride(id).await;
            (ride["status"] != "SEARCHING").then_some(ride)
        })
        .await;
        match ride["status"].as_str() {
            Some("DRIVER_FOUND") => {
                let driver = ride["driver"]["id"].as_str().expect("driver").to_owned();
                assert!(
                    assigned.insert(driver.clone()),
                    "driver {driver} assigned twice"
                );
            }
            Some("CANCELLED") | Some("EXPIRED") => {}
            other => panic!("unexpected final status {other:?}: {ride}"),
        }
        // Both instances read the same, single outcome.
        assert_eq!(b.ride(id).await["status"], ride["status"]);
    }
    assert_eq!(assigned.len(), DRIVERS, "every driver matched exactly once");
    assert!(
        stayed_driverless > 0,
        "no cancel raced a search: the check above proved nothing"
    );
}

/// SIGKILL an instance while its rides search: a restarted instance adopts
/// them and finishes each (matched, expired or cancelled), none forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_rides_are_adopted_and_finished() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let args = [
        "--redis-url",
        url.as_str(),
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
        "--request-timeout",
        "6s",
    ];
    let first = ServiceProcess::start(&args);
    let client = TestApp::attach(first.addr);
    let to_match = id_of(&client.request_driver("r-match", RIDER).await);
    let to_expire = id_of(
        &client
            .request_driver("r-expire", north_of(RIDER, 50.0))
            .await,
    );
    let to_cancel = id_of(
        &client
            .request_driver("r-cancel", north_of(RIDER, 80.0))
            .await,
    );
    assert_eq!(client.ride(&to_match).await["status"], "SEARCHING");
    first.kill();

    // The same deployment comes back (a new process, as after a crash).
    let second = ServiceProcess::start(&args);
    let client = TestApp::attach(second.addr);
    let mut watch_match = client.watch_ride(Protocol::TransportWs, &to_match).await;
    watch_match.expect_status("SEARCHING").await;
    let mut watch_expire = client.watch_ride(Protocol::LegacyWs, &to_expire).await;
    watch_expire.expect_status("SEARCHING").await;

    client.update_location("late-driver", DRIVER).await;
    let found = watch_match.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "late-driver");
    let cancelled = client.cancel(&to_cancel).await;
    assert_eq!(
        cancelled["data"]["cancelRequest"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let expired = watch_expire.expect_status("EXPIRED").await;
    let deadline =
        chrono::DateTime::parse_from_rfc3339(expired["expiresAt"].as_str().expect("expiresAt"))
            .expect("date");
    let late = (chrono::Utc::now() - deadline.to_utc()).num_milliseconds();
    assert!(
        (0..3000).contains(&late),
        "expired {late} ms after its deadline"
    );
    watch_expire.expect_complete().await;
}

/// An instance that shuts down cleanly hands its rides over at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_hands_its_rides_over() {
    let redis = Arc::new(RedisServer::start().await);
    let tweak = |c: &mut tracking::Config| c.instance_lease = Duration::from_secs(30);
    let leaving = TestApp::spawn_with(Some(redis.clone()), tweak).await;
    let staying = TestApp::spawn_with(Some(redis), tweak).await;
    let id = id_of(&leaving.request_driver("rider-1", RIDER).await);
    leaving.stop().await;
    // With a 30 s lease only the hand-over explains an adoption within the
    // suite's patience.
    let mut sub = staying.watch_ride(Protocol::TransportWs, &id).await;
    sub.expect_status("SEARCHING").await;
    staying.update_location("1", DRIVER).await;
    let found = sub.expect_status("DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "1");
}

/// Everything lives under the configured prefix, inside one hash tag, and
/// two fleets with different prefixes share a Redis without seeing each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_stay_under_the_prefix() {
    let redis = Arc::new(RedisServer::start().await);
    let fleet = TestApp::spawn_with(Some(redis.clone()), |c| {
        c.redis_prefix = "fleet7".into();
        c.request_timeout = Duration::from_millis(300);
    })
    .await;
    let other = TestApp::spawn_with(Some(redis.clone()), |c| c.redis_prefix = "other".into()).await;
    let mut conn = redis.connection().await;
    let _: () = redis::cmd("SET")
        .arg("unrelated")
        .arg("keep me")
        .query_async(&mut conn)
        .await
        .expect("SET");

    fleet.update_location("1", DRIVER).await;
    fleet.update_location("2", north_of(DRIVER, 1.0)).await;
    let matched = id_of(&fleet.request_driver("r1", RIDER).await);
    fleet.ride_reaches(&matched, "DRIVER_FOUND").await;
    let expiring = id_of(&fleet.request_driver("r2", north_of(RIDER, 60.0)).await);
    fleet.ride_reaches(&expiring, "EXPIRED").await;
    fleet.complete(&matched).await;
    fleet.go_offline("2").await;
    // The seed's flaw: cancel with a key's name.
    for name in ["unrelated", "{fleet7}:drivers:available", "0"] {
        let body = fleet.cancel(name).await;
        assert!(body["errors"].is_array(), "{body}");
    }

    assert!(
        other.nearby(RIDER, 50.0, 10).await.is_empty(),
        "another prefix is another fleet"
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    for key in &keys {
        assert!(
            key.starts_with("{fleet7}:") || key.starts_with("{other}:") || key == "unrelated",
            "stray key {key}"
        );
    }
    assert!(keys.iter().any(|k| k == "{fleet7}:drivers:available"));
    let kept: String = redis::cmd("GET")
        .arg("unrelated")
        .query_async(&mut conn)
        .await
        .expect("GET");
    assert_eq!(kept, "keep me");
    let kind: String = redis::cmd("TYPE")
        .arg("{fleet7}:drivers:available")
        .query_async(&mut conn)
        .await
        .expect("TYPE");
    assert_eq!(kind, "zset", "the drivers set was not overwritten");
}

#[tokio::test]
async fn a_bad_or_unreachable_redis_stops_start_up_with_one_clear_line() {
    // A socket path nothing listens on (nobody else can be there).
    let dir = std::env::temp_dir().join(format!("tracking-no-redis-{}", std::process::id()));
    let unreachable = format!("unix://{}/redis.sock", dir.display());
    for url in ["not-a-url", "http://example/", unreachable.as_str()] {
        let (ok, stderr) = ServiceProcess::run_to_exit(&["--redis-url", url]);
        assert!(!ok, "{url}: must exit non-zero");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{url}: one line, got {stderr:?}"
        );
        assert!(stderr.contains("Redis"), "{url}: {stderr}");
        assert!(!stderr.contains("panicked"), "{url}: {stderr}");
    }
}

/// `fleet` and `driverLocation` on one instance follow what happens on
/// another: driver events cross Redis like ride events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_maps_and_riders_see_what_other_instances_do() {
    let (a, b) = pair(|_| {}).await;
    let mut map = b
        .subscribe(
            Protocol::TransportWs,
            "subscription { fleet(lat: -33.44262, lng: -70.63054, radiusKm: 10) { kind drivers { id status } rides { id status } } }",
            json!({}),
        )
        .await;
    let first = map.next_event().await;
    assert!(
        matches!(&first, crate::common::ws::Event::Next(p) if p["data"]["fleet"]["kind"] == "SNAPSHOT"),
        "{first:?}"
    );

    // A driver reports to A: B's map shows it.
    a.update_location("far-away", DRIVER).await;
    match map.next_event().await {
        crate::common::ws::Event::Next(p) => {
            assert_eq!(p["data"]["fleet"]["kind"], "DRIVER", "{p}");
            assert_eq!(p["data"]["fleet"]["drivers"][0]["id"], "far-away");
        }
        other => panic!("expected a driver event, got {other:?}"),
    }

    // A rider on B follows the car that A's search task assigned.
    let ride = id_of(&a.request_driver("rider", RIDER).await);
    a.ride_reaches(&ride, "DRIVER_FOUND").await;
    let mut follow = b
        .subscribe(
            Protocol::LegacyWs,
            "subscription($id: ID!) { driverLocation(rideId: $id) { id location { lat } } }",
            json!({"id": ride}),
        )
        .await;
    let now = follow.next_event().await;
    assert!(
        matches!(&now, crate::common::ws::Event::Next(p) if p["data"]["driverLocation"]["id"] == "far-away"),
        "{now:?}"
    );
    a.update_location("far-away", north_of(DRIVER, 0.05)).await;
    match follow.next_event().await {
        crate::common::ws::Event::Next(p) => {
            let lat = p["data"]["driverLocation"]["location"]["lat"]
                .as_f64()
                .expect("lat");
            assert!((lat - north_of(DRIVER, 0.05).0).abs() < 1e-9, "{p}");
        }
        other => panic!("expected the move, got {other:?}"),
    }
}
