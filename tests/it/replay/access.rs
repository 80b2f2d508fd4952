//! Who may read the log (dispatchers only), what bad input gets, the log of
//! each service area, and dead letters sent back with `tracking events
//! redeliver`.

use std::time::Duration;

use serde_json::json;
use tracking::{
    auth::Role,
    domain::AreaId,
    store::{EventLog, SinkId},
};

use super::setup::{events, ids, log_on, page, EVENTS, FOLLOW};
use crate::{
    auth::setup::fleet,
    common::{
        areas::{areas_file, two_cities},
        error_code_of, id_of,
        process::tracking_command,
        tokens::{token, token_for, SECRET},
        within, Protocol, StoreKind, TestApp, DRIVER, PATIENCE,
    },
};

const REDELIVER: &str =
    "mutation($area: ID!, $sink: String) { redeliverEvents(area: $area, sink: $sink) }";

/// Riders and drivers are refused the log, its stream and redelivery; a
/// dispatcher reads every rider's and driver's events of the area.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_dispatchers_read_the_log() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        log_on(c);
        c.jwt_secret = Some(SECRET.into());
    })
    .await;
    let ride = fleet(&app).await;
    for (who, expected) in [
        ("none", "UNAUTHENTICATED"),
        ("rider:r1", "FORBIDDEN"),
        ("driver:d1", "FORBIDDEN"),
        ("dispatcher:ops", "ok"),
    ] {
        let token = token_for(who);
        for (doc, vars) in [(EVENTS, json!({})), (REDELIVER, json!({"area": "default"}))] {
            let (_, body) = app.gql_as(token.as_deref(), doc, vars).await;
            let got = match body.get("errors") {
                Some(_) => error_code_of(&body),
                None => "ok".to_owned(),
            };
            assert_eq!(got, expected, "{who}: {body}");
        }
        if let Some(token) = &token {
            let mut sub = app
                .as_user(token)
                .subscribe(Protocol::TransportWs, FOLLOW, json!({}))
                .await;
            match sub.outcome().await {
                Ok(_) => assert_eq!(expected, "ok", "{who} followed the log"),
                Err(code) => assert_eq!(code, expected, "{who}'s subscription"),
            }
        }
    }

    let ops = app.as_user(&token("ops", Role::Dispatcher));
    let all = events(&page(&ops, json!({})).await);
    let drivers: Vec<_> = all
        .iter()
        .filter(|e| e["type"] == "DRIVER_AVAILABLE")
        .map(|e| e["driverId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(drivers, ["d1", "d2", "d3"], "every driver's: {all:?}");
    assert!(
        all.iter()
            .any(|e| e["type"] == "DRIVER_FOUND" && e["rideId"] == ride.as_str()),
        "every rider's: {all:?}"
    );
}

/// Each bad argument gets its code, and no page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_code() {
    let app = TestApp::spawn(StoreKind::Memory, log_on).await;
    app.update_location("d1", DRIVER).await;
    let real = ids(&page(&app, json!({})).await)[0].clone();
    for (vars, code) in [
        (json!({"after": "not an id"}), "BAD_USER_INPUT"),
        (json!({"after": "default:ab12:12"}), "BAD_USER_INPUT"),
        (json!({"after": ""}), "BAD_USER_INPUT"),
        (json!({"first": 0}), "BAD_USER_INPUT"),
        (json!({"first": -1}), "BAD_USER_INPUT"),
        (json!({"first": 1001}), "BAD_USER_INPUT"),
        (json!({"types": []}), "BAD_USER_INPUT"),
        (json!({"types": ["RIDE_TELEPORTED"]}), "BAD_USER_INPUT"),
        (json!({"area": "Not An Area"}), "BAD_USER_INPUT"),
        (json!({"area": "nowhere"}), "NOT_FOUND"),
        (json!({"area": "nowhere", "after": real}), "BAD_USER_INPUT"),
        (json!({"after": "nowhere:ab12:1-0"}), "NOT_FOUND"),
    ] {
        assert_eq!(app.error_code(EVENTS, vars.clone()).await, code, "{vars}");
        if vars.get("first").is_none() {
            let mut sub = app
                .subscribe(Protocol::TransportWs, FOLLOW, vars.clone())
                .await;
            assert_eq!(sub.expect_error_code().await, code, "subscription {vars}");
        }
    }
    for (vars, code) in [
        (
            json!({"area": "default", "sink": "Not A Sink!"}),
            "BAD_USER_INPUT",
        ),
        (json!({"area": "default", "sink": ""}), "BAD_USER_INPUT"),
        (json!({"area": "nowhere"}), "NOT_FOUND"),
        (json!({"area": "Bad Area"}), "BAD_USER_INPUT"),
    ] {
        assert_eq!(
            app.error_code(REDELIVER, vars.clone()).await,
            code,
            "{vars}"
        );
    }
    // The bounds themselves are fine.
    for first in [1, 1000] {
        let got = page(&app, json!({"first": first})).await;
        assert_eq!(ids(&got), std::slice::from_ref(&real));
    }
}

/// With service areas each has its own log: a page names its area (or
/// takes that of `after`), and an `after` of another area is refused.
pub(super) async fn each_area_has_its_own_log(store: StoreKind) {
    let path = areas_file(&format!("replay-{store:?}"), &two_cities());
    let app = TestApp::spawn(store, |c| {
        log_on(c);
        c.areas = Some(path);
    })
    .await;
    app.update_location("west", DRIVER).await;
    app.update_location("easty", (-33.44, -70.4)).await;
    let scl = events(&page(&app, json!({"area": "scl"})).await);
    let east = events(&page(&app, json!({"area": "east"})).await);
    assert_eq!(scl.len(), 1, "{scl:?}");
    assert_eq!(scl[0]["driverId"], "west");
    assert!(id_of(&scl[0]).starts_with("scl:"));
    assert_eq!(east.len(), 1, "{east:?}");
    assert_eq!(east[0]["driverId"], "easty");
    assert!(id_of(&east[0]).starts_with("east:"));

    // The area of `after`, when none is named.
    app.update_location("west2", DRIVER).await;
    let on = events(&page(&app, json!({"after": id_of(&scl[0])})).await);
    assert_eq!(on.len(), 1, "{on:?}");
    assert_eq!(on[0]["driverId"], "west2");
    assert_eq!(
        app.error_code(EVENTS, json!({"area": "east", "after": id_of(&scl[0])}))
            .await,
        "BAD_USER_INPUT",
        "an after of another area"
    );
    assert_eq!(
        app.error_code(EVENTS, json!({})).await,
        "BAD_USER_INPUT",
        "with areas and no default, a page says which"
    );
}

/// Dead letters of a sink go back to its redelivery queue through the
/// command, which says how many.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redeliver_command_sends_dead_letters_back() {
    let app = TestApp::spawn(StoreKind::Memory, log_on).await;
    for d in ["d1", "d2", "d3"] {
        app.update_location(d, DRIVER).await;
    }
    let store = app.memory.clone().expect("a memory store");
    let area = AreaId::parse("default").expect("an area id");
    let sink = SinkId::parse("webhook-test").expect("a sink id");
    // The sink gives up on the three events: they become dead letters.
    let lease = store
        .delivery_lease(&area, &sink, "test", Duration::from_secs(60))
        .await
        .expect("a lease");
    assert!(matches!(lease, tracking::store::DeliveryLease::Held { .. }));
    let read = store.read_events(&area, None, 10).await.expect("the log");
    let last = read.events.last().expect("events").id.clone();
    let acked = store
        .acknowledge(&area, &sink, "test", &last, &read.events)
        .await
        .expect("acknowledged");
    assert!(acked);
    assert_eq!(store.dead_letter_count(&area).await.expect("count"), 3);

    let run = |args: Vec<String>| async move {
        let mut command = tracking_command();
        command.args(&args);
        let out = within(
            PATIENCE,
            "tracking events redeliver",
            tokio::task::spawn_blocking(move || command.output()),
        )
        .await
        .expect("joined")
        .expect("ran");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = app.url("/graphql");
    let base = |extra: &[&str]| {
        let mut args: Vec<String> = ["events", "redeliver", "--url", &url, "--area", "default"]
            .into_iter()
            .map(String::from)
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let (ok, _, stderr) = run(base(&["--sink", "Not A Sink"])).await;
    assert!(!ok);
    assert!(stderr.contains("BAD_USER_INPUT"), "{stderr}");
    let (ok, stdout, stderr) = run(base(&["--sink", "webhook-other"])).await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("0 dead letters"), "{stdout}");

    let (ok, stdout, stderr) = run(base(&["--sink", "webhook-test"])).await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("3 dead letters"), "{stdout}");
    let queued = store
        .redeliveries(&area, &sink, 10)
        .await
        .expect("the queue");
    assert_eq!(
        queued.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        read.events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        "the three, oldest first"
    );
    assert_eq!(store.dead_letter_count(&area).await.expect("count"), 0);
}
