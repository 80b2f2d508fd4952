//! Faults of instances: one SIGKILLed (its rides adopted within about the
//! lease and finished), one stopped (its rides handed over at once), none
//! running past a ride's deadline, SIGTERM with a request in flight, and
//! one whose clock is off taking no shared decision.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{
    eventually, id_of,
    instances::{two_instances, Deployment},
    north_of, within, Client, Protocol, ServiceProcess, StoreKind, DRIVER, PATIENCE, RIDER,
};

/// SIGKILL an instance while its rides search: a restarted instance adopts
/// them and finishes each (matched, expired or cancelled), none forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_rides_are_adopted_and_finished() {
    let deployment = Deployment::start(&[
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
        "--request-timeout",
        "6s",
    ])
    .await;
    let (first, client) = deployment.instance();
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
    let (_second, client) = deployment.instance();
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

/// A SIGKILLed instance's searching ride is adopted by a live one within
/// about the lease, not eventually.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_ride_is_adopted_within_about_the_lease() {
    let deployment =
        Deployment::start(&["--instance-lease", "1s", "--search-interval", "60s"]).await;
    let (doomed, doomed_client) = deployment.instance();
    let (_survivor, survivor_client) = deployment.instance();
    let id = id_of(&doomed_client.request_driver("r", RIDER).await);
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

/// An instance that shuts down cleanly hands its rides over at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_hands_its_rides_over() {
    let tweak = |c: &mut tracking::Config| c.instance_lease = Duration::from_secs(30);
    let (leaving, staying) = two_instances(StoreKind::Redis, tweak).await;
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

/// A ride whose deadline passed while no instance was running expires as
/// soon as an instance starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ride_overdue_while_no_instance_ran_expires_when_one_starts() {
    let deployment = Deployment::start(&[
        "--instance-lease",
        "500ms",
        "--search-interval",
        "60s",
        "--request-timeout",
        "1s",
    ])
    .await;
    let (first, client) = deployment.instance();
    let ride = client.request_driver("r", north_of(RIDER, 50.0)).await;
    let id = id_of(&ride);
    first.kill();
    // Nothing runs: let the deadline (and the dead instance's lease) pass.
    let deadline = chrono::DateTime::parse_from_rfc3339(ride["expiresAt"].as_str().expect("date"))
        .expect("date")
        .to_utc();
    let wait = (deadline - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(600)).await;
    assert_eq!(
        deployment
            .redis
            .cmd::<String>(&["HGET", &format!("{{tracking}}:ride:{id}"), "status"])
            .await,
        "SEARCHING",
        "nobody expired it while no instance ran"
    );

    let started = Instant::now();
    let (_second, client) = deployment.instance();
    let expired = within(
        Duration::from_secs(3),
        "the overdue ride to expire after start",
        client.ride_reaches(&id, "EXPIRED"),
    )
    .await;
    assert!(expired["driver"].is_null());
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// SIGTERM while a request waits on Redis: the request is answered, then the
/// process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight() {
    let deployment = Deployment::start(&[]).await;
    let redis = &deployment.redis;
    let (mut service, client) = deployment.instance();
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

        let deployment = Deployment::start(&[
            "--instance-lease",
            "2s",
            "--search-interval",
            "1s",
            "--request-timeout",
            "4s",
        ])
        .await;
        let (_honest, honest_client) = deployment.instance();
        let theirs = id_of(
            &honest_client
                .request_driver("a", north_of(RIDER, 50.0))
                .await,
        );
        let skewed = ServiceProcess::start_with_clock_offset(skew, &deployment.flags());
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
