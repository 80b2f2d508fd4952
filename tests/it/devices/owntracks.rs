//! `POST /owntracks`: the documented message with HTTP Basic or a bearer
//! token, other message types, bad credentials, a malformed body, a late
//! message, the update rate.

use serde_json::json;
use tracking::auth::Role;

use super::setup::*;
use crate::common::{header, tokens::token, StoreKind, TestApp};

pub async fn owntracks_basic_records_the_documented_location(store: StoreKind) {
    let app = device_app(store, "ot-basic").await;
    let (status, _, body) = owntracks(
        &app,
        Some(&basic("alice", PASSWORD)),
        &location(48.85833, 2.29513, now() - 5),
    )
    .await;
    assert_eq!((status, body), (200, json!([])));
    assert_eq!(position(&app, "d-alice").await, Some((48.85833, 2.29513)));
}

pub async fn owntracks_bearer_reports_for_its_driver_and_not_another(store: StoreKind) {
    let app = device_app(store, "ot-bearer").await;
    let bearer = format!("Bearer {}", token("d-bob", Role::Driver));
    let headers = [
        ("content-type", "application/json"),
        ("authorization", bearer.as_str()),
    ];
    let body = location(52.37, 4.89, now() - 5);
    let (status, _, answer) = app
        .raw(reqwest::Method::POST, "/owntracks", &headers, Some(&body))
        .await;
    assert_eq!((status, answer), (200, json!([])), "the token's own driver");
    assert_eq!(position(&app, "d-bob").await, Some((52.37, 4.89)));
    // The app's user name names another driver: the token may not.
    let (status, _, answer) = owntracks(&app, Some(&bearer), &body).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(position(&app, "alice").await, None);
}

pub async fn owntracks_other_types_answer_an_empty_array_and_store_nothing(store: StoreKind) {
    let app = device_app(store, "ot-types").await;
    let auth = basic("alice", PASSWORD);
    for message in [
        json!({"_type": "lwt", "tst": now()}),
        json!({"_type": "transition", "event": "enter", "lat": 48.87, "lon": 2.34,
               "tid": "j1", "tst": now(), "wtst": 1610104395, "desc": "coffee"}),
        json!({"_type": "waypoint", "desc": "Paris", "lat": "48.858330",
               "lon": "2.295130", "rad": "50", "tst": "1385997757"}),
    ] {
        let (status, _, body) = owntracks(&app, Some(&auth), &message.to_string()).await;
        assert_eq!((status, body), (200, json!([])), "{message}");
    }
    assert_eq!(position(&app, "d-alice").await, None);
}

pub async fn owntracks_bad_credentials_are_refused_and_store_nothing(store: StoreKind) {
    let app = device_app(store, "ot-creds").await;
    let body = location(48.85833, 2.29513, now() - 5);
    for auth in [
        None,
        Some(basic("alice", "wrong")),
        Some(basic("mallory", PASSWORD)),
        Some("Basic !!!".to_owned()),
        Some("Bearer not-a-token".to_owned()),
    ] {
        let (status, headers, answer) = owntracks(&app, auth.as_deref(), &body).await;
        assert_eq!(status, 401, "{auth:?}: {answer}");
        assert_eq!(
            header(&headers, "www-authenticate"),
            "Basic realm=\"tracking\""
        );
        assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    assert_eq!(position(&app, "d-alice").await, None);
}

pub async fn owntracks_malformed_body_is_400(store: StoreKind) {
    let app = device_app(store, "ot-malformed").await;
    let auth = basic("alice", PASSWORD);
    for body in [
        "not json".to_owned(),
        json!({"_type": "location", "lon": 2.29, "tst": now()}).to_string(),
        json!({"_type": "location", "lat": 95.0, "lon": 2.29, "tst": now()}).to_string(),
        json!({"_type": "location", "lat": 48.8, "lon": 2.29}).to_string(),
    ] {
        let (status, _, answer) = owntracks(&app, Some(&auth), &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    let big = format!(
        "{{\"_type\":\"location\",\"pad\":\"{}\"}}",
        "x".repeat(20_000)
    );
    let (status, _, _) = owntracks(&app, Some(&auth), &big).await;
    assert_eq!(status, 413, "a body over the cap");
    assert_eq!(position(&app, "d-alice").await, None);
}

pub async fn owntracks_late_message_is_stale_and_never_moves_the_driver_back(store: StoreKind) {
    let app = device_app(store, "ot-late").await;
    let auth = basic("alice", PASSWORD);
    let (status, _, _) = owntracks(&app, Some(&auth), &location(48.8, 2.3, now() - 5)).await;
    assert_eq!(status, 200);
    // Sent after, taken before: the app's queue delivered it late.
    let (status, _, body) = owntracks(&app, Some(&auth), &location(48.9, 2.4, now() - 30)).await;
    assert_eq!(
        (status, body),
        (200, json!([])),
        "stale is not an error to the app"
    );
    assert_eq!(position(&app, "d-alice").await, Some((48.8, 2.3)));
    // A message dated in the future is refused as updateLocations refuses it.
    let (status, _, _) = owntracks(&app, Some(&auth), &location(48.9, 2.4, now() + 3600)).await;
    assert_eq!(status, 400);
    assert_eq!(position(&app, "d-alice").await, Some((48.8, 2.3)));
}

pub async fn device_reports_are_held_to_the_update_rate(store: StoreKind) {
    let file = standard_devices("ot-rate");
    let app = TestApp::spawn(store, |c| {
        c.devices.device_credentials = Some(file);
        c.max_update_rate = 1.0;
    })
    .await;
    let auth = basic("alice", PASSWORD);
    let (first, _, _) = owntracks(&app, Some(&auth), &location(48.8, 2.3, now() - 5)).await;
    let (second, _, answer) = owntracks(&app, Some(&auth), &location(48.81, 2.3, now() - 4)).await;
    assert_eq!((first, second), (200, 429), "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "TOO_MANY_REQUESTS"
    );
    // The same limit as updateLocation: one bucket per driver, whatever the path.
    let query = "mutation { updateLocation(driverId: \"d-alice\", lat: 48.82, lng: 2.3) { id } }";
    assert_eq!(app.error_code(query, json!({})).await, "TOO_MANY_REQUESTS");
}

pub async fn a_jump_the_speed_rule_refuses_is_acknowledged_and_not_applied(store: StoreKind) {
    let file = standard_devices("ot-jump");
    let app = TestApp::spawn(store, |c| {
        c.devices.device_credentials = Some(file);
        c.max_speed_kmh = 200.0;
    })
    .await;
    let auth = basic("alice", PASSWORD);
    let (status, _, _) = owntracks(&app, Some(&auth), &location(48.8, 2.3, now() - 10)).await;
    assert_eq!(status, 200);
    // 100 km in a second: a GPS glitch. Refused as updateLocations refuses
    // it, but acknowledged, so the app does not send it again forever.
    let (status, _, body) = owntracks(&app, Some(&auth), &location(49.7, 2.3, now() - 9)).await;
    assert_eq!((status, body), (200, json!([])));
    assert_eq!(position(&app, "d-alice").await, Some((48.8, 2.3)));
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("tracking_device_reports_total{")
                && l.contains("outcome=\"refused\"")
                && l.contains("protocol=\"owntracks\"")),
        "the refusal is counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owntracks_store_down_is_503_and_the_resend_is_taken() {
    let app = device_app(StoreKind::Redis, "ot-down").await;
    let redis = app.redis.clone().expect("a Redis of its own");
    let auth = basic("alice", PASSWORD);
    let message = location(48.8, 2.3, now() - 5);
    redis.stop();
    let (status, _, answer) = owntracks(&app, Some(&auth), &message).await;
    assert_eq!(status, 503, "{answer}");
    redis.start_again().await;
    // The app keeps the message and sends it again: taken once Redis is back.
    crate::common::eventually("the resent message to be taken", || async {
        let (status, _, _) = owntracks(&app, Some(&auth), &message).await;
        (status == 200).then_some(())
    })
    .await;
    assert_eq!(position(&app, "d-alice").await, Some((48.8, 2.3)));
}
