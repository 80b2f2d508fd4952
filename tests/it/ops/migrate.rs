//! Upgrading a Redis fleet from the previous key layout: a Redis filled by
//! the previous version's own scripts (kept as fixtures), refused by this
//! version with one line, converted by `tracking migrate`, then served
//! with every driver and ride where it was.

use std::time::Duration;

use crate::common::{
    north_of, process::tracking_command, within, RedisServer, ServiceProcess, TestApp, DRIVER,
    RIDER,
};

/// The previous version's scripts, each with its shared prelude.
fn v1_script(name: &str) -> redis::Script {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/layout-v1");
    let common = std::fs::read_to_string(format!("{dir}/common.lua")).expect("common.lua");
    let own = std::fs::read_to_string(format!("{dir}/{name}.lua")).expect("a v1 script");
    redis::Script::new(&format!("{common}\n{own}"))
}

/// Runs a v1 script with the v1 calling convention (see the fixture's
/// `common.lua`) under `{tracking}`.
async fn v1(redis: &RedisServer, name: &str, subject: &str, own: &[&str]) -> Vec<String> {
    let t = "{tracking}";
    let script = v1_script(name);
    let mut invocation = script.prepare_invoke();
    for key in [
        "drivers:available",
        "drivers:seen",
        "rides:searching",
        "rides:pickups",
        "rides:ids",
        "instances",
        "rides:active",
        "drivers:watched",
    ] {
        invocation.key(format!("{t}:{key}"));
    }
    invocation.key(subject).key(format!("{t}:drivers:offline"));
    for arg in [
        format!("{t}:driver:"),
        format!("{t}:ride:"),
        format!("{t}:owned:"),
        format!("{t}:events"),
        format!("{t}:wake"),
        format!("{t}:drivers"),
        "0".into(),
        "60000".into(),
        "5".into(),
        "86400000".into(),
        "86400000".into(),
        format!("{t}:rider:"),
        format!("{t}:idem:"),
        format!("{t}:declined:"),
    ] {
        invocation.arg(arg);
    }
    for arg in own {
        invocation.arg(*arg);
    }
    let mut conn = redis.connection().await;
    invocation
        .invoke_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("v1 {name}: {e}"))
}

fn field(reply: &[String], name: &str) -> String {
    reply
        .iter()
        .position(|f| f == name)
        .and_then(|i| reply.get(i + 1))
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {reply:?}"))
}

/// A ride the previous version created for `rider` at `pickup` (owned by
/// `old-instance`, searching for ten minutes); its id.
async fn v1_ride(redis: &RedisServer, rider: &str, pickup: (f64, f64)) -> String {
    let (lng, lat) = (pickup.1.to_string(), pickup.0.to_string());
    let reply = v1(
        redis,
        "create_ride",
        "",
        &[
            rider,
            &lng,
            &lat,
            "600000",
            "old-instance",
            "v1epoch",
            "",
            "0",
            "",
            "",
        ],
    )
    .await;
    field(&reply, "id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_the_previous_layout_is_refused_then_migrated_and_served() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let at = |p: (f64, f64)| (p.1.to_string(), p.0.to_string());
    // The previous version: an instance (whose lease has run out: it was
    // stopped), three drivers, a matched ride, a searching one.
    v1(&redis, "adopt", "", &["old-instance", "1", "0"]).await;
    for (id, place) in [
        ("near", DRIVER),
        ("far", north_of(RIDER, 30.0)),
        ("gone", north_of(RIDER, 2.0)),
    ] {
        let (lng, lat) = at(place);
        v1(
            &redis,
            "update_location",
            &format!("{{tracking}}:driver:{id}"),
            &[id, &lng, &lat, "0", "0.25"],
        )
        .await;
    }
    v1(&redis, "go_offline", "{tracking}:driver:gone", &["gone"]).await;
    let matched = v1_ride(&redis, "ana", RIDER).await;
    let tried = v1(
        &redis,
        "try_match",
        &format!("{{tracking}}:ride:{matched}"),
        &[&matched, "5", "old-instance", "0", "3"],
    )
    .await;
    assert_eq!(tried[0], "MATCHED", "{tried:?}");
    let far = north_of(RIDER, 60.0);
    let searching = v1_ride(&redis, "bob", far).await;

    // This version refuses it, saying what to do, in one line.
    let (ok, stderr) = ServiceProcess::run_to_exit(&["--redis-url", &url]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("tracking migrate"), "{stderr}");

    let migrate = || {
        let output = tracking_command()
            .args(["--redis-url", &url, "migrate"])
            .output()
            .expect("run tracking migrate");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let said = migrate();
    assert!(said.contains("3 drivers converted"), "{said}");
    assert!(!said.contains("password"), "{said}");

    // Served as it was: the old instance is gone, so its searching ride
    // is adopted within the lease and searched again.
    let service = ServiceProcess::start(&[
        "--redis-url",
        &url,
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
        "--max-speed-kmh",
        "0",
    ]);
    let app = TestApp::attach(service.addr);
    let near = app.driver("near").await;
    assert_eq!(near["status"], "ASSIGNED", "{near}");
    assert_eq!(near["rideId"], matched.as_str());
    assert_eq!(near["location"]["lat"], DRIVER.0);
    assert_eq!(app.driver("far").await["status"], "AVAILABLE");
    assert_eq!(app.driver("gone").await["status"], "OFFLINE");
    assert_eq!(app.ride(&matched).await["status"], "DRIVER_FOUND");
    let done = app.complete(&matched).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    assert_eq!(app.driver("near").await["status"], "AVAILABLE");
    let mut sub = app
        .watch_ride(crate::common::Protocol::TransportWs, &searching)
        .await;
    sub.expect_status("SEARCHING").await;
    app.update_location("far", north_of(far, 0.5)).await;
    let found = within(
        Duration::from_secs(5),
        "the adopted ride to be matched",
        sub.expect_status("DRIVER_FOUND"),
    )
    .await;
    assert_eq!(found["driver"]["id"], "far");
    assert!(app
        .nearby(RIDER, 1.0, 5)
        .await
        .iter()
        .any(|(id, _)| id == "near"));

    // Migrating again changes nothing.
    drop(service);
    assert!(migrate().contains("0 drivers converted"));
}
